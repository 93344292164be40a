"""Shared test machinery: the repo on sys.path, a headless backend, and the one way to run a lesson.

    run = run_lesson(SCRIPT, "--quick")                      # a subprocess, as a user starts it
    run = run_lesson(SCRIPT, "--lr", "10", in_process=True)  # the same code, run inside this process

Both return a LessonRun: returncode, stdout, stderr, out_dir, metrics (its metrics.json) and, for
an in-process run, `variables` (the lesson's globals when it stopped: what claim tests read).
The same call with the same flags runs once per test process, so the tests of a file share it.
pytest-xdist (pytest.ini: `-n 2 --dist loadfile`) runs the test files in two processes, each file
in one of them: both cores stay busy without any scheduling here.
"""
import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ["MPLBACKEND"] = "Agg"  # before anything imports pyplot
# Started in the background by a non-interactive shell (`pytest &`, some CI runners), this process
# ignores SIGINT, and so would every lesson it starts: the tests that press Ctrl-C on a lesson need
# it to hear SIGINT, as it does in a learner's terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

LESSON_SCRIPTS = sorted(REPO_ROOT.glob("lesson_*/[0-9][0-9]_*.py"))
LESSON_TIMEOUT_S = 300
TIMING_KEYS = {"seconds", "images_per_second", "train_seconds"}  # wall-clock values: differ run to run
TMP_ROOT = Path(tempfile.mkdtemp(prefix="lesson-runs-"))  # this test process's runs; removed at the end
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
               console_encoding: "str | None" = None) -> LessonRun:
    """`python -W error::DeprecationWarning -W error::FutureWarning script --out-dir D --device cpu
    flags` from WORK_DIR (--device cpu unless the flags name one: the claims are the CPU's).

    in_process: run the lesson's code in this process instead (no 2–4 s of imports), with its
    argv, and keep its globals; console_encoding (cp1252, gbk) makes its stdout a strict console
    of that encoding. A given out_dir runs anew; otherwise one run per (script, flags).
    """
    flags = tuple(map(str, flags))
    key = (Path(script), flags, in_process, console_encoding)
    shared = out_dir is None  # a run any test of this process may reuse
    if shared and key in _RUNS:
        return _RUNS[key]
    if shared:
        out_dir = Path(tempfile.mkdtemp(prefix=f"{Path(script).stem}-", dir=TMP_ROOT))
    argv = [str(script), "--out-dir", str(out_dir), *([] if "--device" in flags else ["--device", "cpu"]), *flags]
    if in_process:
        run = _run_here(Path(script), flags, Path(out_dir), argv, console_encoding)
    else:
        completed = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning",
                                    *argv], cwd=WORK_DIR, env=LESSON_ENV, capture_output=True, text=True,
                                   encoding="utf-8", errors="replace", timeout=LESSON_TIMEOUT_S,
                                   stdin=subprocess.DEVNULL)
        run = LessonRun(Path(script), flags, Path(out_dir), completed.returncode, completed.stdout, completed.stderr)
    if shared:
        _RUNS[key] = run
    return run


def _run_here(script: Path, flags: tuple, out_dir: Path, argv: list, console_encoding) -> LessonRun:
    """Execute the lesson's source in a fresh namespace, as `python script argv` would, and put back
    what it changes in this process: argv, sys.path, the exception hook and SIGTERM handler, open
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
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    namespace = {"__name__": "__main__", "__file__": str(script), "__builtins__": __builtins__}
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
        torch.use_deterministic_algorithms(saved[5], warn_only=saved[6])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[7:]
        plt.close("all")
    stdout.flush()
    printed = console.getvalue().decode(console_encoding) if console_encoding else stdout.getvalue()
    return LessonRun(script, flags, out_dir, returncode, printed, stderr.getvalue(), namespace)


def _snapshot() -> dict:
    """{path: (size, mtime)} of everything under the repo's outputs/ and data/."""
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns)
            for folder in ("outputs", "data") for path in (REPO_ROOT / folder).rglob("*")}


REPO_SNAPSHOT = _snapshot()  # before any test runs


def pytest_sessionfinish(session, exitstatus):
    """Tests write only into temporary folders: the repo's outputs/ and data/ must be as they were.
    Checked once, by the controlling process, after every test process has finished."""
    import shutil
    shutil.rmtree(TMP_ROOT, ignore_errors=True)
    if hasattr(session.config, "workerinput"):
        return
    after = _snapshot()
    changed = sorted(set(after) ^ set(REPO_SNAPSHOT) | {p for p in after if REPO_SNAPSHOT.get(p, after[p]) != after[p]})
    if changed:
        print(f"\nthe tests changed the repo's outputs/ or data/: {changed[:10]}", file=sys.stderr)
        session.exitstatus = 1


# --- TRANSITION: the old interface, until every test file uses run_lesson (then delete) ----------
import pytest  # noqa: E402


def plan_runs(*requests) -> None:
    pass


def run_in_process(script, *flags, out_dir, console_encoding=None):
    return run_lesson(script, *flags, in_process=True, out_dir=out_dir, console_encoding=console_encoding)


class _OldRunner:
    tmp_root, work_dir, env = TMP_ROOT, WORK_DIR, LESSON_ENV

    def resolve(self, request):
        return tuple(request(self) if callable(request) else request)

    def run(self, script, *flags):
        return run_lesson(script, *flags)

    def run_many(self, requests):
        return [run_lesson(*self.resolve(request)) for request in requests]


@pytest.fixture(scope="session")
def lesson_runner():
    return _OldRunner()


@pytest.fixture(scope="session")
def quick_runs():
    class Quick:
        def __getitem__(self, script):
            return run_lesson(script, "--quick")
    return Quick()
