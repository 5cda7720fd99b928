"""The CLI's stderr: the ``synth_pipeline`` log lines, with the progress records of the long
steps (``synth_pipeline.progress``) drawn as a bar when stderr is a terminal and written as
plain, rate-limited lines otherwise (CI, files, pipes).

Shows only what the records hold: stage names, public schema names, DP facts and timing
(``synth_pipeline.progress`` states what a line may hold).
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from typing import IO, Iterator

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOGGER = "synth_pipeline"
MIN_BAR_COLUMNS = 60  # a narrower terminal (or one that reports no size) gets plain lines


class Console(logging.Handler):
    """Plain lines, or one bar per task that is running (``bar``: stderr is a terminal)."""

    def __init__(self, stream: IO[str], *, bar: bool):
        super().__init__()
        self.stream, self.use_bar = stream, bar
        self.setFormatter(logging.Formatter(FORMAT))
        self._bar, self._task = None, None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            progress = getattr(record, "progress", None)
            if self.use_bar and isinstance(progress, dict):
                self._draw(record, progress)
            else:
                self._write(self.format(record))
        except Exception:  # a console must never break a run
            self.handleError(record)

    def _write(self, line: str) -> None:
        if self._bar is not None:
            from tqdm import tqdm

            tqdm.write(line, file=self.stream)  # above the bar, which is redrawn below it
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _draw(self, record: logging.LogRecord, progress: dict) -> None:
        from tqdm import tqdm

        if self._bar is None or self._task != progress["task"]:
            self.close_bar()
            self._task = progress["task"]
            self._bar = tqdm(total=100, file=self.stream, desc=self._task, leave=False, dynamic_ncols=True,
                             bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed} {postfix}")
        self._bar.n = round(100 * progress["done"], 1)
        width = max(20, _columns(self.stream) - 45)  # room for the task, the share, the bar and the time
        message = record.getMessage()
        self._bar.set_postfix_str(message if len(message) <= width else message[:width - 1] + "…", refresh=True)
        if progress.get("final"):  # the loop's last line stays on screen
            self.close_bar()
            self._write(self.format(record))

    def close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._task = None, None

    def close(self) -> None:
        self.close_bar()
        super().close()


def _columns(stream: IO[str]) -> int:
    """The width of the terminal behind ``stream``; 0 when it is none (a file, a pipe, CI)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else 0
    except (AttributeError, OSError, ValueError):
        return 0


@contextmanager
def progress_to_stderr(level: int, *, stream: IO[str] | None = None, bar: bool | None = None) -> Iterator[Console]:
    """Route the ``synth_pipeline`` logger to stderr for one command, then restore it.

    The logger does not propagate meanwhile: the root logger's handler would print each line
    again (inside a Dagster run, re-formatted by the handler that captures it for the run log)."""
    stream = stream or sys.stderr
    handler = Console(stream, bar=_columns(stream) >= MIN_BAR_COLUMNS if bar is None else bar)
    handler.setLevel(level)
    logger = logging.getLogger(LOGGER)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        handler.close()
