"""How much slower each training lesson runs when another program holds one CPU core.

    python course/benchmark_busy.py                  # every training lesson, 3 runs each way
    python course/benchmark_busy.py --repeats 1 --torch-default

Each lesson runs as a user starts it (`python lesson.py --out-dir <temporary> --device cpu`, with
OMP_NUM_THREADS unset, so start_lesson picks its threads), alternately on an idle machine and beside
one busy-loop process (`while True: pass`, one core). The table gives the median wall time of each,
their ratio, and the CPU time the lesson used (threads that spin while they wait show there).
--torch-default adds busy runs with OMP_NUM_THREADS set to every core (torch's own default, which
the lessons no longer use). The banknote photos are drawn and split first, untimed, in a temporary
folder (as every output). Nothing else should run meanwhile: the numbers are only as quiet as the
machine.
"""
import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.device import default_threads, usable_cores  # noqa: E402
from tools.rmb_synthetic import write_synthetic_rmb  # noqa: E402

TRAINING_LESSONS = ["lesson_regression/01_linear_regression.py", "lesson_regression/02_logistic_regression.py",
                    "lesson_models/02_train_lenet.py", "lesson_models/03_train_lenet_ddp.py",
                    "lesson_models/04_new_series.py"]
SPLIT_LESSON = "lesson_models/01_split_dataset.py"
BUSY_LOOP = "while True: pass"


def data_flags(lesson: str, out_root: Path) -> list:
    """The banknote lessons read photos and a split made under out_root: the repo's data/ stays as it is."""
    raw_dir, split_dir = str(out_root / "RMB_data"), str(out_root / "rmb_split")
    if lesson == SPLIT_LESSON:
        return ["--raw-dir", raw_dir, "--split-dir", split_dir]
    return ["--raw-dir", raw_dir, "--data-dir", split_dir] if lesson.startswith("lesson_models/") else []


def run_lesson(lesson: str, out_root: Path, threads: "int | None") -> "tuple[float, float]":
    """(wall seconds, CPU seconds) of one run of the lesson as its own process (it must succeed).
    CPU seconds count what its threads burn, waiting for each other included."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    env["MPLBACKEND"] = "Agg"
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    out_dir = tempfile.mkdtemp(dir=out_root)
    cpu_before = _children_cpu_seconds()
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, str(REPO_ROOT / lesson), "--device", "cpu", "--out-dir", out_dir,
                                *data_flags(lesson, out_root)],
                               env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{lesson} exited {completed.returncode}:\n{completed.stderr[-2000:]}")
    return seconds, _children_cpu_seconds() - cpu_before


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_beside_busy_core(lesson: str, out_root: Path, threads: "int | None") -> "tuple[float, float]":
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(0.5)  # the loop is running before the lesson starts
        return run_lesson(lesson, out_root, threads)
    finally:
        busy.kill()
        busy.wait()


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmark_busy.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each lesson each way (default: 3)")
    parser.add_argument("--torch-default", action="store_true",
                        help="also run beside the busy core with torch's own default threads (every core)")
    parser.add_argument("lessons", nargs="*", default=TRAINING_LESSONS, help="lesson scripts (default: the training ones)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the busy loop

    cores = usable_cores()
    print(f"{cores} usable cores; lessons choose {default_threads()} thread(s); torch {_torch_version()}; "
          f"{args.repeats} run(s) each, median wall seconds (imports included)", flush=True)
    with tempfile.TemporaryDirectory(prefix="benchmark-busy-") as out_root:
        if any(lesson.startswith("lesson_models/") for lesson in args.lessons):  # photos and split, untimed
            write_synthetic_rmb(Path(out_root) / "RMB_data")
            run_lesson(SPLIT_LESSON, Path(out_root), None)
        header = f"{'lesson':<42} {'idle s':>7} {'1 busy':>7} {'ratio':>6} {'cpu idle':>8} {'cpu busy':>8}"
        print(header + (f" {'busy, all-core threads':>23} {'ratio':>6}" if args.torch_default else ""), flush=True)
        worst = 0.0
        for lesson in args.lessons:
            idle, busy, busy_default = [], [], []
            for _ in range(args.repeats):  # alternate, so that a drift of the machine hits both alike
                idle.append(run_lesson(lesson, Path(out_root), None))
                busy.append(timed_beside_busy_core(lesson, Path(out_root), None))
                if args.torch_default:
                    busy_default.append(timed_beside_busy_core(lesson, Path(out_root), cores))
            (idle_s, idle_cpu), (busy_s, busy_cpu) = _medians(idle), _medians(busy)
            worst = max(worst, busy_s / idle_s)
            line = (f"{lesson.removesuffix('.py'):<42} {idle_s:7.2f} {busy_s:7.2f} {busy_s / idle_s:5.2f}x "
                    f"{idle_cpu:8.2f} {busy_cpu:8.2f}")
            if args.torch_default:
                default_s = _medians(busy_default)[0]
                line += f" {default_s:23.2f} {default_s / idle_s:5.2f}x"
            print(line, flush=True)
    print(f"largest ratio: {worst:.2f}x")
    return 0


def _medians(runs: list) -> "tuple[float, float]":
    return statistics.median(wall for wall, _ in runs), statistics.median(cpu for _, cpu in runs)


def _torch_version() -> str:
    import importlib.metadata
    return importlib.metadata.version("torch")


if __name__ == "__main__":
    sys.exit(main())
