"""Shared test machinery: the repo on sys.path, a headless backend, and lessons run as a user would.

Lesson runs are slow (2–4 s of imports each), so they start early, in the background, two at a time,
and only those that the selected tests need: each test module names its runs with `plan_runs(...)`
when it is imported, and a test that uses `quick_runs` asks for the `--quick` run of its lesson.
`python -m pytest tests/test_smoke.py -k 01_linear` starts one lesson process, not the course.
"""
import contextlib
import hashlib
import inspect
import io
import json
import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ["MPLBACKEND"] = "Agg"  # before anything imports pyplot
# Started in the background by a non-interactive shell (`pytest &`, some CI runners), this process
# ignores SIGINT, and so would every lesson it starts: the tests that press Ctrl-C on a lesson need
# it to hear SIGINT, as it does in a learner's terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

def snapshot(root: Path) -> dict:
    """{path: (size, mtime)} of everything under root/outputs and root/data."""
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns)
            for folder in ("outputs", "data") for path in (root / folder).rglob("*")}


REPO_SNAPSHOT = snapshot(REPO_ROOT)  # taken before any test runs
LESSON_SCRIPTS = sorted(REPO_ROOT.glob("lesson_*/[0-9][0-9]_*.py"))
LESSON_TIMEOUT_S = 300
PARALLEL_LESSONS = 2  # the CI machine has two cores
# Keys whose values are wall-clock measurements, hence differ between two identical runs.
TIMING_KEYS = {"seconds", "images_per_second", "train_seconds"}
QUICK = ("--quick",)


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

    @property
    def metrics(self) -> dict:
        from tools.metrics import read_metrics
        return read_metrics(self.out_dir)

    def explain(self) -> str:
        return (f"{lesson_id(self.script)} {' '.join(self.flags)} exited {self.returncode}\n"
                f"--- stdout (end) ---\n{self.stdout[-3000:]}\n--- stderr (end) ---\n{self.stderr[-3000:]}")


def _decoy_packages(root: Path) -> Path:
    """Packages called `tools` and `model` that must never be imported instead of the repo's."""
    for name in ("tools", "model"):
        package = root / name
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(
            f"raise ImportError('a foreign package called {name} was imported instead of the repo one')\n")
    return root


class LessonRunner:
    """Runs lesson scripts as subprocesses, from a temporary working directory, like a user would:
    `python -W error::DeprecationWarning -W error::FutureWarning lesson_x/NN_y.py --out-dir D
    --device cpu flags` (--device cpu unless the flags name a device: the claims are the CPU's).
    Each distinct (script, flags) runs once per session; `submit` starts it in the background.
    """

    def __init__(self, tmp_root: Path):
        self.tmp_root = tmp_root
        self.work_dir = tmp_root / "cwd"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        decoys = _decoy_packages(tmp_root / "decoys")
        self.env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(decoys),
                        OMP_NUM_THREADS="1", PYTHONHASHSEED="0", PYTHONIOENCODING="utf-8")
        self.pool = ThreadPoolExecutor(max_workers=PARALLEL_LESSONS)
        self.futures: dict = {}
        self.seconds: dict = {}  # (lesson, flags) -> wall seconds, for LESSON_RUN_TIMES=1

    def out_dir_for(self, script: Path, flags: tuple) -> Path:
        """A folder of its own for every distinct run: readable, and unique by a hash of the flags."""
        digest = hashlib.sha1("\0".join(flags).encode()).hexdigest()[:10]
        readable = "".join(c if c.isalnum() else "_" for c in "_".join(flags))[:40]
        return self.tmp_root / "outputs" / f"{script.parent.name}_{script.stem}_{readable}_{digest}"

    def command(self, script: Path, flags: tuple, out_dir: Path) -> list:
        device = [] if "--device" in flags else ["--device", "cpu"]
        return [sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning",
                str(script), "--out-dir", str(out_dir), *device, *flags]

    def _run(self, script: Path, flags: tuple) -> LessonRun:
        out_dir = self.out_dir_for(script, flags)
        started = time.perf_counter()
        completed = subprocess.run(self.command(script, flags, out_dir), cwd=self.work_dir, env=self.env,
                                   capture_output=True, text=True, encoding="utf-8", errors="replace",
                                   timeout=LESSON_TIMEOUT_S, stdin=subprocess.DEVNULL)
        self.seconds[(lesson_id(script), flags)] = time.perf_counter() - started
        return LessonRun(script, flags, out_dir, completed.returncode, completed.stdout, completed.stderr)

    def resolve(self, request) -> tuple:
        """A request is a (script, *flags) tuple, or a function of this runner that makes the files
        the run needs (in self.tmp_root) and returns that tuple."""
        return tuple(request(self) if callable(request) else request)

    def submit(self, request):
        script, *flags = self.resolve(request)
        key = (Path(script), tuple(str(flag) for flag in flags))
        if key not in self.futures:
            self.futures[key] = self.pool.submit(self._run, *key)
        return self.futures[key]

    def notebooks(self, scripts: list) -> "Future":
        """Execute lessons as Jupytext notebooks, one after another in one real kernel
        (tests/notebook_run.py), with --quick --device cpu. The future gives (report: {"<folder>/<file>":
        {"error", "cells"}}, out_root (a lesson writes into out_root/<folder>/<stem>), CompletedProcess).
        The first call decides which lessons run: the test session asks once, for those it selected."""
        if "notebooks" not in self.futures:
            self.futures["notebooks"] = self.pool.submit(self._run_notebooks, [Path(script) for script in scripts])
        return self.futures["notebooks"]

    def _run_notebooks(self, scripts: list):
        started = time.perf_counter()
        out_root = self.tmp_root / "notebooks"
        report = self.tmp_root / "notebooks.json"
        completed = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "notebook_run.py"), str(out_root),
                                    str(report), *map(str, scripts)], env=dict(self.env, PYTHONPATH=""),
                                   capture_output=True, text=True, encoding="utf-8", errors="replace",
                                   timeout=LESSON_TIMEOUT_S * 3, stdin=subprocess.DEVNULL)
        loaded = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
        self.seconds[(f"{len(scripts)} notebooks", ())] = time.perf_counter() - started
        return loaded, out_root, completed

    def run(self, script: Path, *flags: str) -> LessonRun:
        return self.submit((script, *flags)).result()

    def run_many(self, requests: list) -> list:
        """Several requests at once (two at a time); results in the order asked."""
        futures = [self.submit(request) for request in requests]
        return [future.result() for future in futures]


def run_in_process(script: Path, *flags: str, out_dir: Path, console_encoding: "str | None" = None) -> LessonRun:
    """Run a lesson inside this test process (runpy), as `python script --out-dir D --device cpu flags`.

    For runs that stop early (a refused flag, a divergence, a stop rule never met): they go through
    the lesson's own code but skip the 2–4 s of imports a new process pays. What the lesson changes
    in this process (argv, sys.path, the exception hook, the SIGTERM handler, open figures) is put
    back, and so is PyTorch's deterministic mode (--deterministic). With `console_encoding`, the
    lesson prints to a console of that encoding (cp1252, gbk), strict as a real one. An exception the lesson does not
    turn into SystemExit fails the test, traceback included.
    """
    import matplotlib.pyplot as plt
    import torch

    argv = [str(script), "--out-dir", str(out_dir), *([] if "--device" in flags else ["--device", "cpu"]),
            *map(str, flags)]
    console_bytes = io.BytesIO()
    stdout = io.TextIOWrapper(console_bytes, encoding=console_encoding) if console_encoding else io.StringIO()
    stderr = io.StringIO()
    saved = sys.argv, list(sys.path), sys.excepthook, signal.getsignal(signal.SIGTERM)
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled(), torch.backends.cudnn.benchmark,
                     torch.backends.cudnn.deterministic)
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                runpy.run_path(str(script), run_name="__main__")
                returncode = 0
            except SystemExit as stop:
                returncode = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    finally:
        sys.argv, sys.path[:], sys.excepthook = saved[0], saved[1], saved[2]
        signal.signal(signal.SIGTERM, saved[3])
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = deterministic[2:]
        plt.close("all")
    if console_encoding:
        stdout.flush()
        printed = console_bytes.getvalue().decode(console_encoding)
    else:
        printed = stdout.getvalue()
    return LessonRun(Path(script), tuple(map(str, flags)), Path(out_dir), returncode, printed, stderr.getvalue())


RUNNER: "LessonRunner | None" = None
# Runs a test module will need, by module name; started in the background once the tests are chosen.
PLANNED: dict = {}


def plan_runs(*requests) -> None:
    """Ask for lesson runs ahead, from a test module (see LessonRunner.resolve for a request's form)."""
    module = inspect.currentframe().f_back.f_globals["__name__"]
    PLANNED.setdefault(module, []).extend(requests)


def lesson_runner_for_session() -> LessonRunner:
    global RUNNER
    if RUNNER is None:
        RUNNER = LessonRunner(Path(tempfile.mkdtemp(prefix="lesson-runs-")))
    return RUNNER


# Test modules that start processes of their own or wait on timeouts (torchrun, signals, races, the
# course runner): they run first, while the background pool works through the planned lesson runs,
# so that their waits overlap that work. The check that the repo stayed untouched runs last.
RUN_FIRST = ("test_lesson_ddp", "test_rmb_data", "test_course", "test_console", "test_lesson_models")
RUN_LAST = ("test_zz_repo_untouched",)


def pytest_collection_modifyitems(session, config, items):
    def order(item):
        module = item.module.__name__ if getattr(item, "module", None) else ""
        return 0 if module in RUN_FIRST else 2 if module in RUN_LAST else 1
    items.sort(key=order)  # stable: the order within each group stays as collected


def pytest_collection_finish(session):
    """Start, in the background, the runs that the selected tests need: their modules' planned runs,
    and the --quick run of each lesson a selected test reads through `quick_runs`."""
    runner = lesson_runner_for_session()
    requests, planned_modules, notebook_scripts = [], set(), []
    for item in session.items:  # what is left after -k and friends
        module = item.module.__name__ if getattr(item, "module", None) else None
        if module in PLANNED and module not in planned_modules:
            planned_modules.add(module)
            requests.extend(PLANNED[module])
        if "quick_runs" in getattr(item, "fixturenames", ()):
            params = getattr(getattr(item, "callspec", None), "params", {})
            scripts = [params["script"]] if "script" in params else LESSON_SCRIPTS
            requests.extend((script, *QUICK) for script in scripts)
        if "notebook_run" in getattr(item, "fixturenames", ()):
            notebook_scripts.append(item.callspec.params["script"])
    if notebook_scripts:  # first: the longest job, one kernel for every selected lesson, in course order
        runner.notebooks(sorted(set(notebook_scripts), key=LESSON_SCRIPTS.index))
    for request in requests:
        runner.submit(request)


def pytest_sessionfinish(session, exitstatus):
    if RUNNER is not None:
        RUNNER.pool.shutdown(wait=True, cancel_futures=True)
        if os.environ.get("LESSON_RUN_TIMES"):  # where the suite's time goes: one line per lesson process
            for (name, flags), seconds in sorted(RUNNER.seconds.items(), key=lambda item: -item[1]):
                print(f"{seconds:6.1f} s  {name} {' '.join(flags)}")
            print(f"{sum(RUNNER.seconds.values()):6.1f} s  in {len(RUNNER.seconds)} runs")
        shutil.rmtree(RUNNER.tmp_root, ignore_errors=True)


@pytest.fixture(scope="session")
def lesson_runner() -> LessonRunner:
    return lesson_runner_for_session()


class QuickRuns:
    """quick_runs[script]: the --quick run of that lesson (started on first use if not yet)."""

    def __init__(self, runner: LessonRunner):
        self.runner = runner

    def __getitem__(self, script: Path) -> LessonRun:
        return self.runner.run(script, *QUICK)


@pytest.fixture(scope="session")
def quick_runs(lesson_runner) -> QuickRuns:
    return QuickRuns(lesson_runner)
