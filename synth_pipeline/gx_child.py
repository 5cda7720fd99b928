"""The raw-data gate's Great Expectations run in a child process (``expectations._gx_outcomes``).

Reads the pickled (frame, suite name, suite as (class name, kwargs) pairs) from stdin and writes ("ok", outcomes) or
("error", exception) as a pickle to stdout. Reads private values, NOT DP: only expectation names,
column names and counts go back (``ExpectationOutcome``); anything GX prints goes to stderr,
which the parent never shows.
"""

from __future__ import annotations

import os
import pickle
import sys


def main() -> int:
    answer = sys.stdout.buffer
    sys.stdout = sys.stderr  # a library's print must not corrupt the answer
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from synth_pipeline.expectations import _run_gx

    frame, suite_name, suite = pickle.loads(sys.stdin.buffer.read())  # from our own parent
    try:
        result = ("ok", _run_gx(frame, suite_name, suite))
    except Exception as exc:  # the parent raises it as the inline run would
        result = ("error", exc)
    try:
        data = pickle.dumps(result)
    except Exception:  # an exception that does not pickle: its type only (a message may quote a value)
        data = pickle.dumps(("error", RuntimeError(f"Great Expectations failed ({type(result[1]).__name__})")))
    answer.write(data)
    answer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
