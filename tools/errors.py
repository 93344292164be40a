"""How a lesson stops when something is wrong: one line on stderr, never a traceback.

There is one error type and one handler:

- `fail(message)`: the user's input is wrong (a flag, a file, a folder): exit status 2.
- `fail_run(message)`: the run itself failed (a loss that became nan, a stop rule never met):
  exit status 1, and no success summary is ever printed after it.

Both raise `LessonError`, which carries the message and the exit status; a helper never leaves
the process itself, so it can be reused and tested. The handler that `tools.cli.start_lesson`
installs (`install_error_hook`) turns a LessonError into `<script>: error: <message>` (or
`failed:`), Ctrl-C into "interrupted" with status 130 (128 + SIGINT, as a shell expects), and an
OSError that nothing caught (a full disk, a folder it may not write) into one line naming the path.
In a notebook kernel the same LessonError shows as that one line under the cell.
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


class LessonError(Exception):
    """A stop the user reads as one line: bad input (status 2) or a run that failed (status 1)."""

    def __init__(self, message: str, status: int = USAGE_EXIT_CODE):
        super().__init__(message)
        self.message = message
        self.status = status

    def line(self) -> str:
        kind = "failed" if self.status == RUN_FAILED_EXIT_CODE else "error"
        return f"{program_name()}: {kind}: {self.message}"

    def _render_traceback_(self) -> list:  # IPython shows this instead of a traceback
        return [self.line()]


def fail(message: str) -> NoReturn:
    """Stop with `<script>: error: <message>` on stderr and exit status 2 (raises LessonError)."""
    raise LessonError(message, USAGE_EXIT_CODE)


def fail_run(message: str) -> NoReturn:
    """Stop with `<script>: failed: <message>` on stderr and exit status 1 (raises LessonError)."""
    raise LessonError(message, RUN_FAILED_EXIT_CODE)


def os_error_line(error: OSError) -> str:
    """'<path>: <cause>' for an OSError, e.g. 'data/rmb_split: No space left on device'."""
    cause = error.strerror or str(error)
    paths = [str(path) for path in (error.filename, error.filename2) if path is not None]
    return f"{' -> '.join(paths)}: {cause}" if paths else cause


def describe(error: BaseException) -> "tuple[str, int] | None":
    """(the one line, the exit status) for an exception the user should see as one line, else None
    (a bug: then the whole traceback helps)."""
    if isinstance(error, LessonError):
        return error.line(), error.status
    if isinstance(error, KeyboardInterrupt):
        return f"{program_name()}: interrupted", INTERRUPTED_EXIT_CODE
    if isinstance(error, OSError):
        return f"{program_name()}: error: {os_error_line(error)}", USAGE_EXIT_CODE
    return None


def exit_now(line: str, status: int) -> NoReturn:
    """Print `line` on stderr and end the process at once with `status`, skipping Python's teardown.

    The one place that leaves the process: the hook below, and a distributed run whose peer is lost
    (its main thread may be stuck inside a collective that no exception can interrupt).
    """
    print(line, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _error_hook(error_type, error, traceback) -> None:
    described = describe(error)
    if described is None:
        sys.__excepthook__(error_type, error, traceback)
        return
    # An exception hook cannot choose the exit status, so leave here; every `finally` (the cleanup
    # of half-made folders among them) has already run on the exception's way up.
    exit_now(*described)


def install_error_hook() -> None:
    sys.excepthook = _error_hook
