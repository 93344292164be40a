"""Remove what runs made, never what you put there.

    python course/clean.py            # remove what lessons and the course runner wrote
    python course/clean.py --dry-run  # only list what would be removed, and what would be kept

A file is removed only while its bytes are still what was written (the SHA-256 its writer
recorded), only inside the folder that record is in, never through a link or a '..' path:

- outputs/: the files course/run_all.py lists in its run_all-record.json (outputs/, outputs/quick/),
  then the record. A lesson run on its own keeps no such record: its outputs stay, and are listed.
- data/RMB_data (and any photo folder under outputs/): the photos tools/rmb_synthetic.py drew, as
  its SYNTHETIC.txt lists them with their checksums, then that marker. A marker of an older version,
  without checksums, names nothing: then every photo stays.
- data/rmb_split (and any split under outputs/): the copies its split.json lists with their
  checksums, then split.json. A file you added to the split stays.
- <folder>.partial-<pid>: a half-made folder of a run that has ended; never one a running process
  is writing.

Every file kept in those folders is listed with the reason (over 20 unrecorded ones in a folder:
counted, three named). Folders that the removals leave empty are removed.
Exit status: 0; 2 for a bad flag.
"""
import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.errors import install_error_hook  # noqa: E402
if __name__ == "__main__":
    install_error_hook()  # from here on Ctrl-C or a bad flag is one line, never a traceback

from course.run_all import RECORD_FILE  # noqa: E402
from tools import DATA_DIR, OUTPUTS_DIR  # noqa: E402
from tools.cli import LessonArgumentParser, make_console_safe  # noqa: E402
from tools.rmb_prepare import MANIFEST_FILE, PARTIAL, process_alive  # noqa: E402
from tools.metrics import file_sha256  # noqa: E402
from tools.rmb_synthetic import MARKER_FILE  # noqa: E402

# A marker line in sha256sum's format: '<64 hex digits>  <relative/posix/path>' ('*' for binary mode).
MARKER_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
GENERATOR = "tools/rmb_synthetic.py"
SPLITTER = "lesson_models/01_split_dataset.py"
RUNNER = "course/run_all.py"
MAX_LISTED = 20  # kept files listed one by one per folder; more are counted


def inside(root: Path, relative: str) -> "Path | None":
    """root/relative when `relative` names a path inside root: not absolute, no '..', no link on
    the way (a link could lead anywhere). Else None."""
    if not relative or PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).anchor:
        return None
    parts = PurePosixPath(relative).parts
    if ".." in parts:
        return None
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    return path


def marker_files(marker: Path) -> dict:
    """{relative path: sha256} of the marker's lines; a line without a checksum names nothing."""
    lines = marker.read_text(encoding="utf-8", errors="replace").splitlines()
    matches = (MARKER_LINE.fullmatch(line) for line in lines if line.strip() and not line.startswith("#"))
    return {match[2]: match[1].lower() for match in matches if match}


def manifest_files(manifest: Path) -> dict:
    """{relative path: sha256} of split.json's "files" ({} for an older split.json without them)."""
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {name: sha for name, sha in files.items() if isinstance(sha, str)} if isinstance(files, dict) else {}


def record_files(record: Path) -> dict:
    """{relative path: sha256} of what course/run_all.py recorded writing ({} if not its record)."""
    try:
        files = json.loads(record.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {name: sha for name, sha in files.items() if isinstance(sha, str)} if isinstance(files, dict) else {}


def live_partial_pid(folder: Path) -> "int | None":
    """The process id of '<name>.partial-<pid>' if that process is still running, else None."""
    pid = folder.name.rpartition(PARTIAL)[2]
    return int(pid) if pid.isdigit() and process_alive(int(pid)) else None


class Cleanup:
    """What is removed and what is kept (with why); with dry_run, nothing is removed."""

    def __init__(self, dry_run: bool):
        self.dry_run = dry_run
        self.removed = set()  # files removed (or, in a dry run, that would be)
        self.reasons = {}  # a kept path: why it is kept
        self.emptied = set()  # folders a removal may have left empty

    def say(self, text: str) -> None:
        print(f"{'would remove' if self.dry_run else 'removed'} {text}")

    def keep(self, path: Path, reason: str) -> None:
        self.reasons.setdefault(path, reason)

    def remove_file(self, path: Path) -> None:
        if not self.dry_run:
            path.unlink()
        self.removed.add(path)
        self.emptied.add(path.parent)

    def remove_listed(self, root: Path, listed: dict, bookkeeping: Path, writer: str) -> None:
        """Remove the files `listed` ({relative path: sha256}) under root that still have that
        content, then `bookkeeping` (the marker, split.json or record that listed them)."""
        count = 0
        for relative, sha in sorted(listed.items()):
            path = inside(root, relative)
            if path is None:
                self.keep(Path(relative), f"listed in {bookkeeping}, but not a path inside {root}")
            elif path.is_file() and path not in self.removed:
                if file_sha256(path) == sha:
                    self.remove_file(path)
                    count += 1
                else:
                    self.keep(path, f"its content is not what {writer} wrote")
        self.remove_file(bookkeeping)
        self.say(f"{count} file(s) that {writer} wrote, and {bookkeeping.name}, from {root}")

    def remove_partial(self, folder: Path) -> None:
        pid = live_partial_pid(folder)
        if pid is not None:
            self.keep(folder, f"process {pid} is writing it")
            return
        if not self.dry_run:
            shutil.rmtree(folder)
        self.removed.update(path for path in folder.rglob("*") if not path.is_dir())
        self.emptied.add(folder.parent)
        self.say(f"{folder}: a half-made folder of a run that has ended")

    def clean_folder(self, folder: Path) -> None:
        """A folder with a marker, a split manifest or a course record in it."""
        if (folder / RECORD_FILE).is_file() and folder / RECORD_FILE not in self.removed:
            self.remove_listed(folder, record_files(folder / RECORD_FILE), folder / RECORD_FILE, RUNNER)
        if (folder / MARKER_FILE).is_file() and folder / MARKER_FILE not in self.removed:
            listed = marker_files(folder / MARKER_FILE)
            if listed:
                self.remove_listed(folder, listed, folder / MARKER_FILE, GENERATOR)
            else:
                self.keep(folder / MARKER_FILE, "an older marker without checksums: it names no file for certain")
        if (folder / MANIFEST_FILE).is_file() and folder / MANIFEST_FILE not in self.removed:
            listed = manifest_files(folder / MANIFEST_FILE)
            if listed:
                self.remove_listed(folder, listed, folder / MANIFEST_FILE, SPLITTER)
            else:
                self.keep(folder / MANIFEST_FILE, "an older split.json without checksums: it names no file for certain")

    def remaining(self, folder: Path) -> list:
        """What is left under folder (links included, never followed), after the removals."""
        left = []
        for parent, folders, files in os.walk(folder):
            for name in files + [name for name in folders if (Path(parent) / name).is_symlink()]:
                path = Path(parent) / name
                if path not in self.removed:
                    left.append(path)
            folders[:] = [name for name in folders if Path(parent) / name not in self.reasons]  # kept whole
        return sorted(left)

    def remove_empty_folders(self, top: Path) -> None:
        """Remove the folders below `top` (and top) that removals left empty, up to top."""
        if self.dry_run:
            return
        for folder in sorted(self.emptied, key=lambda path: len(path.parts), reverse=True):
            while folder.is_dir() and not folder.is_symlink() and (folder == top or top in folder.parents):
                if any(folder.iterdir()):
                    break
                folder.rmdir()
                folder = folder.parent


def managed_folder(path: Path, cleanup: Cleanup) -> bool:
    """True if `path` is a folder clean.py may look into: not a link, not a file."""
    if path.is_symlink():
        cleanup.keep(path, "a link: clean.py follows no links")
        return False
    if path.exists() and not path.is_dir():
        cleanup.keep(path, "not a folder")
        return False
    return path.is_dir()


def clean_outputs(outputs: Path, cleanup: Cleanup) -> list:
    """Records, markers, split manifests and dead partial folders under outputs/; returns the top
    folder whose leftovers are listed ([] if it is not managed)."""
    if not managed_folder(outputs, cleanup):
        return []
    partials = []
    for parent, _, _ in os.walk(outputs):  # os.walk follows no links
        folder = Path(parent)
        if any(partial in folder.parents for partial in partials):
            continue  # inside a half-made folder, handled whole
        if PARTIAL in folder.name:
            partials.append(folder)
            cleanup.remove_partial(folder)
        elif folder.is_dir():
            cleanup.clean_folder(folder)
    return [outputs]


def clean_data(data: Path, cleanup: Cleanup) -> list:
    """data/RMB_data, data/rmb_split and data/*.partial-*; returns the folders whose leftovers are listed."""
    if not managed_folder(data, cleanup):
        return []
    listed = []
    for name in ("RMB_data", "rmb_split"):
        if managed_folder(data / name, cleanup):
            cleanup.clean_folder(data / name)
            listed.append(data / name)
    for folder in sorted(data.glob(f"*{PARTIAL}*")):
        if managed_folder(folder, cleanup):
            cleanup.remove_partial(folder)
    return listed


def main(argv=None) -> int:
    make_console_safe()
    parser = LessonArgumentParser(prog="clean.py", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed and kept, remove nothing")
    args = parser.parse_args(argv)
    cleanup = Cleanup(args.dry_run)
    listed_folders = clean_outputs(OUTPUTS_DIR, cleanup) + clean_data(DATA_DIR, cleanup)
    unrecorded = {}  # folder: the files left there that no record names
    for folder in listed_folders:
        unrecorded[folder] = [path for path in cleanup.remaining(folder) if path not in cleanup.reasons]
    for folder in listed_folders:
        cleanup.remove_empty_folders(folder)
    for path, reason in sorted(cleanup.reasons.items()):
        if path not in cleanup.removed:
            print(f"kept {path}: {reason}")
    for folder, paths in unrecorded.items():
        if len(paths) > MAX_LISTED:  # e.g. a folder of your own photos: one line, not hundreds
            print(f"kept {len(paths)} files in {folder} that no record says a run wrote "
                  f"({', '.join(path.relative_to(folder).as_posix() for path in paths[:3])}, ...)")
        else:
            for path in paths:
                print(f"kept {path}: no record says a run wrote it")
    if not cleanup.removed and not cleanup.reasons and not any(unrecorded.values()):
        print("nothing to remove")
    return 0


if __name__ == "__main__":
    sys.exit(main())
