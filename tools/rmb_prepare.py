"""Preparing the banknote folders: what the course does not teach, and a learner can skip.

    add_split_flags(parser)                   # --data-dir, --raw-dir, as every training lesson has them
    split_dir, source = prepare_split(args)   # the split to train on, made (by running lesson 01) if missing

Lesson 01 plans the 80/10/10 split itself; `copy_split` copies that plan into
split_dir/{train,valid,test}/{1,100} and writes split_dir/split.json (the seed, the photo folder,
and the SHA-256 of every file it copied, so that a clean-up removes only those). The synthetic photos
are drawn by tools/rmb_synthetic.py. Every folder is written as <name>.partial-<pid> and renamed when
complete (`write_folder`), so an interrupted, concurrent or failed run never leaves half of one behind.
The Dataset that reads the split is tools/rmb_dataset.py.
"""
import glob
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from tools import DATA_DIR, REPO_ROOT
from tools.errors import LessonError, fail, os_error_line
from tools.rmb_dataset import CLASS_NAMES
from tools.metrics import file_sha256
from tools.rmb_synthetic import MARKER_FILE, PHOTO_SIZE, write_synthetic_rmb

SPLIT_PARTS = ("train", "valid", "test")
MIN_PHOTOS_PER_CLASS = 10  # fewer would leave the valid or test part of 80/10/10 empty
MANIFEST_FILE = "split.json"  # what a split was made from (seed, photo folder, synthetic or not)
DEFAULT_SPLIT_SEED = 1  # the split that lesson 01 makes by default, and that lesson 02 asks for
PHOTOS_PER_CLASS = 100  # as many synthetic photos as the course has real ones
# --quick draws the same number of photos, much smaller: ~25× less to draw and decode, and on the
# 32×32 inputs the network sees they are just as hard.
QUICK_PHOTO_SIZE = (240, 120)
SPLIT_LESSON = REPO_ROOT / "lesson_models" / "01_split_dataset.py"
PARTIAL = ".partial-"  # <folder>.partial-<process id>: a folder being written, renamed when complete


def existing_folder(path: "str | Path", what: str) -> bool:
    """True if `path` is a folder, False if nothing is there. A file in its place, or a path the
    system refuses (a name over 255 bytes, no permission): one line naming `what`, exit status 2."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as error:
        fail(f"{what} {path}: {error.strerror or error}")
    if not stat.S_ISDIR(mode):
        fail(f"{what} {path}: is a file, not a folder")
    return True


def default_rmb_dirs(quick: bool, out_dir: Path) -> tuple:
    """(raw_dir, split_dir) when no flag names them: the repo's data/ folder, or for --quick a small
    set in quick_data/ beside the out-dir (outputs/quick/lesson_models/quick_data by default), drawn
    by the first quick run that needs it and shared by the others: quick runs never touch data/."""
    if quick:
        quick_data = Path(out_dir).parent / "quick_data"
        return quick_data / "RMB_data", quick_data / "rmb_split"
    return DATA_DIR / "RMB_data", DATA_DIR / "rmb_split"


def data_source(raw_dir: Path) -> str:
    """"synthetic" if tools/rmb_synthetic.py drew the photos in raw_dir, else "user"."""
    return "synthetic" if (Path(raw_dir) / MARKER_FILE).is_file() else "user"


def _manifest(split_dir: Path) -> dict:
    """What copy_split recorded in split_dir/split.json ({} if there is none, or it is not readable)."""
    try:
        manifest = json.loads((Path(split_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def split_data_source(split_dir: Path) -> str:
    """What the split in split_dir was made from, as copy_split recorded it ("user" if unknown)."""
    return _manifest(split_dir).get("data_source", "user")


def folder_checksum(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes under `folder`: equal iff nothing changed.

    Paths are hashed as the file system's bytes (os.fsencode), so names that are not UTF-8 (a GBK
    archive unzipped on Linux) work too."""
    digest = hashlib.sha256()
    for relative, path in sorted(_files_under(folder).items(), key=lambda item: os.fsencode(item[0])):
        digest.update(os.fsencode(relative))
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def split_fingerprint(split_dir: Path) -> str:
    """SHA-256 of the train, valid and test folders (names and bytes): two equal splits, one value."""
    digest = hashlib.sha256()
    for part in SPLIT_PARTS:
        digest.update(part.encode())
        digest.update(folder_checksum(Path(split_dir) / part).encode())
    return digest.hexdigest()


def check_split_dirs(raw_dir: Path, split_dir: Path, raw_flag: str = "--raw-dir",
                     split_flag: str = "--split-dir") -> None:
    """Refuse, before anything is written, paths the system refuses and a split folder inside the
    photo folder (or the reverse): the copies would be mixed with the user's photos. Then remove
    what runs killed outright left beside either folder (see write_folder)."""
    existing_folder(raw_dir, raw_flag)
    existing_folder(split_dir, split_flag)
    raw, split = Path(raw_dir).resolve(), Path(split_dir).resolve()
    if split == raw or raw in split.parents:
        fail(f"{split_flag} {split_dir}: is inside the photo folder {raw_dir}; the copies would be mixed "
             "with the photos. Choose a folder outside it")
    if split in raw.parents:
        fail(f"{raw_flag} {raw_dir}: is inside the split folder {split_dir}. Choose folders apart")
    remove_stale_partials(raw_dir)
    remove_stale_partials(split_dir)


def draw_synthetic_photos(raw_dir: Path, quick: bool) -> None:
    """Draw the synthetic photos into raw_dir (which does not exist yet), saying so first."""
    size = QUICK_PHOTO_SIZE if quick else PHOTO_SIZE
    print(f"{raw_dir} does not exist: drawing {PHOTOS_PER_CLASS} synthetic photos per class "
          f"({size[0]}×{size[1]}) into it. Put real photos in {raw_dir}/1 and {raw_dir}/100 to use them instead.")
    write_folder(raw_dir, lambda folder: write_synthetic_rmb(folder, per_class=PHOTOS_PER_CLASS, size=size),
                 "photo folder")


def check_photos_readable(paths: list) -> None:
    """One line naming the first photo that is empty, cannot be read or is no image at all, before
    anything is copied (a zero-byte file is what an interrupted download leaves). Only the header is
    read here; a photo truncated further on is found when it is decoded."""
    for path in paths:
        try:
            if os.stat(path).st_size == 0:
                fail(f"photo {path}: is empty (0 bytes); replace it, or move it out of the photo folder")
            with Image.open(path):  # lazy: reads the header only
                pass
        except (UnidentifiedImageError, SyntaxError, ValueError) as error:
            fail(f"photo {path}: is not an image Pillow can read ({error}); move it out of the photo folder")
        except OSError as error:
            fail(f"photo {path}: cannot be read ({error.strerror or error})")


def copy_split(plan: dict, split_dir: Path, raw_dir: Path, seed: int) -> bool:
    """Copy the planned photos into split_dir/{train,valid,test}/{1,100} (the source is only read).

    plan: {part: {class: [photo paths]}}, as lesson 01 makes it. Returns True if copied, False if
    split_dir already held exactly this split (compared byte by byte; nothing is written then).
    A split_dir holding anything else is refused: nothing is ever deleted or mixed. split.json lists
    every copied file with its SHA-256: {"files": {"train/1/0001.jpg": "<hex>", ...}}.
    """
    split_dir, raw_dir = Path(split_dir), Path(raw_dir)
    for name in CLASS_NAMES:
        count = sum(len(plan[part][name]) for part in SPLIT_PARTS)
        if any(not plan[part][name] for part in SPLIT_PARTS):
            fail(f"RMB class folder {raw_dir / name}: {count} photos; an 80/10/10 split needs at least "
                 f"{MIN_PHOTOS_PER_CLASS}")
    wanted = {f"{part}/{name}/{path.name}": Path(path)
              for part in SPLIT_PARTS for name in CLASS_NAMES for path in plan[part][name]}
    check_photos_readable(list(wanted.values()))
    if existing_folder(split_dir, "split folder") and any(split_dir.iterdir()):
        if _same_files(wanted, split_dir):
            return False  # the same split is already there: re-running changes nothing
        fail(f"split folder {split_dir}: already holds a different split (another seed, or other photos); "
             "delete it or choose another --split-dir")
    manifest = {"seed": seed, "raw_dir": os.fsdecode(raw_dir.resolve()), "data_source": data_source(raw_dir),
                "counts": {part: {name: len(plan[part][name]) for name in CLASS_NAMES} for part in SPLIT_PARTS},
                "files": {}}

    def copy_into(folder: Path) -> None:
        for relative, source in wanted.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, folder / relative)  # a copy: the photo folder stays as it is
            manifest["files"][relative] = file_sha256(folder / relative)  # the bytes we wrote
        # JSON's \u escapes keep a name that is not UTF-8 (a GBK archive on Linux) as os.fsdecode gives it
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    return write_folder(split_dir, copy_into, "split folder")


def add_split_flags(parser) -> None:
    """--data-dir and --raw-dir, the same in every lesson that trains on the banknote split."""
    from tools.cli import folder_path  # tools.cli is light; imported here to keep this module's head short
    parser.add_argument("--data-dir", type=folder_path, default=None, metavar="DIR",
                        help="the split to train on (default: data/rmb_split)")
    parser.add_argument("--raw-dir", type=folder_path, default=None, metavar="DIR",
                        help="photos to split if needed (default: data/RMB_data)")


def prepare_split(args) -> tuple:
    """(split_dir, data source) for a training lesson: --data-dir as it is; otherwise the default split
    (data/rmb_split, or quick_data/ with --quick), made by running lesson 01 if it is missing."""
    default_raw, default_split = default_rmb_dirs(args.quick, args.out_dir)
    split_dir = args.data_dir or default_split
    if args.data_dir is not None and args.raw_dir is None:  # a split the user names is used as it is
        if not existing_folder(split_dir, "--data-dir"):
            fail(f"--data-dir {split_dir}: no such folder (expected {split_dir}/train, valid and test)")
    else:
        ensure_rmb_split(split_dir, args.raw_dir or default_raw, may_generate=args.raw_dir is None, quick=args.quick)
    return split_dir, split_data_source(split_dir)


def ensure_rmb_split(split_dir: Path, raw_dir: Path, may_generate: bool, quick: bool) -> None:
    """Make split_dir from raw_dir if it is missing, by running lesson_models/01_split_dataset.py.

    raw_dir is drawn first if it is missing and `may_generate` (it is the default folder); a missing
    raw_dir that the user named is an error. The split is 01's default (seed DEFAULT_SPLIT_SEED).
    """
    split_dir, raw_dir = Path(split_dir), Path(raw_dir)
    check_split_dirs(raw_dir, split_dir, split_flag="--data-dir")
    if existing_folder(split_dir, "--data-dir") and any(split_dir.iterdir()):
        made_from = _manifest(split_dir).get("raw_dir")
        if not may_generate and made_from and Path(made_from) != raw_dir.resolve():
            fail(f"--raw-dir {raw_dir}: the split in {split_dir} was made from {made_from}; "
                 "delete it, or name another split folder with --data-dir")
        return
    if not existing_folder(raw_dir, "--raw-dir"):
        if not may_generate:
            fail(f"--raw-dir {raw_dir}: no such folder (expected {raw_dir}/1 and {raw_dir}/100)")
        draw_synthetic_photos(raw_dir, quick)
    print(f"{split_dir} is missing: running {SPLIT_LESSON.relative_to(REPO_ROOT).as_posix()} to make it.",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="01_split_dataset-") as out_dir:  # its figure is not needed here
        command = [sys.executable, *(f"-W{option}" for option in sys.warnoptions), str(SPLIT_LESSON),
                   "--raw-dir", str(raw_dir), "--split-dir", str(split_dir), "--seed", str(DEFAULT_SPLIT_SEED),
                   "--device", "cpu", "--out-dir", out_dir]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                 env=dict(os.environ, PYTHONIOENCODING="utf-8"))
        try:
            stdout, stderr = child.communicate()
        except BaseException:  # Ctrl-C or SIGTERM here: let 01 stop cleanly (it removes its partial folder)
            child.terminate()
            child.communicate()
            raise
    print("".join(f"  | {line}\n" for line in stdout.decode("utf-8", "replace").splitlines()), end="")
    if child.returncode != 0:
        said = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        cause = said[-1].split(": ", 1)[-1] if said else f"it exited with status {child.returncode}"
        raise LessonError(f"{SPLIT_LESSON.name} could not make the split: {cause}",
                          child.returncode if child.returncode in (1, 2) else 1)


# Writing a folder safely ---------------------------------------------------------------------------

def write_folder(final: Path, fill, what: str) -> bool:
    """Make the folder `final` by fill(folder) into a temporary sibling, renamed when complete.

    An interrupted run (Ctrl-C, SIGTERM, an error, a full disk) removes its temporary folder; one
    killed outright leaves it, and a later run removes it once its process has ended. When another
    run made `final` first, ours is compared with it: the same content is used (returns False),
    anything else is refused. Returns True when ours was put in place.
    """
    final = Path(final)
    remove_stale_partials(final)
    partial = final.with_name(f"{final.name}{PARTIAL}{os.getpid()}")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fill(partial)
        try:
            _rename_into_place(partial, final)
            return True
        except OSError:
            if not (final.is_dir() and any(final.iterdir())):
                raise
        # Another run finished first. Its folder is complete (a rename is atomic): is it ours?
        if not _same_files(_files_under(partial), final):
            fail(f"{what} {final}: another run made it at the same time, with different content")
        print(f"{final}: another run made it at the same time, with the same content; using it.")
        return False
    except OSError as error:
        fail(f"{what} {final}: cannot be written ({os_error_line(error)})")
    finally:
        if partial.exists():
            _remove_despite_signals(partial)


def remove_stale_partials(final: Path) -> None:
    """Remove <final>.partial-<pid> folders whose process has ended (a run killed outright)."""
    final = Path(final)
    for partial in final.parent.glob(glob.escape(final.name) + PARTIAL + "*"):
        pid_text = partial.name[len(final.name) + len(PARTIAL):]
        if not pid_text.isdigit() or not partial.is_dir():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or not process_alive(pid):  # our own id: a run before a restart
            shutil.rmtree(partial, ignore_errors=True)
            print(f"Removed {partial}, left by an interrupted run (process {pid} has ended).")


def _remove_despite_signals(folder: Path) -> None:
    """shutil.rmtree that a second Ctrl-C or a SIGTERM does not cut short: they wait until it is done."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread handles signals
        shutil.rmtree(folder, ignore_errors=True)
        return
    pending = []
    signals = [number for number in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if number is not None]
    previous = {number: signal.signal(number, lambda number, frame: pending.append(number)) for number in signals}
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        for number in pending:
            signal.raise_signal(number)


def process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there, not check
        return _windowsprocess_alive(pid)
    try:
        os.kill(pid, 0)  # POSIX: signal 0 only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OverflowError:
        return False
    try:  # Linux: a killed process that its parent has not waited for yet is a zombie, not a runner
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _windowsprocess_alive(pid: int) -> bool:
    import ctypes
    from ctypes import wintypes
    PROCESS_QUERY_LIMITED_INFORMATION, STILL_ACTIVE, ERROR_ACCESS_DENIED = 0x1000, 259, 5
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ctypes.get_last_error() == ERROR_ACCESS_DENIED  # it exists, not ours to open
    try:
        code = wintypes.DWORD()
        return not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value == STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _rename_into_place(partial: Path, final: Path) -> None:
    """os.rename: atomic; on POSIX it also replaces an empty folder, and fails on a non-empty one."""
    try:
        os.rename(partial, final)
    except OSError:
        if os.name != "nt" or not final.is_dir() or any(final.iterdir()):
            raise
        final.rmdir()  # Windows never renames over a folder, even an empty one
        os.rename(partial, final)


def _files_under(folder: Path) -> dict:
    """{relative path with '/': path} of every file under `folder`."""
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): path for path in folder.rglob("*") if path.is_file()}


def _same_files(wanted: dict, folder: Path) -> bool:
    """True if `folder` holds exactly the files of `wanted` ({relative path: file with the wanted
    bytes}), byte for byte; a split's manifest is not compared (it names the photo folder's path)."""
    present = {relative: path for relative, path in _files_under(folder).items() if relative != MANIFEST_FILE}
    wanted = {relative: path for relative, path in wanted.items() if relative != MANIFEST_FILE}
    if present.keys() != wanted.keys():
        return False
    return all(path.stat().st_size == wanted[relative].stat().st_size
               and path.read_bytes() == wanted[relative].read_bytes() for relative, path in present.items())
