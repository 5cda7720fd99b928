"""The CLI's stderr: plain lines off a terminal, a bar on one, and the logger restored after."""

import io
import logging

from synth_pipeline.console import LOGGER, progress_to_stderr
from synth_pipeline.progress import Rounds

log = logging.getLogger("synth_pipeline.test_console")


def _three_rounds():
    rounds = Rounds(log, "aim", every=0.0)
    for k in (1, 2, 3):
        rounds.line("AIM round %d: measured age × sex", k, done=k / 3, final=k == 3)


def test_off_a_terminal_progress_is_plain_lines_and_the_logger_is_restored():
    stream, logger = io.StringIO(), logging.getLogger(LOGGER)
    before = (logger.level, logger.propagate, list(logger.handlers))
    with progress_to_stderr(logging.INFO, stream=stream):
        log.info("training aim")
        _three_rounds()
        log.debug("not shown at INFO")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[0].endswith("synth_pipeline.test_console: training aim")
    assert all("AIM round" in line for line in lines[1:]) and "\r" not in stream.getvalue()
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_on_a_terminal_progress_is_a_bar_and_the_final_round_stays_as_a_line():
    stream = io.StringIO()
    with progress_to_stderr(logging.INFO, stream=stream, bar=True):
        _three_rounds()
        log.info("sampled 300 synthetic rows")
    text = stream.getvalue()
    assert "\r" in text and "100%" in text  # the bar, redrawn in place
    lines = [line for line in text.replace("\r", "\n").splitlines() if "INFO" in line]
    assert "AIM round 3: measured age × sex (" in lines[-2] and lines[-1].endswith(": sampled 300 synthetic rows")


def test_quiet_shows_warnings_only():
    stream = io.StringIO()
    with progress_to_stderr(logging.WARNING, stream=stream, bar=False):
        _three_rounds()
        log.warning("the ledger is locked; retrying")
    assert stream.getvalue().count("\n") == 1 and "retrying" in stream.getvalue()
