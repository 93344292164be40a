# %% [markdown]
"""Split the banknote photos into train, valid and test folders: 80/10/10 per class, seeded.

The notes' RMB two-class example (人民币二分类) starts here, before any Dataset is written: the photos
are divided once into train (what the model learns from), valid (watched while training, to choose
epochs and settings) and test (looked at once, at the end). Per class, the sorted listing is shuffled
with a seeded generator and cut at 80 % and 90 %: the same split on every run and machine (the
course's was unseeded). Photos are copied, never moved. Without the course's photos, synthetic ones
are drawn into data/RMB_data first; data/README.md says how to use real ones.

    python lesson_models/01_split_dataset.py                 # data/RMB_data -> data/rmb_split
    python lesson_models/01_split_dataset.py --raw-dir ~/RMB_data --split-dir ~/rmb_split
    python lesson_models/01_split_dataset.py --quick         # small photos, in outputs/quick/

A good breakpoint: `rng.shuffle(photos)`; look at `photos` before and after the step.
"""
# %%
import random
import sys
from pathlib import Path

# This repo's `tools` and `model` first on sys.path, from any working directory. A notebook kernel
# has no __file__: it runs in the lesson's folder.
LESSON_DIR = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(LESSON_DIR.parent))
from tools.errors import install_error_hook  # noqa: E402
install_error_hook()  # from here on, Ctrl-C or a bad input is one line on stderr, never a traceback

import matplotlib.pyplot as plt

from tools.cli import folder_path, lesson_parser, start_lesson
from tools.errors import fail, fail_run
from tools.figures import draw_photo_grid, save_figure
from tools.images import open_rgb
from tools.metrics import record
from tools.rmb_dataset import CLASS_NAMES, image_files
from tools.rmb_prepare import (DEFAULT_SPLIT_SEED, check_split_dirs, copy_split, data_source, default_rmb_dirs,
                               draw_synthetic_photos, existing_folder, folder_checksum, split_fingerprint)

parser = lesson_parser("lesson_models/01_split_dataset.py", __doc__, default_seed=DEFAULT_SPLIT_SEED,
                       quick="200 small synthetic photos (240×120) in quick_data/ beside the out-dir; data/ is not touched")
parser.add_argument("--raw-dir", type=folder_path, default=None, metavar="DIR",
                    help="your photos: DIR/1, DIR/100 (default: data/RMB_data)")
parser.add_argument("--split-dir", type=folder_path, default=None, metavar="DIR",
                    help="where train/, valid/, test/ go (default: data/rmb_split)")
args = start_lesson(parser)

TRAIN_END, VALID_END = 0.8, 0.9  # the course's cuts: train [0, 80 %), valid [80 %, 90 %), test the rest
default_raw, default_split = default_rmb_dirs(args.quick, args.out_dir)
raw_dir = args.raw_dir or default_raw
split_dir = args.split_dir or default_split
check_split_dirs(raw_dir, split_dir)  # usable paths, neither inside the other: before anything is written

# %% The photos: yours, or synthetic ones drawn once
if not existing_folder(raw_dir, "--raw-dir"):
    if args.raw_dir is not None:
        fail(f"--raw-dir {raw_dir}: no such folder (expected {raw_dir}/1 and {raw_dir}/100)")
    draw_synthetic_photos(raw_dir, args.quick)
source = data_source(raw_dir)  # "synthetic" or "user"
print(f"Photos: {raw_dir} ({source})")
record("data_source", source, headline=True)
checksum_before = folder_checksum(raw_dir)  # to show, at the end, that copying left the photos as they were

# %% The split: per class, a sorted listing, a seeded shuffle, cuts at 80 % and 90 %
rng = random.Random(args.seed)  # Python's own generator: the same shuffle on every platform
plan = {"train": {}, "valid": {}, "test": {}}  # {part: {class: [photo paths]}}
for name in CLASS_NAMES:
    photos = image_files(raw_dir / name, "RMB class folder")  # sorted by name: the same start everywhere
    rng.shuffle(photos)
    train_end, valid_end = int(len(photos) * TRAIN_END), int(len(photos) * VALID_END)
    plan["train"][name] = photos[:train_end]
    plan["valid"][name] = photos[train_end:valid_end]
    plan["test"][name] = photos[valid_end:]
    print(f"Class:{name}, train:{train_end}, valid:{valid_end - train_end}, test:{len(photos) - valid_end}")
    if name == CLASS_NAMES[0]:  # the headline: class 1's counts (both classes are printed)
        for part, files in plan.items():
            record(f"{part}_{name}", len(files[name]), headline=True)

# Copy the plan (tools/rmb_prepare.py: every photo checked first, then copied into a temporary folder
# renamed when complete; an existing split is kept if it is this very split, refused if it is another).
copied = copy_split(plan, split_dir, raw_dir, args.seed)
print(f"Copied into {split_dir}" if copied else f"Already in place, nothing copied: {split_dir}")

source_unchanged = folder_checksum(raw_dir) == checksum_before
print(f"Source folder unchanged: {source_unchanged}")
if not source_unchanged:
    fail_run(f"{raw_dir} changed while it was being split (is another program writing there?)")
split_sha256 = split_fingerprint(split_dir)
print(f"Split fingerprint: {split_sha256[:16]} (the same photos and seed give it on any machine)")
record("split_sha256", split_sha256)

# %% Figure: what the photos of each class look like, in each part
COLUMNS = (("train", 0), ("train", 1), ("valid", 0), ("test", 0))  # (part, which photo of it)
fig = plt.figure(figsize=(12, 4.2), layout="constrained")
for row_fig, name in zip(fig.subfigures(len(CLASS_NAMES), 1), CLASS_NAMES):
    photos = [open_rgb(split_dir / part / name / plan[part][name][index].name) for part, index in COLUMNS]
    draw_photo_grid(row_fig, photos, titles=[part for part, _ in COLUMNS], heading=f"{name} yuan", aspect="auto")
fig.suptitle(f"Banknote photos ({source}) after the split")
save_figure(fig, args.out_dir, "split", photo=True, show=args.show,
            caption="Photos of each class (rows) from the train, valid and test folders of the split.")

# %% Summary
total = sum(len(files) for classes in plan.values() for files in classes.values())
print(f"Summary: {total} photos split 80/10/10 per class into {split_dir}; {raw_dir} unchanged. "
      f"Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `split-counts` (the 80/10/10 split of an odd count).
# Read one with `python tools/exercises.py show split-counts`; hand in your answer with
# `python tools/exercises.py check split-counts "..."`.
