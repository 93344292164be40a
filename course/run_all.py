"""Run the whole course: every lesson script, each in its own process, headless.

    python course/run_all.py                       # the course at default settings -> outputs/
    python course/run_all.py --quick               # every lesson with --quick -> outputs/quick/
    python course/run_all.py lesson_regression lesson_init/01_grad_vanish_explode   # a subset
    python course/run_all.py --device cuda         # passed through to every lesson

Order: two lessons run side by side (--jobs). The lessons that train on the banknote split
(lesson_models/02, 03, 04) start only after lesson_models/01_split_dataset, which makes it, has
finished (without 01 in the run: after the first of them, which then makes the split), as the
runner's table SPLIT_READERS says; nothing is guessed. Every other lesson may start at once. A
lesson whose name contains "ddp" runs under torchrun with 2 processes; it starts in one free slot
and holds two. The final table is in course order.

What it writes: each lesson's out-dir is <out-dir>/<folder>/<lesson>/, with the lesson's own files
and its console output (console.txt); at the end a table (status, seconds, headline numbers) and
<out-dir>/index.html, a page with every lesson's figures and numbers. run_all-record.json in the
out-dir lists every file the runner and its lessons wrote there, with its SHA-256 and each lesson's
start and end time. Before a lesson runs again, only the files of that list in its out-dir are
deleted (a failed lesson never shows an old run's numbers); nothing is removed by pattern, and
course/clean.py removes only what the list names. An out-dir holding any other file is refused
unless --allow-other-files is given (those files are then kept; a lesson writes its own files as it
does when run alone, but the runner never writes over a file of yours).

Stopping: Ctrl-C, SIGTERM or SIGHUP (the terminal closed) stops the whole course at once: the
lessons running are stopped (killed after 3 s), and the table and the page show what finished. If
the runner itself dies without stopping them (SIGKILL), a watchdog process it started kills every
lesson it left, with torchrun's workers, at once (POSIX; on Linux the whole process tree). Exit
status: 0, 1 if a lesson failed, 2 for bad input or a file it could not write (a full disk: one
line naming the file), 130 if interrupted.
"""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.errors import install_error_hook  # noqa: E402
if __name__ == "__main__":
    install_error_hook()  # from here on Ctrl-C, SIGTERM or a bad flag is one line, never a traceback

import argparse  # noqa: E402
import ast  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import queue  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from tools import OUTPUTS_DIR, QUICK_OUTPUTS_DIR  # noqa: E402
from tools.cli import LessonArgumentParser, folder_path, make_console_safe, positive_int, prepare_out_dir  # noqa: E402
from tools.device import resolve_device  # noqa: E402
from tools.errors import INTERRUPTED_EXIT_CODE, fail, os_error_line  # noqa: E402
from tools.metrics import file_sha256  # noqa: E402
from course.gallery import CONSOLE_FILE, GALLERY_FILE, format_headline, write_gallery  # noqa: E402

# The order of the notes; a lesson folder not listed here comes after these, alphabetically.
COURSE_ORDER = ["lesson_regression", "lesson_models", "lesson_init", "lesson_layers"]
# The banknote split: SPLIT_WRITER makes it (data/rmb_split; with --quick, quick_data/ beside the
# lesson out-dirs); SPLIT_READERS train on it, and run the writer themselves when it is missing. So
# that no two lessons draw the photos at once, a reader starts only once the writer has finished.
SPLIT_WRITER = "lesson_models/01_split_dataset"
SPLIT_READERS = ("lesson_models/02_train_lenet", "lesson_models/03_train_lenet_ddp", "lesson_models/04_new_series")
RECORD_FILE = "run_all-record.json"  # in the out-dir: what the runner and its lessons wrote there
ALLOW_FLAG = "--allow-other-files"
DEFAULT_JOBS = 2  # lessons side by side: the course in about half the time on two cores
DDP_PROCESSES = 2  # a "ddp" lesson runs as 2 processes (CPU), or one per GPU up to 2
STOP_GRACE_SECONDS = 3  # after Ctrl-C, how long a lesson may take to stop before it is killed
POSIX = os.name == "posix"
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@dataclass
class LessonResult:
    script: Path
    out_dir: Path
    returncode: int
    seconds: float
    console: str
    interrupted: bool = False  # stopped by Ctrl-C before it ended
    started_at: float = 0.0  # time.time() when it started and when it ended
    ended_at: float = 0.0

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
    """The lessons among `lessons` that must have finished before `script` starts.

    A reader of the banknote split waits for its writer; when the writer is not among `lessons`,
    the first reader makes the split and the other readers wait for that one.
    """
    if lesson_name(script) not in SPLIT_READERS:
        return []
    writers = [other for other in lessons if lesson_name(other) == SPLIT_WRITER]
    readers = [other for other in lessons if lesson_name(other) in SPLIT_READERS]
    return writers or [reader for reader in readers[:1] if reader != script]


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


# --- What the runner wrote: the record in its out-dir ------------------------------------------------
# Ownership is by content: a file is the runner's while the record lists it with the SHA-256 it has.
# A file the record does not list, or whose bytes changed since, is someone else's: never removed.

def _signature(path: Path) -> tuple:
    """Changes whenever the file is written: (inode, size, modification time in ns)."""
    status = os.lstat(path)
    return status.st_ino, status.st_size, status.st_mtime_ns


def _live_partial(name: str) -> bool:
    """True for '<folder>.partial-<pid>' of a process still running: a folder being written."""
    if not re.search(r"\.partial-\d+$", name):  # the cheap test first: the module below loads torch
        return False
    from tools.rmb_prepare import PARTIAL, process_alive
    return process_alive(int(name.rpartition(PARTIAL)[2]))


def walk_out_dir(root: Path, skip_dirs=(), skip_live_partials: bool = False) -> dict:
    """{relative posix path: path} of everything under `root` that is not a folder: files, and links
    of any kind (never followed). Not entered: other runs' out-dirs (a folder with a record of its
    own, and outputs/quick, which --quick runs have to themselves), `skip_dirs`, folders being written."""
    found = {}
    skip = {Path(folder) for folder in skip_dirs} | {QUICK_OUTPUTS_DIR}
    for folder, subfolders, files in os.walk(root):
        folder = Path(folder)
        for name in list(subfolders):
            path = folder / name
            if path.is_symlink():
                found[path.relative_to(root).as_posix()] = path
            if (path.is_symlink() or path in skip or (path / RECORD_FILE).exists()
                    or (skip_live_partials and _live_partial(name))):
                subfolders.remove(name)
        for name in files:
            path = folder / name
            if folder == root and (name == RECORD_FILE or name.startswith(RECORD_FILE + ".")):
                continue  # the record itself, or one being written
            found[path.relative_to(root).as_posix()] = path
    return found


def read_record(root: Path) -> dict:
    """The record in `root` ({} if there is none). One that is not the runner's JSON: an error."""
    path = Path(root) / RECORD_FILE
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and isinstance(record.get("files"), dict):
            return record
    except (OSError, ValueError):
        pass
    fail(f"--out-dir {root}: {RECORD_FILE} there is not a record this runner wrote; move it, "
         "or choose another --out-dir")


class OutDirRecord:
    """What the runner and its lessons wrote under `root`, kept in root/RECORD_FILE.

    At the start, every file there is either ours (listed, same SHA-256) or foreign. `update()`
    (after each lesson) lists what is there now, except the foreign files, the out-dirs of lessons
    still running and folders being written; a foreign file that a lesson wrote over, in its own
    out-dir, is the lesson's from then on.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        record = read_record(self.root)
        self.lessons = dict(record.get("lessons", {}))  # name: {"started", "ended", "status"}
        self._hashes = {}  # relative path: (signature, sha256), so that nothing is hashed twice
        self.files, self.foreign = {}, {}  # relative path: sha256 (ours); signature at the start (not ours)
        for relative, path in walk_out_dir(self.root).items():
            listed = record["files"].get(relative) if record else None
            if listed is not None and not path.is_symlink() and path.is_file() and self._sha(relative, path) == listed:
                self.files[relative] = listed
            else:
                self.foreign[relative] = _signature(path)
        self.finished_dirs = set()  # out-dirs of lessons that ran to their end in this run

    def _sha(self, relative: str, path: Path) -> str:
        signature = _signature(path)
        if self._hashes.get(relative, (None,))[0] != signature:
            self._hashes[relative] = (signature, file_sha256(path))
        return self._hashes[relative][1]

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def remove_ours(self, out_dir: Path) -> None:
        """Delete the files of ours in `out_dir` (what an earlier run wrote there), and only those."""
        prefix = self.relative(out_dir) + "/"
        for relative in [name for name in self.files if name.startswith(prefix)]:
            path = self.root / relative
            if path.is_file() and not path.is_symlink() and self._sha(relative, path) == self.files[relative]:
                path.unlink()
            elif path.exists() or path.is_symlink():  # changed since the start: someone else's now
                self.foreign[relative] = _signature(path)
            del self.files[relative]

    def update(self, running_dirs=()) -> None:
        files = {}
        for relative, path in walk_out_dir(self.root, running_dirs, skip_live_partials=True).items():
            if path.is_symlink() or not path.is_file():
                continue
            if relative in self.foreign:
                rewritten = (any(Path(folder) in path.parents for folder in self.finished_dirs)
                             and _signature(path) != self.foreign[relative])
                if not rewritten:
                    continue
                del self.foreign[relative]
            files[relative] = self._sha(relative, path)
        prefixes = tuple(self.relative(folder) + "/" for folder in running_dirs)
        files.update({name: sha for name, sha in self.files.items() if prefixes and name.startswith(prefixes)})
        self.files = files

    def save(self) -> None:
        write_whole(self.root / RECORD_FILE, json.dumps({"written_by": "course/run_all.py", "lessons": self.lessons,
                                                        "files": dict(sorted(self.files.items()))}, indent=1) + "\n")


def write_whole(path: Path, text: str) -> None:
    """Write a temporary file beside `path`, then rename it over `path`: a full disk or a killed
    runner never leaves half a file (the temporary one is removed, or never recorded)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def check_out_dir(record: OutDirRecord, lessons: list, allow_other_files: bool) -> None:
    """Refuse an out-dir holding files the runner did not write, unless allowed; even then, refuse
    one where the runner itself would write over such a file (the page, a console.txt)."""
    foreign = sorted(record.foreign)
    if foreign and not allow_other_files:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        fail(f"--out-dir {record.root}: holds {len(foreign)} file(s) the course runner did not write ({shown}); "
             f"it never deletes them: choose another --out-dir, or pass {ALLOW_FLAG} to run beside them")
    own_paths = {GALLERY_FILE} | {f"{script.parent.name}/{script.stem}/{CONSOLE_FILE}" for script in lessons}
    clash = sorted(own_paths & set(foreign))
    if clash:
        fail(f"--out-dir {record.root}: {clash[0]} is not the course runner's and a run would write over it; "
             "move it, or choose another --out-dir")


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


def descendants(pids: list, table: "dict | None" = None) -> dict:
    """{pid: start time} of every process below `pids` (children, grandchildren...)."""
    table = _process_table() if table is None else table
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


def watch_runner() -> None:
    """The watchdog: kill every lesson of a runner that died without stopping them (SIGKILL).

    It reads the pid of each lesson the runner starts from stdin, a pipe whose other end only the
    runner holds: end of file means the runner has ended, however it ended. It then kills those
    lessons' process groups and every process below them (torchrun's workers, in sessions of their
    own), checking start times so that a new process that got an old pid is never touched. Every
    second it also notes the processes below the lessons, so that one whose parent ended is found too.
    A parent-death signal (prctl PR_SET_PDEATHSIG) would not do: it reaches only the runner's own
    children, not torchrun's workers, and a preexec function is unsafe in a threaded runner.
    """
    lessons, below = {}, {}  # pid: start time ('' where /proc is missing)
    unread = b""
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        table = _process_table()
        if ready:
            data = os.read(sys.stdin.fileno(), 4096)
            if not data:
                break  # the runner has ended
            *lines, unread = (unread + data).split(b"\n")
            lessons.update({int(pid): table.get(int(pid), (None, ""))[1] for pid in lines})
        below.update(descendants(list(lessons), table))
    table = _process_table()
    below.update(descendants(list(lessons), table))
    for pid, start in lessons.items():
        if not table or table.get(pid, (None, None))[1] == start:
            _kill(pid, True, signal.SIGKILL)
    for pid, start in below.items():
        if table.get(pid, (None, None))[1] == start:
            _kill(pid, False, signal.SIGKILL)


class Watchdog:
    """Starts watch_runner() in a process of its own session (so the terminal's signals pass it by)."""

    def __init__(self):
        self.pipe = None
        if not POSIX:
            return
        read_end, write_end = os.pipe()
        program = (f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
                   "from course.run_all import watch_runner; watch_runner()")
        self.process = subprocess.Popen([sys.executable, "-c", program], stdin=read_end, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(read_end)
        self.pipe = os.fdopen(write_end, "w", buffering=1)

    def watch(self, pid: int) -> None:
        if self.pipe is not None:
            self.pipe.write(f"{pid}\n")

    def close(self) -> None:
        """The runner ends in order: the watchdog finds nothing left to kill, and ends too."""
        if self.pipe is not None:
            self.pipe.close()
            self.process.wait()
            self.pipe = None


class RunningLesson:
    """One lesson's process, in a session of its own; a thread reads its output (bytes, decoded as
    UTF-8 at the end) and another waits for it, then puts this object on the `done` queue."""

    def __init__(self, script: Path, out_dir: Path, command: list, env: dict, slots: int, done: queue.Queue):
        self.script, self.out_dir, self.slots = script, out_dir, slots
        self.started, self.started_at = time.perf_counter(), time.time()
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
        self.seconds, self.ended_at = time.perf_counter() - self.started, time.time()
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
                            interrupted=self.interrupted and self.process.returncode != 0,
                            started_at=self.started_at, ended_at=self.ended_at)


class StopRequests:
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP set a flag, which the scheduling loop reads: nothing is
    raised in the middle of starting a process, and a second Ctrl-C while stopping changes nothing.
    After SIGHUP (the terminal is gone) nothing more is printed: writing to it would fail."""

    def __init__(self):
        self.signal = None

    def __enter__(self):
        self._previous = {}
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may handle signals (a caller's thread gets none)
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum
        if signum == getattr(signal, "SIGHUP", None):
            sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


class Course:
    """One run: the lessons, where they write, and what went wrong writing the runner's own files."""

    def __init__(self, lessons: list, out_root: Path, flags: list, jobs: int, device: "str | None",
                 record: OutDirRecord, report):
        self.lessons, self.out_root, self.flags, self.jobs, self.device = lessons, out_root, flags, jobs, device
        self.record, self.report = record, report
        self.write_errors = []  # one line per file the runner could not write (a full disk)

    def out_dir(self, script: Path) -> Path:
        return self.out_root / script.parent.name / script.stem

    def write(self, path: Path, text: str) -> None:
        """Write a file whole or not at all (a full disk leaves no half of one), noting a failure."""
        try:
            write_whole(path, text)
        except OSError as error:
            self.write_errors.append(f"{path}: cannot be written ({error.strerror or error})")

    def save_record(self, running=()) -> None:
        try:
            self.record.update([lesson.out_dir for lesson in running])
            self.record.save()
        except OSError as error:
            self.write_errors.append(f"{self.out_root / RECORD_FILE}: cannot be written ({os_error_line(error)})")

    def finish(self, lesson: RunningLesson, running: list) -> LessonResult:
        result = lesson.result()
        self.write(result.out_dir / CONSOLE_FILE, result.console)
        self.record.finished_dirs.add(result.out_dir)
        self.record.lessons[result.name] = {"started": result.started_at, "ended": result.ended_at,
                                            "status": result.status}
        self.save_record(running)
        self.report(result)
        return result


def run_course(course: Course, stop: StopRequests) -> tuple:
    """Run the course's lessons (at most `jobs` processes at a time, prerequisites first), calling
    report(result) as each ends. Returns (results in the order they ended, lessons never started).
    A file the runner cannot write (a full disk) stops the course as Ctrl-C does."""
    lessons, jobs = course.lessons, course.jobs
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    if jobs > 1:  # side by side, lessons share the cores instead of each asking torch for all of them
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    needs = {script: prerequisites(script, lessons) for script in lessons}
    # First the lessons that others wait for, then the distributed ones (the longest), then the
    # course order.
    waited_for = {other for required in needs.values() for other in required}
    pending = sorted(lessons, key=lambda script: (script not in waited_for, not is_distributed(script),
                                                  lessons.index(script)))
    processes = ddp_processes(course.device) if any(map(is_distributed, lessons)) else 1
    done, running, ended, results = queue.Queue(), [], set(), []
    watchdog = Watchdog()

    def stopping() -> bool:
        return stop.signal is not None or bool(course.write_errors)

    try:
        while (pending or running) and not stopping():
            for script in list(pending):
                slots = min(jobs, processes) if is_distributed(script) else 1
                if stopping():
                    break  # Ctrl-C: no new lesson starts
                if not all(required in ended for required in needs[script]):
                    continue
                if sum(lesson.slots for lesson in running) >= jobs:
                    break  # no free slot (a distributed lesson may start in one: it never waits idle)
                out_dir = course.out_dir(script)
                out_dir.mkdir(parents=True, exist_ok=True)
                course.record.remove_ours(out_dir)
                running.append(RunningLesson(script, out_dir, lesson_command(script, out_dir, course.flags, processes),
                                             env, slots, done))
                watchdog.watch(running[-1].process.pid)
                pending.remove(script)
            try:
                lesson = done.get(timeout=0.1)
            except queue.Empty:
                continue
            running.remove(lesson)
            ended.add(lesson.script)
            results.append(course.finish(lesson, running))
        if running:
            results += _stop_all(running, done, course)
    finally:
        watchdog.close()
    return results, pending


def _stop_all(running: list, done: queue.Queue, course: Course) -> list:
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
        results.append(course.finish(lesson, running))
    for lesson in running:
        lesson.kill()
    still_there = _process_table()
    for pid, start in tree.items():  # e.g. torchrun's workers, each in a session of its own
        if still_there.get(pid, (None, None))[1] == start:  # the same process, not a new one with its pid
            _kill(pid, False, signal.SIGKILL)
    while running:
        lesson = done.get()
        running.remove(lesson)
        results.append(course.finish(lesson, running))
    return results


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
    parser.add_argument(ALLOW_FLAG, action="store_true",
                        help="run although the out-dir holds files the runner did not write: they are kept, "
                             "and a lesson writes its own files (metrics.json, its figures) as it does alone")
    args = parser.parse_args(argv)
    course = discover_lessons()
    lessons, course_size = select_lessons(course, args.lessons), len(course)
    if args.device is not None:
        resolve_device(args.device)  # an unavailable device fails once, here, not in every lesson
    out_root = prepare_out_dir(args.out_dir or (QUICK_OUTPUTS_DIR if args.quick else OUTPUTS_DIR))
    record = OutDirRecord(out_root)
    check_out_dir(record, lessons, args.allow_other_files)
    flags = (["--quick"] if args.quick else []) + (["--device", args.device] if args.device else [])
    print(f"Running {len(lessons)} lessons{' (--quick)' if args.quick else ''} into {out_root}, "
          f"{args.jobs} at a time", flush=True)
    counter = iter(range(1, len(lessons) + 1))

    def report(result: LessonResult) -> None:
        print(f"[{next(counter):2d}/{len(lessons)}] {result.status:<6} {result.name:<40} "
              f"{result.seconds:6.1f} s  {format_headline(result.out_dir)}", flush=True)

    started = time.perf_counter()
    run = Course(lessons, out_root, flags, args.jobs, args.device, record, report)
    with StopRequests() as stop:
        finished, not_started = run_course(run, stop)
        wall_seconds = time.perf_counter() - started
        results = sorted(finished, key=lambda result: lessons.index(result.script))  # course order
        print()
        print(format_table(results) if results else "No lesson finished.")
        print(f"Wall time: {wall_seconds:.1f} s")
        if stop.signal is not None or run.write_errors:
            print(f"{'Interrupted' if stop.signal is not None else 'Stopped'}: stopped "
                  f"{sum(r.interrupted for r in results)} running lesson(s); {len(not_started)} never started.")
        try:
            gallery = write_gallery(out_root, results, wall_seconds, quick=args.quick, course_size=course_size,
                                    docstrings={result.name: docstring_of(result.script) for result in results},
                                    not_started=[lesson_name(script) for script in not_started])
            print(f"\nGallery: {gallery}")
        except OSError as error:
            run.write_errors.append(f"{out_root / GALLERY_FILE}: cannot be written ({error.strerror or error})")
            (out_root / GALLERY_FILE).unlink(missing_ok=True)  # the runner's (check_out_dir): no half page stays
        run.save_record()
        for result in results:
            if not result.ok and not result.interrupted:
                print(f"\n=== {result.name} failed (exit {result.returncode}); its last output: ===", file=sys.stderr)
                print("\n".join(result.console.splitlines()[-25:]), file=sys.stderr)
        sys.stdout.flush()
    if run.write_errors:
        more = len(run.write_errors) - 1
        fail(f"{run.write_errors[0]}{f' (and {more} more file(s))' if more else ''}; is --out-dir {out_root} full?")
    if stop.signal is not None:
        return INTERRUPTED_EXIT_CODE
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
