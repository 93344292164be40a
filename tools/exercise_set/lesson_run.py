"""Run a lesson inside this process, as `python lesson ... --quick` would, for the exercises whose
check compares the learner's observation with what the lesson really does.

Inside the process: no second import of torch (seconds), and it works the same from a notebook
cell. The check reads numbers, so the figures are not rendered (the lesson's drawing code still
runs; only the pixels and the files are skipped, which is most of a short lesson's time). What the
lesson changes is put back: argv, sys.path, the exception hook and SIGTERM handler, torch's thread
count, deterministic mode and every random generator's state, and open figures.
"""
import contextlib
import io
import random
import signal
import sys
import tempfile
from dataclasses import dataclass
from unittest import mock

from tools import REPO_ROOT

_RUNS = {}  # (lesson, flags) -> LessonResult: one run per set of flags


@dataclass(frozen=True)
class LessonResult:
    returncode: int  # 0, or the status the lesson's one-line error would exit with
    stdout: str
    stderr: str  # the one line of a failed run
    variables: dict  # the lesson's globals when it stopped


def run_lesson(lesson: str, flags: tuple) -> LessonResult:
    """Run lesson_<folder>/NN_name.py with `flags` (plus --quick --device cpu and a temporary
    --out-dir), once per set of flags."""
    key = (lesson, tuple(flags))
    if key not in _RUNS:
        _RUNS[key] = _run(REPO_ROOT / f"{lesson}.py", tuple(flags))
    return _RUNS[key]


def _run(script, flags: tuple) -> LessonResult:
    import matplotlib.pyplot as plt  # no window opens: the lesson runs without --show
    import numpy as np
    import torch

    from PIL import Image

    from tools import figures
    from tools.errors import describe

    saved = (sys.argv, list(sys.path), sys.excepthook, signal.getsignal(signal.SIGTERM), torch.get_num_threads(),
             torch.are_deterministic_algorithms_enabled(), torch.get_rng_state(), np.random.get_state(),
             random.getstate())
    stdout, stderr = io.StringIO(), io.StringIO()
    namespace = {"__name__": "__main__", "__file__": str(script), "__builtins__": __builtins__}
    with tempfile.TemporaryDirectory(prefix="exercise-run-") as out_dir:
        sys.argv = [str(script), "--quick", "--device", "cpu", "--out-dir", out_dir, *flags]
        unrendered = (mock.patch.object(figures.GifRecorder, "_capture", lambda recorder: Image.new("RGB", (1, 1))),
                      mock.patch.object(figures, "save_figure", lambda fig, *args, **kwargs: plt.close(fig)))
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), unrendered[0], unrendered[1]:
                try:
                    exec(compile(script.read_text(encoding="utf-8"), str(script), "exec"), namespace)
                    returncode = 0
                except (Exception, SystemExit) as error:  # noqa: B902 - what the lesson's handler would see
                    described = describe(error)
                    if isinstance(error, SystemExit):  # argparse's --help
                        returncode = error.code if isinstance(error.code, int) else 2
                    elif described is None:
                        raise
                    else:
                        print(described[0], file=sys.stderr)
                        returncode = described[1]
        finally:
            sys.argv, sys.path[:], sys.excepthook = saved[0], saved[1], saved[2]
            signal.signal(signal.SIGTERM, saved[3])
            torch.set_num_threads(saved[4])
            torch.use_deterministic_algorithms(saved[5])
            torch.set_rng_state(saved[6])
            np.random.set_state(saved[7])
            random.setstate(saved[8])
            plt.close("all")
    return LessonResult(returncode, stdout.getvalue(), stderr.getvalue(), namespace)
