"""The banknote ("RMB") data of the course: the Dataset, its decode-once variant, and the split.

Course layout (what the course's photos look like once unpacked, and what the synthetic generator
in tools/rmb_synthetic.py writes):

    data/RMB_data/1/*.jpg      100 photos of 1-yuan notes      label 0
    data/RMB_data/100/*.jpg    100 photos of 100-yuan notes    label 1

`split_rmb` copies them into data/rmb_split/{train,valid,test}/{1,100} (80/10/10 per class), and
`RMBDataset(data_dir, transform)` reads one of those folders.
"""
import hashlib
import json
import os
import random
from pathlib import Path

from torch.utils.data import Dataset
from torchvision import transforms

from tools import DATA_DIR
from tools.errors import fail
from tools.images import open_rgb
from tools.rmb_synthetic import CLASS_NAMES, MARKER_FILE, PHOTO_SIZE, write_synthetic_rmb

LABELS = {"1": 0, "100": 1}  # the course's rmb_label
# What counts as a photo. Everything else (Thumbs.db, .DS_Store, notes.txt) is skipped, and so are
# hidden files: macOS leaves "._IMG_0001.jpg" resource forks beside photos copied to a USB stick.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SPLIT_PARTS = ("train", "valid", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
MIN_PHOTOS_PER_CLASS = 10  # fewer would leave the valid or test part of 80/10/10 empty
MANIFEST_FILE = "split.json"
DEFAULT_SPLIT_SEED = 1  # the split that lesson_models/01 makes by default, and 02 when it splits
# --quick draws the same number of photos, much smaller: ~25× less to draw and decode, and on the
# 32×32 inputs the network sees they are just as hard.
QUICK_PHOTO_SIZE = (240, 120)


def image_files(folder: Path, what: str = "image folder") -> list:
    """The photos in `folder`, sorted by name; a missing folder or one without photos is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        fail(f"{what} {folder}: no such folder")
    files = sorted(path for path in folder.iterdir()
                   if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
                   and not path.name.startswith("."))
    if not files:
        fail(f"{what} {folder}: holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def rmb_samples(data_dir: Path) -> list:
    """[(path, label), ...] for data_dir/1 and data_dir/100, class by class, files in sorted order."""
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        fail(f"RMB data folder {data_dir}: no such folder (expected {data_dir}/1 and {data_dir}/100)")
    return [(path, LABELS[name]) for name in CLASS_NAMES
            for path in image_files(data_dir / name, "RMB class folder")]


class RMBDataset(Dataset):
    """The course's Dataset: every __getitem__ decodes the full photo, then applies `transform`.

    data_dir holds one folder per class, `1` and `100`. Any image mode (RGBA, grayscale, palette)
    comes out RGB; a file that does not decode is one line on stderr naming it, and exit status 2.
    """

    def __init__(self, data_dir: "str | Path", transform=None):
        self.data_dir = Path(data_dir)
        self.samples = rmb_samples(self.data_dir)  # [(path, label), ...]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = open_rgb(path, "RMB image")  # decodes the whole photo: ~1200×600 pixels
        if self.transform is not None:
            image = self.transform(image)
        return image, label


def _split_cacheable(transform) -> tuple:
    """Split a Compose into its leading deterministic resize steps (cacheable) and the rest."""
    steps = list(transform.transforms) if isinstance(transform, transforms.Compose) else [transform]
    cut = 0
    while cut < len(steps) and isinstance(steps[cut], (transforms.Resize, transforms.CenterCrop)):
        cut += 1
    if not any(isinstance(step, transforms.Resize) for step in steps[:cut]):
        raise ValueError("the decode-once cache needs a transform that starts with Resize: caching full-size "
                         "photos would fill the memory")
    return transforms.Compose(steps[:cut]), transforms.Compose(steps[cut:])


class CachedRMBDataset(RMBDataset):
    """RMBDataset that decodes each photo once: the same data, the same transform, ~10× faster.

    The transform's leading Resize (a fixed function of the photo) runs once per photo, on first
    use, and its small result (a 32×32 PIL image: 3 kB instead of 2 MB) is kept; the rest of the
    transform (RandomCrop, ToTensor, Normalize) still runs on every __getitem__, so each epoch
    draws new crops. Given the same random numbers it returns exactly what RMBDataset returns.
    The cache lives in this process: with DataLoader(num_workers > 0) every worker would fill
    its own copy.
    """

    def __init__(self, data_dir: "str | Path", transform):
        super().__init__(data_dir, transform)
        self.cached_transform, self.per_epoch_transform = _split_cacheable(transform)
        self._cache = [None] * len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        if self._cache[index] is None:
            self._cache[index] = self.cached_transform(open_rgb(path, "RMB image"))
        return self.per_epoch_transform(self._cache[index]), label

    @property
    def decoded_count(self) -> int:
        return sum(image is not None for image in self._cache)


# The split ----------------------------------------------------------------------------------------

def folder_checksum(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes under `folder`: equal iff nothing changed."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def data_source(raw_dir: Path) -> str:
    """"synthetic" if tools/rmb_synthetic.py drew the photos in raw_dir, else "user"."""
    return "synthetic" if (Path(raw_dir) / MARKER_FILE).is_file() else "user"


def plan_split(raw_dir: Path, seed: int) -> dict:
    """{part: {class: [source paths]}}: per class, the sorted listing shuffled by `seed`, cut 80/10/10."""
    rng = random.Random(seed)  # Python's own generator: the same shuffle on every platform
    plan = {part: {} for part in SPLIT_PARTS}
    for name in CLASS_NAMES:
        files = image_files(Path(raw_dir) / name, "RMB class folder")
        if len(files) < MIN_PHOTOS_PER_CLASS:
            fail(f"RMB class folder {Path(raw_dir) / name}: {len(files)} images, an 80/10/10 split needs "
                 f"at least {MIN_PHOTOS_PER_CLASS}")
        rng.shuffle(files)
        # The course's cut points: int(n * 0.8) and int(n * 0.9).
        train_end = int(len(files) * SPLIT_FRACTIONS[0])
        valid_end = int(len(files) * (SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]))
        plan["train"][name] = files[:train_end]
        plan["valid"][name] = files[train_end:valid_end]
        plan["test"][name] = files[valid_end:]
    return plan


def split_counts(plan: dict) -> dict:
    return {part: {name: len(files) for name, files in classes.items()} for part, classes in plan.items()}


def _existing_split(split_dir: Path) -> dict:
    return {path.relative_to(split_dir).as_posix(): path.stat().st_size
            for part in SPLIT_PARTS for path in (split_dir / part).rglob("*") if path.is_file()}


def split_rmb(raw_dir: Path, split_dir: Path, seed: int = DEFAULT_SPLIT_SEED) -> dict:
    """Copy raw_dir/{1,100} into split_dir/{train,valid,test}/{1,100}, 80/10/10 per class.

    Only reads raw_dir (copies, never moves). An existing split_dir that already holds exactly this
    split is left as it is; one that holds anything else is an error (nothing is deleted).
    Returns {"counts": {part: {class: n}}, "copied": bool, "data_source": "synthetic" | "user"}.
    """
    raw_dir, split_dir = Path(raw_dir).expanduser(), Path(split_dir).expanduser()
    if not raw_dir.is_dir():
        fail(f"RMB data folder {raw_dir}: no such folder (expected {raw_dir}/1 and {raw_dir}/100)")
    plan = plan_split(raw_dir, seed)
    wanted = {f"{part}/{name}/{path.name}": path.stat().st_size
              for part, classes in plan.items() for name, files in classes.items() for path in files}
    source = data_source(raw_dir)
    result = {"counts": split_counts(plan), "copied": False, "data_source": source}

    if split_dir.exists() and not split_dir.is_dir():
        fail(f"split folder {split_dir}: is a file, not a folder")
    if split_dir.is_dir() and any(split_dir.iterdir()):
        if _existing_split(split_dir) == wanted:
            return result  # the same split is already there: re-running changes nothing
        fail(f"split folder {split_dir}: already holds a different split (another seed, or other photos); "
             "delete it or choose another --split-dir")

    # Build the split in a temporary sibling folder and rename it at the end: an interrupted run
    # (Ctrl-C) leaves no half-made split behind that a later run would take for a whole one.
    building = split_dir.with_name(f"{split_dir.name}.partial-{os.getpid()}")
    for part, classes in plan.items():
        for name, files in classes.items():
            target = building / part / name
            target.mkdir(parents=True, exist_ok=True)
            for path in files:
                (target / path.name).write_bytes(path.read_bytes())  # a copy: the source stays as it is
    manifest = {"seed": seed, "raw_dir": str(raw_dir.resolve()), "data_source": source,
                "counts": result["counts"]}
    (building / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if split_dir.is_dir():
        split_dir.rmdir()  # it is empty (checked above)
    os.replace(building, split_dir)
    result["copied"] = True
    return result


def split_data_source(split_dir: Path) -> str:
    """What the split in split_dir was made from, as split_rmb recorded it ("user" if unknown)."""
    manifest = Path(split_dir) / MANIFEST_FILE
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("data_source", "user")
    except (OSError, ValueError):
        return "user"


def split_fingerprint(split_dir: Path) -> str:
    """SHA-256 of the train, valid and test folders (names and bytes): two equal splits, one value."""
    digest = hashlib.sha256()
    for part in SPLIT_PARTS:
        digest.update(part.encode())
        digest.update(folder_checksum(Path(split_dir) / part).encode())
    return digest.hexdigest()


def prepare_raw_photos(raw_dir: Path, per_class: int = 100, size: tuple = PHOTO_SIZE) -> bool:
    """Generate the synthetic photos in raw_dir if it does not exist; True if they were generated.

    Like the split, they are drawn in a temporary sibling folder that is renamed when complete.
    """
    raw_dir = Path(raw_dir)
    if raw_dir.exists():
        return False
    raw_dir.parent.mkdir(parents=True, exist_ok=True)
    building = raw_dir.with_name(f"{raw_dir.name}.partial-{os.getpid()}")
    write_synthetic_rmb(building, per_class=per_class, size=size)
    os.replace(building, raw_dir)
    return True


def default_rmb_dirs(quick: bool, out_dir: Path) -> tuple:
    """(raw_dir, split_dir) when no flag names them: the repo's data/ folder, or for --quick a small
    private set under the out-dir, so that quick runs never touch data/ and can run side by side."""
    if quick:
        return Path(out_dir) / "quick_data" / "RMB_data", Path(out_dir) / "quick_data" / "rmb_split"
    return DATA_DIR / "RMB_data", DATA_DIR / "rmb_split"


def photo_settings(quick: bool) -> dict:
    """How many synthetic photos of which size: the course's 100 per class at ~1200×600, or small ones."""
    return {"per_class": 100, "size": QUICK_PHOTO_SIZE if quick else PHOTO_SIZE}


def generate_photos_announced(raw_dir: Path, quick: bool) -> None:
    """Draw the synthetic photos into raw_dir (which must not exist yet), saying so first."""
    settings = photo_settings(quick)
    print(f"{raw_dir} does not exist: drawing {settings['per_class']} synthetic photos per class "
          f"({settings['size'][0]}×{settings['size'][1]}) into it. Put real photos in {raw_dir}/1 and "
          f"{raw_dir}/100 to use them instead.")
    prepare_raw_photos(raw_dir, **settings)


def ensure_rmb_split(split_dir: Path, raw_dir: Path, may_generate: bool, quick: bool) -> None:
    """Make split_dir from raw_dir (as lesson_models/01 does by default) if split_dir is missing.

    raw_dir is generated first if it is missing and `may_generate` (it is the default folder);
    a missing raw_dir that the user named is an error.
    """
    split_dir, raw_dir = Path(split_dir), Path(raw_dir)
    if split_dir.is_dir() and any(split_dir.iterdir()):
        return
    print(f"{split_dir} is missing: preparing it as lesson_models/01_split_dataset.py does.")
    if not raw_dir.exists():
        if not may_generate:
            fail(f"--raw-dir {raw_dir}: no such folder")
        generate_photos_announced(raw_dir, quick)
    result = split_rmb(raw_dir, split_dir, seed=DEFAULT_SPLIT_SEED)
    counts = result["counts"]
    print(f"Split {raw_dir} ({result['data_source']}) into {split_dir}: "
          + ", ".join(f"{part} {sum(counts[part].values())}" for part in SPLIT_PARTS))
