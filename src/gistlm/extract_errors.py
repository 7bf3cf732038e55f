"""User-facing errors about an extract: one clear paragraph, never a traceback."""

import sys
import traceback
from contextlib import contextmanager
from pathlib import Path


class ExtractError(Exception):
    """A mistake in the user's data or configuration that stops the run."""


@contextmanager
def report_extract_errors(log_path: str | Path | None = None):
    """Turn an ExtractError into a one-paragraph message on stderr (and the log) and exit 1.

    Any other exception is a bug: its traceback goes to the log too (on a cluster, stderr
    lands in the scheduler's log, which the rule's log would otherwise not point to).
    """
    try:
        yield
    except ExtractError as error:
        message = f"gistlm: {error}"
        _write_log(log_path, message)
        print(message, file=sys.stderr)
        sys.exit(1)
    except Exception:
        _write_log(log_path, traceback.format_exc().rstrip())
        raise


def _write_log(log_path: str | Path | None, text: str) -> None:
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        Path(log_path).write_text(text + "\n", encoding="utf-8")
