"""Shared test machinery: the repo on sys.path, a headless backend, the one way to run a lesson
(`run_lesson`, in tests/lesson_runs.py), and the check that the tests left the repo's outputs/ and
data/ as they were."""
import os
import signal
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ["MPLBACKEND"] = "Agg"  # before anything imports pyplot
# The two test processes share two cores: an OpenMP thread that waits must sleep, not spin, or a run
# on two intra-op threads beside a busy core takes ten times as long (04 --quick: 153 s against 14 s
# measured). Read when torch is first imported, here and by every lesson this session starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Started in the background by a non-interactive shell (`pytest &`, some CI runners), this process
# ignores SIGINT, and so would every lesson it starts: the tests that press Ctrl-C on a lesson need
# it to hear SIGINT, as it does in a learner's terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from lesson_runs import (IS_CONTROLLER, LESSON_ENV, LESSON_SCRIPTS, LESSON_TIMEOUT_S, SESSION_ROOT,  # noqa: E402
                         TMP_ROOT, WORK_DIR, LessonRun, lesson_id, lesson_script, run_lesson)

__all__ = ["LESSON_ENV", "LESSON_SCRIPTS", "LESSON_TIMEOUT_S", "REPO_ROOT", "TMP_ROOT", "WORK_DIR",
           "LessonRun", "lesson_id", "lesson_script", "run_lesson"]


def _snapshot() -> dict:
    """{path: (size, mtime)} of everything under the repo's outputs/ and data/."""
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns)
            for folder in ("outputs", "data") for path in (REPO_ROOT / folder).rglob("*")}


REPO_SNAPSHOT = _snapshot()  # before any test runs


def pytest_sessionfinish(session, exitstatus):
    """Tests write only into temporary folders: the repo's outputs/ and data/ must be as they were.
    Checked once, by the controlling process, after every test process has finished."""
    if not IS_CONTROLLER:
        return
    import shutil
    shutil.rmtree(SESSION_ROOT, ignore_errors=True)
    after = _snapshot()
    changed = sorted(set(after) ^ set(REPO_SNAPSHOT) | {p for p in after if REPO_SNAPSHOT.get(p, after[p]) != after[p]})
    if changed:
        print(f"\nthe tests changed the repo's outputs/ or data/: {changed[:10]}", file=sys.stderr)
        session.exitstatus = 1
