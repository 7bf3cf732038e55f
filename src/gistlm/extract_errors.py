"""User-facing errors about an extract: one clear paragraph, never a traceback."""

import sys
from contextlib import contextmanager
from pathlib import Path


class ExtractError(Exception):
    """A mistake in the user's data or configuration that stops the run."""


@contextmanager
def report_extract_errors(log_path: str | Path | None = None):
    """Turn an ExtractError into a one-paragraph message on stderr (and the log) and exit 1."""
    try:
        yield
    except ExtractError as error:
        message = f"gistlm: {error}"
        if log_path:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            Path(log_path).write_text(message + "\n", encoding="utf-8")
        print(message, file=sys.stderr)
        sys.exit(1)
