"""Run the whole course: every lesson script, each in its own process, headless.

    python course/run_all.py                       # the course at default settings -> outputs/
    python course/run_all.py --quick               # every lesson with --quick -> outputs/quick/
    python course/run_all.py lesson_regression lesson_init/01_grad_vanish_explode   # a subset
    python course/run_all.py --device cuda         # passed through to every lesson

Order: two lessons run side by side (--jobs). A lesson that reads prepared data (it has a
--data-dir flag) starts only after the lessons of its folder numbered before it that write that data
(a --split-dir flag): lesson_models' 02-04 wait for 01_split_dataset. Every other lesson is free to
start at once. A lesson whose name contains "ddp" runs under torchrun with 2 processes; it starts in
one free slot and holds two (no other lesson starts while it runs). The final table is in course
order.

Each lesson's out-dir is outputs/<folder>/<lesson>/. Before a lesson starts, what an earlier run
generated there (metrics.json, figures.json, console.txt, *.png, *.jpg, *.gif) is deleted, so a
failed lesson never shows an old run's numbers. Its console output goes to console.txt. At the end:
a table (status, seconds, the lesson's headline numbers) and outputs/index.html, a page with every
lesson's figures and numbers. Ctrl-C stops the whole course at once: the lessons running are
stopped, and the table and the page show what finished. Exit status: 0, 1 if a lesson failed, 130
if interrupted.
"""
import argparse
import ast
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools import OUTPUTS_DIR, QUICK_OUTPUTS_DIR
from tools.cli import LessonArgumentParser, folder_path, make_console_safe, positive_int, prepare_out_dir
from tools.device import resolve_device
from tools.errors import INTERRUPTED_EXIT_CODE, fail
from course.gallery import format_headline, write_gallery
from tools.metrics import METRICS_FILE

# The order of the notes; a lesson folder not listed here comes after these, alphabetically.
COURSE_ORDER = ["lesson_regression", "lesson_models", "lesson_init", "lesson_layers"]
CONSOLE_FILE = "console.txt"
# What a run writes into a lesson's out-dir (top level only): cleared before the lesson runs again.
GENERATED_FILES = (METRICS_FILE, "figures.json", CONSOLE_FILE, "*.png", "*.jpg", "*.gif")
DEFAULT_JOBS = 2  # lessons side by side: the course in about half the time on two cores
DDP_PROCESSES = 2  # a "ddp" lesson runs as 2 processes (CPU), or one per GPU up to 2
READS_DATA = re.compile(r"""["']--data-dir["']""")  # a lesson flag: it trains on a prepared split
WRITES_DATA = re.compile(r"""["']--split-dir["']""")  # a lesson flag: it prepares that split
STOP_GRACE_SECONDS = 3  # after Ctrl-C, how long a lesson may take to stop before it is killed
POSIX = os.name == "posix"


@dataclass
class LessonResult:
    script: Path
    out_dir: Path
    returncode: int
    seconds: float
    console: str
    interrupted: bool = False  # stopped by Ctrl-C before it ended

    @property
    def name(self) -> str:
        return lesson_name(self.script)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.interrupted

    @property
    def status(self) -> str:
        return "ok" if self.ok else "INT" if self.interrupted else f"FAIL {self.returncode}"


def lesson_name(script: Path) -> str:
    """'lesson_x/NN_y': how the table, the page and the command line name a lesson."""
    return f"{script.parent.name}/{script.stem}"


def discover_lessons(root: Path = REPO_ROOT) -> list:
    """Every lesson_*/NN_*.py, in the order of the notes, then by number."""
    folders = sorted({path.parent.name for path in root.glob("lesson_*/[0-9][0-9]_*.py")},
                     key=lambda name: (COURSE_ORDER.index(name) if name in COURSE_ORDER else len(COURSE_ORDER), name))
    return [script for folder in folders for script in sorted((root / folder).glob("[0-9][0-9]_*.py"))]


def select_lessons(lessons: list, requests: list) -> list:
    """The lessons named by `requests` (folders 'lesson_x', lessons 'lesson_x/NN_y', with or without
    '.py', or a script's file name), in course order; all of them if nothing is named."""
    if not requests:
        return list(lessons)
    chosen = set()
    for request in requests:
        text = Path(request).as_posix().rstrip("/").removesuffix(".py")
        parts = text.split("/")
        wanted = [script for script in lessons
                  if text in (script.parent.name, lesson_name(script), script.stem)
                  or parts[-2:] == [script.parent.name, script.stem]  # a path to the script
                  or parts[-1:] == [script.parent.name]]  # a path to the folder
        if not wanted:
            folders = sorted({script.parent.name for script in lessons})
            fail(f"{request!r}: no such lesson or lesson folder (folders: {', '.join(folders)})")
        chosen.update(wanted)
    return [script for script in lessons if script in chosen]


def docstring_of(script: Path) -> str:
    """A lesson's docstring, read without running the lesson."""
    return ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""


def prerequisites(script: Path, lessons: list) -> list:
    """The lessons among `lessons` that must have finished before `script` starts: if it reads a
    prepared split (--data-dir), the lessons of its folder before it that write one (--split-dir)."""
    if not READS_DATA.search(script.read_text(encoding="utf-8")):
        return []
    return [other for other in lessons
            if other.parent == script.parent and other.name < script.name
            and WRITES_DATA.search(other.read_text(encoding="utf-8"))]


def is_distributed(script: Path) -> bool:
    return "ddp" in script.stem.lower()


def ddp_processes(device: "str | None") -> int:
    """Processes for a ddp lesson: 2 on the CPU; on CUDA one per GPU (nccl), at most 2."""
    import torch
    wants_cuda = (device or "auto").startswith("cuda") or (device in (None, "auto") and torch.cuda.is_available())
    if wants_cuda and torch.cuda.is_available():
        return 1 if ":" in (device or "") else max(1, min(DDP_PROCESSES, torch.cuda.device_count()))
    return DDP_PROCESSES


def lesson_command(script: Path, out_dir: Path, flags: list, processes: int) -> list:
    if is_distributed(script):
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                str(processes), str(script), "--out-dir", str(out_dir), *flags]
    return [sys.executable, str(script), "--out-dir", str(out_dir), *flags]


def clear_generated(out_dir: Path) -> None:
    """Delete what an earlier run generated in `out_dir` (top level only; folders are left alone)."""
    for pattern in GENERATED_FILES:
        for path in out_dir.glob(pattern):
            if path.is_file():
                path.unlink()


# --- Stopping process trees ----------------------------------------------------------------------
# Each lesson runs in a session of its own, so a terminal's Ctrl-C reaches only the runner, which
# then stops every lesson the same way. torchrun starts its workers in sessions of their own too, so
# a lesson's whole tree of processes is found through /proc (Linux) before it is killed.

def _process_table() -> dict:
    """{pid: (parent pid, start time)} of every process (Linux /proc; {} elsewhere)."""
    table = {}
    for entry in Path("/proc").glob("[0-9]*") if POSIX else ():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            table[int(entry.name)] = (int(fields[1]), fields[19])
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
    return table


def descendants(pids: list) -> dict:
    """{pid: start time} of every process below `pids` (children, grandchildren...)."""
    table = _process_table()
    found, frontier = {}, set(pids)
    while frontier:
        children = {pid for pid, (parent, _) in table.items() if parent in frontier and pid not in found}
        found.update({pid: table[pid][1] for pid in children})
        frontier = children
    return found


def _kill(pid: int, group: bool, sig) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


class RunningLesson:
    """One lesson's process, in a session of its own; a thread reads its output (bytes, decoded as
    UTF-8 at the end) and another waits for it, then puts this object on the `done` queue."""

    def __init__(self, script: Path, out_dir: Path, command: list, env: dict, slots: int, done: queue.Queue):
        self.script, self.out_dir, self.slots = script, out_dir, slots
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=POSIX,
            creationflags=0 if POSIX else subprocess.CREATE_NEW_PROCESS_GROUP)
        self.output = b""
        self.interrupted = False
        self.ended = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        threading.Thread(target=self._wait, args=(done,), daemon=True).start()

    def _read(self):
        self.output = self.process.stdout.read()

    def _wait(self, done: queue.Queue):
        if POSIX and hasattr(os, "waitid"):
            try:  # wait without collecting it: until collected, its pid (= its group's id) stays ours
                os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                pass
            _kill(self.process.pid, True, signal.SIGKILL)  # anything it left behind in its group
        self.process.wait()
        self.seconds = time.perf_counter() - self.started
        self.ended.set()
        self._reader.join(timeout=5)
        done.put(self)

    def interrupt(self):
        if self.ended.is_set():
            return  # it ended on its own before Ctrl-C
        self.interrupted = True
        if POSIX:
            _kill(self.process.pid, True, signal.SIGINT)  # as a terminal would: a lesson says "interrupted"
        else:
            self.process.terminate()

    def kill(self):
        if POSIX:
            _kill(self.process.pid, True, signal.SIGKILL)
        else:
            self.process.kill()

    def result(self) -> LessonResult:
        console = self.output.decode("utf-8", errors="replace")
        return LessonResult(self.script, self.out_dir, self.process.returncode, self.seconds, console,
                            interrupted=self.interrupted and self.process.returncode != 0)


class StopRequests:
    """Ctrl-C (SIGINT) and SIGTERM set a flag, which the scheduling loop reads: nothing is raised
    in the middle of starting a process, and a second Ctrl-C while stopping changes nothing."""

    def __init__(self):
        self.signal = None

    def __enter__(self):
        self._previous = {}
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may handle signals (a caller's thread gets none)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def run_course(lessons: list, out_root: Path, flags: list, jobs: int, device: "str | None",
               report, stop: StopRequests) -> tuple:
    """Run `lessons` (at most `jobs` processes at a time, prerequisites first), calling report(result)
    as each ends. Returns (results in the order they ended, lessons never started)."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    if jobs > 1:  # side by side, lessons share the cores instead of each asking torch for all of them
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    needs = {script: prerequisites(script, lessons) for script in lessons}
    # First the lessons that others wait for, then the distributed ones (the longest), then the
    # course order.
    waited_for = {other for required in needs.values() for other in required}
    pending = sorted(lessons, key=lambda script: (script not in waited_for, not is_distributed(script),
                                                  lessons.index(script)))
    processes = ddp_processes(device) if any(map(is_distributed, lessons)) else 1
    done, running, ended, results = queue.Queue(), [], set(), []
    while (pending or running) and stop.signal is None:
        for script in list(pending):
            slots = min(jobs, processes) if is_distributed(script) else 1
            if stop.signal is not None:
                break  # Ctrl-C: no new lesson starts
            if not all(required in ended for required in needs[script]):
                continue
            if sum(lesson.slots for lesson in running) >= jobs:
                break  # no free slot (a distributed lesson may start in one: it never waits idle)
            out_dir = out_root / script.parent.name / script.stem
            out_dir.mkdir(parents=True, exist_ok=True)
            clear_generated(out_dir)
            running.append(RunningLesson(script, out_dir, lesson_command(script, out_dir, flags, processes),
                                         env, slots, done))
            pending.remove(script)
        try:
            lesson = done.get(timeout=0.1)
        except queue.Empty:
            continue
        running.remove(lesson)
        ended.add(lesson.script)
        results.append(_finish(lesson, report))
    if stop.signal is not None and running:
        results += _stop_all(running, done, report)
    return results, pending


def _stop_all(running: list, done: queue.Queue, report) -> list:
    """Ctrl-C: stop every running lesson and what it started; wait a moment, then kill."""
    tree = descendants([lesson.process.pid for lesson in running])  # before anyone is reparented
    for lesson in running:
        lesson.interrupt()
    results, deadline = [], time.monotonic() + STOP_GRACE_SECONDS
    while running and time.monotonic() < deadline:
        try:
            lesson = done.get(timeout=0.1)
        except queue.Empty:
            continue
        running.remove(lesson)
        results.append(_finish(lesson, report))
    for lesson in running:
        lesson.kill()
    still_there = _process_table()
    for pid, start in tree.items():  # e.g. torchrun's workers, each in a session of its own
        if still_there.get(pid, (None, None))[1] == start:  # the same process, not a new one with its pid
            _kill(pid, False, signal.SIGKILL)
    while running:
        lesson = done.get()
        running.remove(lesson)
        results.append(_finish(lesson, report))
    return results


def _finish(lesson: RunningLesson, report) -> LessonResult:
    result = lesson.result()
    (result.out_dir / CONSOLE_FILE).write_text(result.console, encoding="utf-8")
    report(result)
    return result


def format_table(results: list) -> str:
    name_width = max([len("all lessons")] + [len(result.name) for result in results])
    lines = [f"{'lesson':<{name_width}}  status  seconds  headline numbers",
             f"{'-' * name_width}  ------  -------  ----------------"]
    for result in results:
        lines.append(f"{result.name:<{name_width}}  {result.status:<6}  {result.seconds:7.1f}  "
                     f"{format_headline(result.out_dir)}")
    total = sum(result.seconds for result in results)
    lines.append(f"{'all lessons':<{name_width}}  {sum(r.ok for r in results):>2}/{len(results):<3}  {total:7.1f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    make_console_safe()  # a cp1252 or gbk console prints '?' for what it cannot show
    parser = LessonArgumentParser(prog="run_all.py", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", metavar="LESSON",
                        help="run only these: folders (lesson_init) or lessons (lesson_init/01_grad_vanish_explode)")
    parser.add_argument("--quick", action="store_true",
                        help="run every lesson with --quick, into outputs/quick/ (its own page)")
    parser.add_argument("--device", default=None,
                        help="passed to every lesson (auto, cpu, cuda, cuda:N, mps); default: each lesson's own")
    parser.add_argument("--out-dir", type=folder_path, default=None,
                        help="where lesson outputs and index.html go (default: outputs/, with --quick outputs/quick/)")
    parser.add_argument("--jobs", type=positive_int, default=DEFAULT_JOBS,
                        help=f"lessons side by side (default: {DEFAULT_JOBS}; 1: one after another)")
    args = parser.parse_args(argv)
    course = discover_lessons()
    lessons, course_size = select_lessons(course, args.lessons), len(course)
    if args.device is not None:
        resolve_device(args.device)  # an unavailable device fails once, here, not in every lesson
    out_root = prepare_out_dir(args.out_dir or (QUICK_OUTPUTS_DIR if args.quick else OUTPUTS_DIR))
    flags = (["--quick"] if args.quick else []) + (["--device", args.device] if args.device else [])
    print(f"Running {len(lessons)} lessons{' (--quick)' if args.quick else ''} into {out_root}, "
          f"{args.jobs} at a time", flush=True)
    counter = iter(range(1, len(lessons) + 1))

    def report(result: LessonResult) -> None:
        print(f"[{next(counter):2d}/{len(lessons)}] {result.status:<6} {result.name:<40} "
              f"{result.seconds:6.1f} s  {format_headline(result.out_dir)}", flush=True)

    started = time.perf_counter()
    with StopRequests() as stop:
        finished, not_started = run_course(lessons, out_root, flags, args.jobs, args.device, report, stop)
        wall_seconds = time.perf_counter() - started
        results = sorted(finished, key=lambda result: lessons.index(result.script))  # course order
        print()
        print(format_table(results) if results else "No lesson finished.")
        print(f"Wall time: {wall_seconds:.1f} s")
        if stop.signal is not None:
            print(f"Interrupted: stopped {sum(r.interrupted for r in results)} running lesson(s); "
                  f"{len(not_started)} never started.")
        gallery = write_gallery(out_root, results, wall_seconds, quick=args.quick, course_size=course_size,
                                docstrings={result.name: docstring_of(result.script) for result in results},
                                not_started=[lesson_name(script) for script in not_started])
        print(f"\nGallery: {gallery}")
        for result in results:
            if not result.ok and not result.interrupted:
                print(f"\n=== {result.name} failed (exit {result.returncode}); its last output: ===", file=sys.stderr)
                print("\n".join(result.console.splitlines()[-25:]), file=sys.stderr)
        sys.stdout.flush()
    if stop.signal is not None:
        return INTERRUPTED_EXIT_CODE
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
