"""User-facing errors about an extract: one clear paragraph, never a traceback."""

import errno
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

from gistlm.rule_log import console


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
        print(message, file=console())
        sys.exit(1)
    except OSError as error:
        if not _disk_full(error):
            if console() is sys.stderr:
                _write_log(log_path, traceback.format_exc().rstrip())
            raise
        where = f" while writing {error.filename}" if error.filename else ""
        message = (
            f"gistlm: no space left on the disk{where} ({error.strerror}). Free some space (or point "
            "results/ at a larger disk) and run the same command again; the files of this step were "
            "not finished and Snakemake removes them."
        )
        _write_log(log_path, message)
        print(message, file=console())
        sys.exit(1)
    except Exception:
        if console() is sys.stderr:  # else Python writes the traceback to the rule log itself
            _write_log(log_path, traceback.format_exc().rstrip())
        raise


def _disk_full(error: OSError) -> bool:
    # pyarrow's write errors carry the errno in their text only
    return error.errno in {errno.ENOSPC, errno.EDQUOT} or "No space left on device" in str(error)


def _write_log(log_path: str | Path | None, text: str) -> None:
    if not log_path:
        return
    path = Path(log_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sys.stderr.flush()  # the rule log may be stderr: its earlier lines come first
        with open(path, "a", encoding="utf-8") as log:
            log.write(text + "\n")
    except OSError:
        # a full disk leaves the log empty or cut short: better none, the message is on stderr
        path.unlink(missing_ok=True)
