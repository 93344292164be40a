"""Shared test machinery: the repo on sys.path, a headless backend, and running lessons as a user would."""
import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ["MPLBACKEND"] = "Agg"  # before anything imports pyplot

LESSON_SCRIPTS = sorted(REPO_ROOT.glob("lesson_*/[0-9][0-9]_*.py"))
LESSON_TIMEOUT_S = 300
PARALLEL_LESSONS = 2  # the CI machine has two cores
# Keys whose values are wall-clock measurements, hence differ between two identical runs.
TIMING_KEYS = {"seconds", "images_per_second"}


def lesson_id(script: Path) -> str:
    return f"{script.parent.name}/{script.stem}"


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
    `python -W error::DeprecationWarning -W error::FutureWarning lesson_x/NN_y.py --out-dir D flags`.
    Results are cached per (script, flags) for the whole session, so smoke and claim tests
    share one run.
    """

    def __init__(self, tmp_root: Path):
        self.tmp_root = tmp_root
        self.work_dir = tmp_root / "cwd"
        self.work_dir.mkdir()
        decoys = _decoy_packages(tmp_root / "decoys")
        self.env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(decoys),
                        OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
        self.cache: dict = {}

    def _out_dir(self, script: Path, flags: tuple) -> Path:
        """A folder of its own for every distinct run: readable, and unique by a hash of the flags."""
        digest = hashlib.sha1("\0".join(flags).encode()).hexdigest()[:10]
        readable = "".join(c if c.isalnum() else "_" for c in "_".join(flags))[:40]
        return self.tmp_root / "outputs" / f"{script.parent.name}_{script.stem}_{readable}_{digest}"

    def run(self, script: Path, *flags: str) -> LessonRun:
        key = (script, flags)
        if key not in self.cache:
            out_dir = self._out_dir(script, flags)
            command = [sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning",
                       str(script), "--out-dir", str(out_dir), *flags]
            completed = subprocess.run(command, cwd=self.work_dir, env=self.env, capture_output=True,
                                       text=True, timeout=LESSON_TIMEOUT_S, stdin=subprocess.DEVNULL)
            self.cache[key] = LessonRun(script, flags, out_dir, completed.returncode,
                                        completed.stdout, completed.stderr)
        return self.cache[key]

    def resolve(self, request) -> tuple:
        """A planned request is a (script, *flags) tuple, or a function of this runner that makes
        the files the run needs (in self.tmp_root) and returns that tuple."""
        return request(self) if callable(request) else tuple(request)

    def run_many(self, requests: list) -> list:
        """Run several (script, flags...) requests at once, two at a time."""
        requests = [self.resolve(request) for request in requests]
        unique = list(dict.fromkeys(requests))  # two threads must not run the same request twice
        with ThreadPoolExecutor(max_workers=PARALLEL_LESSONS) as pool:
            list(pool.map(lambda request: self.run(request[0], *request[1:]), unique))
        return [self.run(request[0], *request[1:]) for request in requests]  # from the cache


# Runs that claim tests will ask for besides the --quick run of every lesson. A test module plans
# them when it is imported (pytest imports every test module before the first test runs), and they
# start together with the quick runs and the course runner, so both cores stay busy from the start.
PLANNED_RUNS: list = []


def plan_runs(*requests) -> None:
    """Ask for lesson runs ahead (see LessonRunner.resolve for the form of a request)."""
    PLANNED_RUNS.extend(requests)


@pytest.fixture(scope="session")
def lesson_runner(tmp_path_factory) -> LessonRunner:
    return LessonRunner(tmp_path_factory.mktemp("lessons"))


def course_command(out_root: Path) -> list:
    """The course runner, as the README's main command, with --quick on the CPU."""
    return [sys.executable, str(REPO_ROOT / "tools" / "run_all.py"), "--quick", "--device", "cpu",
            "--out-dir", str(out_root)]


@pytest.fixture(scope="session")
def lesson_batch(lesson_runner, tmp_path_factory):
    """Every lesson run the session needs, started at once: the course runner (two folders at a
    time) beside the --quick run of every lesson and the planned runs (two at a time)."""
    out_root = tmp_path_factory.mktemp("course")
    command = course_command(out_root)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    course = subprocess.Popen(command, cwd=tmp_path_factory.mktemp("course_cwd"), env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        quick = lesson_runner.run_many([(script, "--quick") for script in LESSON_SCRIPTS] + PLANNED_RUNS)
        stdout, stderr = course.communicate(timeout=LESSON_TIMEOUT_S * 2)
    finally:
        if course.poll() is None:
            course.kill()
    course_result = subprocess.CompletedProcess(command, course.returncode, stdout, stderr)
    return {run.script: run for run in quick[:len(LESSON_SCRIPTS)]}, (course_result, out_root)


@pytest.fixture(scope="session")
def quick_runs(lesson_batch) -> dict:
    """Every lesson run once with --quick: {script: LessonRun}."""
    return lesson_batch[0]


@pytest.fixture(scope="session")
def course_run(lesson_batch):
    """(CompletedProcess, out_root) of `python tools/run_all.py --quick --device cpu`."""
    return lesson_batch[1]


def lesson_script(folder: str, stem: str) -> Path:
    return REPO_ROOT / folder / f"{stem}.py"

