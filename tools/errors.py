"""How a lesson stops when something is wrong: one line on stderr, never a traceback.

- `fail(message)`: the user's input is wrong (a flag, a file, a folder): exit status 2.
- `fail_run(message)`: the run itself failed (a loss that became nan, a stop rule never met):
  exit status 1, and no success summary is ever printed after it.
- Ctrl-C prints "interrupted" and exits with 130 (128 + SIGINT), as a shell expects; an OSError that
  no lesson caught (a full disk, a path too long, a folder it may not write) is one line naming the
  path and the cause, exit status 2. `install_error_hook()` sets both up; scripts call it through
  `tools.cli.start_lesson`.
"""
import os
import sys
from pathlib import Path
from typing import NoReturn

USAGE_EXIT_CODE = 2  # the status argparse uses for bad command lines; we use it for all bad input
RUN_FAILED_EXIT_CODE = 1
INTERRUPTED_EXIT_CODE = 130


def program_name() -> str:
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"


def fail(message: str) -> NoReturn:
    """Print `<script>: error: <message>` on stderr and exit with status 2.

    Raises SystemExit, so a debugger or a notebook sees a clean stop rather than a crash, and every
    `finally` on the way out still runs.
    """
    print(f"{program_name()}: error: {message}", file=sys.stderr)
    raise SystemExit(USAGE_EXIT_CODE)


def fail_run(message: str) -> NoReturn:
    """Print `<script>: failed: <message>` on stderr and exit with status 1."""
    print(f"{program_name()}: failed: {message}", file=sys.stderr)
    raise SystemExit(RUN_FAILED_EXIT_CODE)


def os_error_line(error: OSError) -> str:
    """'<path>: <cause>' for an OSError, e.g. 'data/rmb_split: No space left on device'."""
    cause = error.strerror or str(error)
    paths = [str(path) for path in (error.filename, error.filename2) if path is not None]
    return f"{' -> '.join(paths)}: {cause}" if paths else cause


def _error_hook(error_type, error, traceback) -> None:
    if issubclass(error_type, KeyboardInterrupt):
        line, status = "interrupted", INTERRUPTED_EXIT_CODE
    elif issubclass(error_type, OSError):
        line, status = f"error: {os_error_line(error)}", USAGE_EXIT_CODE
    else:
        sys.__excepthook__(error_type, error, traceback)  # a bug: the whole traceback helps
        return
    print(f"{program_name()}: {line}", file=sys.stderr)
    # An exception hook cannot choose the exit status, so leave here; every `finally` (the cleanup
    # of half-made folders among them) has already run on the exception's way up.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def install_error_hook() -> None:
    sys.excepthook = _error_hook
