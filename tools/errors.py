"""How a lesson stops when something is wrong: one line on stderr, never a traceback.

There is one error type and one handler:

- `fail(message)`: the user's input is wrong (a flag, a file, a folder): exit status 2.
- `fail_run(message)`: the run itself failed (a loss that became nan, a stop rule never met):
  exit status 1, and no success summary is ever printed after it.

Both raise `LessonError`, which carries the message and the exit status; a helper never leaves
the process itself, so it can be reused and tested. The handler (`install_error_hook`, called at
the top of every lesson and again by `tools.cli.start_lesson`) turns a LessonError into
`<script>: error: <message>` (or `failed:`), Ctrl-C or SIGTERM into "interrupted" with status 130
(128 + SIGINT, as a shell expects), and an OSError that nothing caught (a full disk, a folder it may
not write) into one line naming the path. A signal that comes once the script has run to its end
(while the interpreter shuts down) changes nothing: the run is complete and exits as it would have.
In a notebook kernel the handler does nothing: the kernel has its own, and shows a LessonError as
its one line under the cell.
"""
import atexit
import dis
import importlib
import importlib.util
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

USAGE_EXIT_CODE = 2  # the status argparse uses for bad command lines; we use it for all bad input
RUN_FAILED_EXIT_CODE = 1
INTERRUPTED_EXIT_CODE = 130
# What stops a run: Ctrl-C, and `kill` or a job scheduler's SIGTERM (Windows has no SIGTERM to send).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


def program_name() -> str:
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"


def running_in_notebook_kernel() -> bool:
    """True inside a Jupyter/IPython kernel, whose argv (`-f kernel.json`) is not ours to parse."""
    return bool(sys.argv) and Path(sys.argv[0]).name == "ipykernel_launcher.py"


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


def _is_script(frame) -> bool:
    return frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__"


_ONLY_RETURNING = {"POP_TOP", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST", "NOP", "CACHE"}


def _script_still_running(frame) -> bool:
    """True while the script's own top-level code has statements left to run.

    It has not once its last statement (the summary) has run and only the return is left, nor once
    it has returned (the interpreter is shutting down: threads are joined, exit functions run), nor
    while the hook above prints the one line or a first signal is being handled.
    """
    if frame is not None and _is_script(frame):  # a signal between two of its instructions, or in a call
        rest = [instruction.opname for instruction in dis.get_instructions(frame.f_code)
                if instruction.offset >= frame.f_lasti]
        while rest and rest[0].startswith(("PRECALL", "CALL")):  # the call running now (print) may finish
            rest.pop(0)
        return not all(opname in _ONLY_RETURNING for opname in rest)
    while frame is not None:
        if frame.f_code in _DECIDING:  # a second signal while the first is being handled: one is enough
            return False
        if _is_script(frame):
            return True
        frame = frame.f_back
    return False


def _stop_on_signal(signum, frame) -> None:
    if _script_still_running(frame):
        raise KeyboardInterrupt  # SIGTERM too: `finally` blocks run, then the hook says "interrupted"
    # Otherwise nothing is left to stop: the run is complete, or its one line is being printed.


_DECIDING = (_stop_on_signal.__code__, _error_hook.__code__)


def _ignore_stop_signals() -> None:
    """At interpreter exit (the script has ended): from here Python would restore the default
    handlers, and a signal would kill the process by its number, with no word, although the run
    had finished and written everything."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _check_matplotlib_backend() -> None:
    """MPLBACKEND names a backend matplotlib has, before a lesson imports pyplot (which would
    otherwise stop with matplotlib's ValueError or ModuleNotFoundError traceback)."""
    name = os.environ.get("MPLBACKEND", "")
    if not name:
        return
    refusal = (f"MPLBACKEND={name!r} is not a matplotlib backend: unset it, or set MPLBACKEND=Agg "
               "(figures saved, no windows)")
    try:
        importlib.import_module("matplotlib")  # reading MPLBACKEND is part of importing it
    except ValueError as error:  # "Key backend: 'bogus' is not a valid value for backend; ..."
        if "backend" in str(error):
            fail(refusal)
        return  # something else is wrong with matplotlib: the lesson's own import says what
    except Exception:  # noqa: BLE001 - e.g. a NumPy it cannot use: the lesson's import says so
        return
    if name.lower().startswith("module://"):  # matplotlib imports such a module only when it draws
        module = name[len("module://"):]
        try:
            found = bool(module) and importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            fail(f"MPLBACKEND={name!r}: there is no module {module!r} to import: unset it, or set "
                 "MPLBACKEND=Agg (figures saved, no windows)")


_exit_handler_registered = []  # one exit function per process, however often the hook is installed


def install_error_hook() -> None:
    """The one handler, from this line of the lesson on: a LessonError, Ctrl-C, SIGTERM or an
    uncaught OSError becomes one line on stderr and its exit status. Nothing in a notebook kernel.

    Called first in every lesson (before torch and matplotlib are imported, so that a signal during
    the imports is "interrupted" too) and again by start_lesson; calling it again changes nothing.
    """
    if running_in_notebook_kernel():
        return
    sys.excepthook = _error_hook
    for signum in STOP_SIGNALS:
        current = signal.getsignal(signum)
        # Keep a signal that was ignored on purpose (`nohup`, a background job ignores SIGINT) and a
        # handler a debugger put there; replace only Python's defaults.
        if current in (signal.default_int_handler, signal.SIG_DFL, _stop_on_signal):
            signal.signal(signum, _stop_on_signal)
    if not _exit_handler_registered:
        atexit.register(_ignore_stop_signals)  # registered first, so it runs after every other one
        _exit_handler_registered.append(True)
    from tools.versions import check_versions  # here: tools.versions itself raises LessonError
    check_versions()  # a torch built for NumPy 1 beside NumPy 2: one line, before torch is imported
    _check_matplotlib_backend()
