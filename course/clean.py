"""Remove what runs made, never what you put there.

    python course/clean.py            # remove outputs/, the generated banknote photos and the split
    python course/clean.py --dry-run  # only list what would be removed

- outputs/ holds only what lessons and the course runner wrote: removed whole.
- data/RMB_data: only the photos that tools/rmb_synthetic.py drew, as listed in its marker file
  (SYNTHETIC.txt); a photo of yours in the same folders stays, and so does the folder then.
- data/rmb_split: removed when its split.json says a lesson made it (a copy of data/RMB_data); a
  split you made yourself has no such file and stays.
- data/*.partial-*: half-made folders of an interrupted run.
"""
import argparse
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools import DATA_DIR, OUTPUTS_DIR
from tools.cli import make_console_safe
from tools.rmb_synthetic import CLASS_NAMES, MARKER_FILE

SPLIT_MANIFEST = "split.json"  # written by tools/rmb.py into every split it makes


OLD_GENERATOR_NAME = re.compile(r"\d{4}\.jpg")  # 0000.jpg ...: what a marker without a list covers


def generated_photos(raw_dir: Path) -> list:
    """The files the generator's marker lists (one relative path a line; '#' lines are comments).

    A marker written before the generator listed its files names none: then the generator's own
    file names (NNNN.jpg in 1/ and 100/) are taken as its photos.
    """
    marker = raw_dir / MARKER_FILE
    if not marker.is_file():
        return []
    lines = marker.read_text(encoding="utf-8").splitlines()
    listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    files = [raw_dir / name for name in listed if (raw_dir / name).is_file()]
    if not any(line.startswith("#") for line in lines):  # the old marker: prose, no list
        files = [path for name in CLASS_NAMES if (raw_dir / name).is_dir()
                 for path in sorted((raw_dir / name).iterdir()) if OLD_GENERATOR_NAME.fullmatch(path.name)]
    return files + [marker]


def remove_empty_folders(root: Path, dry_run: bool) -> None:
    for folder in sorted((path for path in root.rglob("*") if path.is_dir()), reverse=True) + [root]:
        if folder.is_dir() and not any(folder.iterdir()) and not dry_run:
            folder.rmdir()


def main(argv=None) -> int:
    make_console_safe()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    args = parser.parse_args(argv)
    verb = "would remove" if args.dry_run else "removed"

    whole_folders = [OUTPUTS_DIR] if OUTPUTS_DIR.is_dir() else []
    split_dir = DATA_DIR / "rmb_split"
    if (split_dir / SPLIT_MANIFEST).is_file():
        whole_folders.append(split_dir)
    whole_folders += sorted(DATA_DIR.glob("*.partial-*"))
    for folder in whole_folders:
        print(f"{verb} {folder}")
        if not args.dry_run:
            shutil.rmtree(folder)

    raw_dir = DATA_DIR / "RMB_data"
    photos = generated_photos(raw_dir)
    for path in photos:
        if not args.dry_run:
            path.unlink()
    if photos:
        print(f"{verb} {len(photos) - 1} generated photos and the marker in {raw_dir}")
        remove_empty_folders(raw_dir, args.dry_run)
        if raw_dir.is_dir() and not args.dry_run:
            print(f"kept {raw_dir}: it holds files the generator did not make")
    if not whole_folders and not photos:
        print("nothing to remove")
    return 0


if __name__ == "__main__":
    sys.exit(main())
