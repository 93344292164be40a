"""Split the banknote photos into train, valid and test folders: 80/10/10 per class, seeded.

The notes' model-building lesson trains LeNet to tell 1-yuan from 100-yuan notes (the RMB data).
Before any Dataset is written, the photos are divided once into three folders: train (what the
model learns from), valid (what we watch during training to choose epochs and settings) and test
(looked at once, at the end). Per class, the sorted file listing is shuffled with a seeded
generator and cut at 80 % and 90 %, so the split is the same on every run and every machine (the
course's split was unseeded). The photos are copied, never moved: data/RMB_data stays as it was.

Without the course's photos (they come from a cloud drive), data/RMB_data is first filled with
synthetic banknote photos (tools/rmb_synthetic.py). Put real photos in data/RMB_data/1 and
data/RMB_data/100 and they are used instead, with no code change.

    python lesson_models/01_split_dataset.py                        # data/RMB_data → data/rmb_split
    python lesson_models/01_split_dataset.py --raw-dir ~/RMB_data --split-dir ~/rmb_split
    python lesson_models/01_split_dataset.py --quick                # small photos, under the out-dir

Expect: "Class:1, train:80, valid:10, test:10" and the same for 100. Re-running finds the same split
already in place and changes nothing; a different seed into the same --split-dir is refused (delete
the folder first). --quick draws its own 200 small photos (240×120) under the out-dir and never
touches data/.

Writes to outputs/lesson_models/01_split_dataset/: split.png (the counts, and sample photos of
each class from the train part) and metrics.json (counts per part and class, data_source,
source_unchanged, split_sha256).

A good breakpoint: after `plan = plan_split(...)`; look at plan["valid"]["100"].
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this repo's tools and model first

import matplotlib.pyplot as plt

from tools.cli import lesson_parser, parse_lesson_args
from tools.errors import fail
from tools.figures import save_figure
from tools.images import open_rgb
from tools.metrics import write_metrics
from tools.rmb import (CLASS_NAMES, DEFAULT_SPLIT_SEED, SPLIT_PARTS, data_source, default_rmb_dirs,
                       folder_checksum, generate_photos_announced, image_files, plan_split,
                       split_fingerprint, split_rmb)
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=DEFAULT_SPLIT_SEED)
parser.add_argument("--raw-dir", type=Path, default=None,
                    help="photos in the course layout, <dir>/1 and <dir>/100 (default: data/RMB_data, "
                         "generated if missing; with --quick a small set under the out-dir)")
parser.add_argument("--split-dir", type=Path, default=None,
                    help="where train/, valid/ and test/ go (default: data/rmb_split; with --quick "
                         "under the out-dir)")
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)

default_raw, default_split = default_rmb_dirs(args.quick, args.out_dir)
raw_dir = args.raw_dir.expanduser() if args.raw_dir else default_raw
split_dir = args.split_dir.expanduser() if args.split_dir else default_split
SAMPLES_PER_CLASS = 5  # photos of each class shown in the figure

# %% The photos: the user's, or synthetic ones drawn once
if args.raw_dir is None and not raw_dir.exists():
    generate_photos_announced(raw_dir, args.quick)
if not raw_dir.is_dir():
    fail(f"--raw-dir {raw_dir}: no such folder (expected {raw_dir}/1 and {raw_dir}/100)")
source = data_source(raw_dir)  # "synthetic" or "user"
print(f"Photos: {raw_dir} ({source})")
source_checksum_before = folder_checksum(raw_dir)

# %% The split: sorted listing → seeded shuffle → cut at 80 % and 90 %, per class
plan = plan_split(raw_dir, args.seed)  # {part: {class: [paths]}}, nothing copied yet
for name in CLASS_NAMES:
    print(f"Class:{name}, train:{len(plan['train'][name])}, valid:{len(plan['valid'][name])}, "
          f"test:{len(plan['test'][name])}")

result = split_rmb(raw_dir, split_dir, seed=args.seed)  # copies; refuses to mix with another split
print(f"{'Copied into' if result['copied'] else 'Already in place, nothing copied:'} {split_dir}")

source_unchanged = folder_checksum(raw_dir) == source_checksum_before
split_sha256 = split_fingerprint(split_dir)
print(f"Source folder unchanged: {source_unchanged}; split fingerprint {split_sha256[:12]}…")

# %% Figure: the counts, and what the photos look like
counts = result["counts"]
fig = plt.figure(figsize=(14, 3.6))
grid = fig.add_gridspec(2, SAMPLES_PER_CLASS + 2, width_ratios=[1.6, 0.15] + [1] * SAMPLES_PER_CLASS)
ax_counts = fig.add_subplot(grid[:, 0])
bar_width = 0.38
for offset, name, colour in ((-bar_width / 2, "1", "tab:olive"), (bar_width / 2, "100", "tab:red")):
    positions = [index + offset for index in range(len(SPLIT_PARTS))]
    bars = ax_counts.bar(positions, [counts[part][name] for part in SPLIT_PARTS], bar_width,
                         color=colour, label=f"{name} yuan")
    ax_counts.bar_label(bars)
ax_counts.set_xticks(range(len(SPLIT_PARTS)), SPLIT_PARTS)
ax_counts.set(ylabel="photos", title=f"80/10/10 per class (seed {args.seed})")
ax_counts.legend()
for row, name in enumerate(CLASS_NAMES):
    for column, path in enumerate(image_files(split_dir / "train" / name)[:SAMPLES_PER_CLASS]):
        ax = fig.add_subplot(grid[row, column + 2])
        ax.imshow(open_rgb(path))
        ax.set_title(f"{name} yuan: {path.name}", fontsize=8)
        ax.axis("off")
fig.suptitle(f"The banknote photos ({source}) and their split")
save_figure(fig, args.out_dir, "split", show=args.show)

# %% Metrics and summary
metrics = {f"{part}_{name}": counts[part][name] for part in SPLIT_PARTS for name in CLASS_NAMES}
metrics.update({
    "seed": args.seed,
    "data_source": source,
    "total": sum(metrics.values()),
    "source_unchanged": source_unchanged,
    "split_sha256": split_sha256,
})
write_metrics(args.out_dir, metrics)
print(f"Summary: {metrics['total']} photos split into train {counts['train']}, valid {counts['valid']}, "
      f"test {counts['test']} in {split_dir}; the source is unchanged. Outputs in {args.out_dir}")
