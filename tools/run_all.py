"""Run the whole course: every lesson script in order, each in its own process, headless.

    python tools/run_all.py                  # the course at default settings
    python tools/run_all.py --quick          # every lesson with --quick
    python tools/run_all.py --device cuda    # passed through to every lesson
    python tools/run_all.py --jobs 1         # strictly one lesson after another

The lessons of a folder always run one after another, in order (a later one may use what an earlier
one made); two folders run side by side by default (--jobs), the larger first, which nearly halves
the time on two cores; the final table is in course order.

Prints a line per lesson as it finishes and a table at the end (lesson, status, seconds, headline
numbers from its metrics.json), writes each lesson's console output to console.txt in its out-dir,
and builds outputs/index.html: one static page with every lesson's summary, numbers, figures and
console output. Exits 1 if any lesson failed, after showing that lesson's error.
"""
import argparse
import ast
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools import OUTPUTS_DIR
from tools.cli import LessonArgumentParser, positive_int, prepare_out_dir
from tools.device import resolve_device
from tools.gallery import format_value, write_gallery
from tools.metrics import METRICS_FILE, read_metrics

# The order of the notes; a lesson folder not listed here runs after these, alphabetically.
COURSE_ORDER = ["lesson_regression", "lesson_models", "lesson_init", "lesson_layers"]
# What the final table shows of each lesson's metrics.json ("a.b" reads metrics["a"]["b"]).
# A lesson not listed shows its first few numbers.
HEADLINE_KEYS = {
    "lesson_regression/01_linear_regression": ["stop_iteration", "w", "b", "lstsq_b"],
    "lesson_regression/02_logistic_regression": ["stop_iteration", "accuracy"],
    "lesson_models/01_split_dataset": ["train_1", "valid_1", "test_1", "data_source"],
    "lesson_models/02_train_lenet": ["valid_acc", "test_acc", "images_per_second"],
    "lesson_models/03_module_containers": ["module_list_parameters", "plain_list_parameters"],
    "lesson_models/04_alexnet": ["our_parameters", "max_output_difference"],
    "lesson_init/01_grad_vanish_explode": ["normal+none.nan_layer", "xavier+tanh.final_std",
                                           "kaiming+relu.final_std"],
    "lesson_init/02_calculate_gain": ["tanh_std_ratio", "tanh_library_gain"],
    "lesson_layers/01_convolution": ["conv_transpose_shape", "formula_matches", "formula_cases"],
    "lesson_layers/02_pooling": ["maxpool_mean", "avgpool_mean", "unpool_indices"],
    "lesson_layers/03_linear": ["linear_output", "collapse_max_abs_difference"],
    "lesson_layers/04_activations": ["sigmoid_grad_max", "tanh_grad_max", "rrelu_eval_slope"],
}
FALLBACK_HEADLINES = 3
CONSOLE_FILE = "console.txt"
DEFAULT_JOBS = 2  # two lesson folders at a time: the course runs in about half the time on two cores


@dataclass
class LessonResult:
    script: Path
    out_dir: Path
    returncode: int
    seconds: float
    console: str

    @property
    def name(self) -> str:
        return f"{self.script.parent.name}/{self.script.stem}"

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def metrics(self) -> dict:
        return read_metrics(self.out_dir) if (self.out_dir / METRICS_FILE).is_file() else {}


def discover_lessons(root: Path = REPO_ROOT) -> list:
    """Every lesson_*/NN_*.py, in the order of the notes, then by number."""
    folders = sorted({path.parent.name for path in root.glob("lesson_*/[0-9][0-9]_*.py")},
                     key=lambda name: (COURSE_ORDER.index(name) if name in COURSE_ORDER else len(COURSE_ORDER), name))
    return [script for folder in folders for script in sorted((root / folder).glob("[0-9][0-9]_*.py"))]


def docstring_of(script: Path) -> str:
    """A lesson's docstring, read without running the lesson."""
    return ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""


def run_lesson(script: Path, out_dir: Path, flags: list, threads: "int | None" = None) -> LessonResult:
    """One lesson in its own process, headless, console captured (stdout and stderr interleaved).

    `threads`, if given, caps torch's CPU threads in that process (OMP_NUM_THREADS), unless the
    caller's environment already sets it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    if threads is not None:
        env.setdefault("OMP_NUM_THREADS", str(threads))
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, str(script), "--out-dir", str(out_dir), *flags],
                               cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    (out_dir / CONSOLE_FILE).write_text(completed.stdout, encoding="utf-8")
    return LessonResult(script, out_dir, completed.returncode, seconds, completed.stdout)


def lookup(metrics: dict, dotted_key: str):
    value = metrics
    for part in dotted_key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def headline(result: LessonResult) -> dict:
    """The few numbers the table shows for a lesson."""
    metrics = result.metrics
    keys = HEADLINE_KEYS.get(result.name)
    if keys is None:
        keys = [key for key, value in metrics.items()
                if isinstance(value, (int, float)) and not isinstance(value, bool)][:FALLBACK_HEADLINES]
    return {key: lookup(metrics, key) for key in keys if lookup(metrics, key) is not None}


def format_headline(result: LessonResult) -> str:
    return "  ".join(f"{key}={format_value(value)}" for key, value in headline(result).items())


def format_table(results: list) -> str:
    name_width = max(len(result.name) for result in results)
    lines = [f"{'lesson':<{name_width}}  status  seconds  headline numbers",
             f"{'-' * name_width}  ------  -------  ----------------"]
    for result in results:
        status = "ok" if result.ok else f"FAIL {result.returncode}"
        lines.append(f"{result.name:<{name_width}}  {status:<6}  {result.seconds:7.1f}  {format_headline(result)}")
    total = sum(result.seconds for result in results)
    lines.append(f"{'all lessons':<{name_width}}  {sum(r.ok for r in results):>2}/{len(results):<3}  {total:7.1f}")
    return "\n".join(lines)


def folder_chains(lessons: list) -> list:
    """The lessons grouped by folder, in course order: [[lesson_regression/01, 02], [lesson_models/01, ...], ...].

    A folder's lessons run one after another, in order, because a later one may use what an earlier
    one made (02_train_lenet trains on the split that 01_split_dataset writes); different folders
    share nothing, so they may run side by side.
    """
    chains = {}
    for script in lessons:
        chains.setdefault(script.parent.name, []).append(script)
    return list(chains.values())


def main(argv=None) -> int:
    parser = LessonArgumentParser(prog="run_all.py", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="run every lesson with --quick")
    parser.add_argument("--device", default=None,
                        help="passed to every lesson (auto, cpu, cuda, cuda:N, mps); default: each lesson's own")
    parser.add_argument("--out-dir", type=Path, default=OUTPUTS_DIR,
                        help="where lesson outputs and index.html go (default: outputs/ under the repo)")
    parser.add_argument("--jobs", type=positive_int, default=DEFAULT_JOBS,
                        help="lesson folders run side by side; a folder's lessons always run in order "
                             f"(default: {DEFAULT_JOBS}; 1 runs the whole course one lesson at a time)")
    args = parser.parse_args(argv)
    if args.device is not None:
        resolve_device(args.device)  # an unavailable device fails once, here, not in every lesson
    out_root = prepare_out_dir(args.out_dir)

    flags = (["--quick"] if args.quick else []) + (["--device", args.device] if args.device else [])
    lessons = discover_lessons()
    jobs = min(args.jobs, len(folder_chains(lessons)))
    # Side by side, lessons share the cores instead of each asking torch for all of them.
    threads = None if jobs == 1 else max(1, (os.cpu_count() or 1) // jobs)
    print(f"Running {len(lessons)} lessons{' (--quick)' if args.quick else ''} into {out_root}"
          f"{f', {jobs} folders at a time' if jobs > 1 else ''}")
    report_lock = threading.Lock()

    def run_chain(chain: list) -> list:
        results = []
        for script in chain:
            result = run_lesson(script, out_root / script.parent.name / script.stem, flags, threads)
            with report_lock:  # one whole line at a time
                number = lessons.index(script) + 1
                print(f"[{number:2d}/{len(lessons)}] {'ok  ' if result.ok else 'FAIL'} {result.name:<40} "
                      f"{result.seconds:6.1f} s  {format_headline(result)}", flush=True)
            results.append(result)
        return results

    # Folders with more lessons start first, so that the two workers end at about the same time.
    chains = sorted(folder_chains(lessons), key=len, reverse=True) if jobs > 1 else folder_chains(lessons)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        finished = [result for chain_results in pool.map(run_chain, chains) for result in chain_results]
    wall_seconds = time.perf_counter() - started
    results = sorted(finished, key=lambda result: lessons.index(result.script))  # course order

    print()
    print(format_table(results))
    print(f"Wall time: {wall_seconds:.1f} s")
    gallery = write_gallery(out_root, results, wall_seconds,
                            headlines={result.name: headline(result) for result in results},
                            docstrings={result.name: docstring_of(result.script) for result in results})
    print(f"\nGallery: {gallery}")

    failed = [result for result in results if not result.ok]
    for result in failed:
        print(f"\n=== {result.name} failed (exit {result.returncode}); its last output: ===", file=sys.stderr)
        print("\n".join(result.console.splitlines()[-25:]), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
