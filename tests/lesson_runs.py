"""How a test runs a lesson: `run_lesson`, the one way (imported through conftest).

    run = run_lesson(SCRIPT, "--quick")                      # a subprocess, as a user starts it
    run = run_lesson(SCRIPT, "--lr", "10", in_process=True)  # the same code, run inside this process

Both return a LessonRun: returncode, stdout, stderr, out_dir, metrics (its metrics.json) and, for
an in-process run, `variables` (the lesson's globals when it stopped: what claim tests read).
The same call with the same flags runs once per test session: pytest-xdist (pytest.ini: `-n 4
--dist loadfile`) runs the test files in four processes, each file whole in one of them, and a
subprocess run is shared between them through a folder and a file lock (the first to ask runs it,
the others wait and read it). That is all the scheduling there is.
"""
import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LESSON_SCRIPTS = sorted(REPO_ROOT.glob("lesson_*/[0-9][0-9]_*.py"))
LESSON_TIMEOUT_S = 300
# One folder for the whole session, made by the first process (the controller) and inherited by the
# test processes it starts; each test process works in a subfolder of its own, and the controller
# removes it all at the end.
IS_CONTROLLER = "PYTEST_XDIST_WORKER" not in os.environ
if IS_CONTROLLER:
    os.environ["LESSON_TESTS_ROOT"] = tempfile.mkdtemp(prefix="lesson-runs-")
SESSION_ROOT = Path(os.environ["LESSON_TESTS_ROOT"])
SHARED_RUNS = SESSION_ROOT / "shared"  # subprocess runs any test process may reuse
TMP_ROOT = Path(tempfile.mkdtemp(prefix=os.environ.get("PYTEST_XDIST_WORKER", "main") + "-", dir=SESSION_ROOT))
WORK_DIR = TMP_ROOT / "cwd"  # lessons start here, not in the repo: they must not need its folder
WORK_DIR.mkdir()
DECOYS = TMP_ROOT / "decoys"  # packages called tools and model that must never be imported
for name in ("tools", "model"):
    (DECOYS / name).mkdir(parents=True)
    (DECOYS / name / "__init__.py").write_text(f"raise ImportError('a foreign {name} package was imported')\n")
LESSON_ENV = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(DECOYS), OMP_NUM_THREADS="1",
                  PYTHONHASHSEED="0", PYTHONIOENCODING="utf-8")


def lesson_id(script: Path) -> str:
    return f"{script.parent.name}/{script.stem}"


def lesson_script(folder: str, stem: str) -> Path:
    return REPO_ROOT / folder / f"{stem}.py"


@dataclass
class LessonRun:
    script: Path
    flags: tuple
    out_dir: Path
    returncode: int
    stdout: str
    stderr: str
    variables: dict = field(default_factory=dict, repr=False)  # in-process runs only

    @property
    def metrics(self) -> dict:
        from tools.metrics import read_metrics
        return read_metrics(self.out_dir)

    def explain(self) -> str:
        return (f"{lesson_id(self.script)} {' '.join(self.flags)} exited {self.returncode}\n"
                f"--- stdout (end) ---\n{self.stdout[-3000:]}\n--- stderr (end) ---\n{self.stderr[-3000:]}")


_RUNS: dict = {}  # (script, flags, in_process) -> LessonRun, for runs without a chosen out-dir


def run_lesson(script: Path, *flags, in_process: bool = False, out_dir: "Path | None" = None,
               console_encoding: "str | None" = None, threads: "int | None" = None) -> LessonRun:
    """`python -W error::DeprecationWarning -W error::FutureWarning script --out-dir D --device cpu
    flags` from WORK_DIR (--device cpu unless the flags name one: the claims are the CPU's).

    in_process: run the lesson's code in this process instead (no 2–4 s of imports), with its
    argv, and keep its globals; console_encoding (cp1252, gbk) makes its stdout a strict console
    of that encoding; threads: the intra-op threads of an in-process run (OMP_NUM_THREADS too, which
    start_lesson keeps; else it picks its own count). A given out_dir runs anew; otherwise one run
    per (script, flags, ...).
    """
    flags = tuple(map(str, flags))
    key = (Path(script), flags, in_process, console_encoding, threads)
    shared = out_dir is None  # a run any test of this process may reuse
    if shared and key in _RUNS:
        return _RUNS[key]
    if in_process:
        out_dir = out_dir or Path(tempfile.mkdtemp(prefix=f"{Path(script).stem}-", dir=TMP_ROOT))
        run = _run_here(Path(script), flags, Path(out_dir), _argv(script, flags, out_dir), console_encoding, threads)
    elif shared:
        run = _shared_subprocess_run(Path(script), flags)
    else:
        run = _subprocess_run(Path(script), flags, Path(out_dir))
    if shared:
        _RUNS[key] = run
    return run


def _argv(script: Path, flags: tuple, out_dir: Path) -> list:
    return [str(script), "--out-dir", str(out_dir), *([] if "--device" in flags else ["--device", "cpu"]), *flags]


def _subprocess_run(script: Path, flags: tuple, out_dir: Path) -> LessonRun:
    completed = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning",
                                *_argv(script, flags, out_dir)], cwd=WORK_DIR, env=LESSON_ENV, capture_output=True,
                               text=True, encoding="utf-8", errors="replace", timeout=LESSON_TIMEOUT_S,
                               stdin=subprocess.DEVNULL)
    return LessonRun(script, flags, out_dir, completed.returncode, completed.stdout, completed.stderr)


def _shared_subprocess_run(script: Path, flags: tuple) -> LessonRun:
    """The run in SHARED_RUNS/<stem>-<hash of the flags>: made by the first test process to ask for
    it, under an exclusive lock that the other waits on; then read back from result.json."""
    folder = SHARED_RUNS / f"{script.stem}-{hashlib.sha1(' '.join(flags).encode()).hexdigest()[:10]}"
    folder.mkdir(parents=True, exist_ok=True)
    result = folder / "result.json"
    with open(folder / "lock", "w") as lock:
        with contextlib.suppress(ImportError):  # no fcntl (Windows): each test process runs its own
            import fcntl
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.is_file():
            run = _subprocess_run(script, flags, folder / "out")
            result.write_text(json.dumps([run.returncode, run.stdout, run.stderr]), encoding="utf-8")
    returncode, stdout, stderr = json.loads(result.read_text(encoding="utf-8"))
    return LessonRun(script, flags, folder / "out", returncode, stdout, stderr)


def _run_here(script: Path, flags: tuple, out_dir: Path, argv: list, console_encoding, threads) -> LessonRun:
    """Execute the lesson's source in a fresh namespace, as `python script argv` would, and put back
    what it changes in this process: argv, sys.path, the exception hook and signal handlers, open
    figures, torch's thread count and deterministic mode. A LessonError (or Ctrl-C, or an OSError)
    becomes its one stderr line and exit status, as the lesson's handler would print it; any other
    exception fails the test with its traceback."""
    import matplotlib.pyplot as plt
    import torch

    from tools.errors import describe

    console = io.BytesIO()
    stdout = io.TextIOWrapper(console, encoding=console_encoding) if console_encoding else io.StringIO()
    stderr = io.StringIO()
    saved = (sys.argv, list(sys.path), sys.excepthook, signal.getsignal(signal.SIGTERM), torch.get_num_threads(),
             signal.getsignal(signal.SIGINT),
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    namespace = {"__name__": "__main__", "__file__": str(script), "__builtins__": __builtins__}
    saved_omp = os.environ.get("OMP_NUM_THREADS")
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                exec(compile(script.read_text(encoding="utf-8"), str(script), "exec"), namespace)
                returncode = 0
            except BaseException as error:  # noqa: B902 - the lesson's handler would see it all
                described = describe(error)
                if isinstance(error, SystemExit):  # --help
                    returncode = error.code if isinstance(error.code, int) else int(error.code is not None)
                elif described is None:
                    raise
                else:
                    print(described[0], file=sys.stderr)
                    returncode = described[1]
    finally:
        sys.argv, sys.path[:], sys.excepthook = saved[0], saved[1], saved[2]
        signal.signal(signal.SIGTERM, saved[3])
        torch.set_num_threads(saved[4])
        if saved_omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved_omp
        signal.signal(signal.SIGINT, saved[5])
        torch.use_deterministic_algorithms(saved[6], warn_only=saved[7])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[8:]
        plt.close("all")
    stdout.flush()
    printed = console.getvalue().decode(console_encoding) if console_encoding else stdout.getvalue()
    return LessonRun(script, flags, out_dir, returncode, printed, stderr.getvalue(), namespace)
