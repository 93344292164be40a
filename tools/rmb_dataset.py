"""The course's banknote ("RMB") Dataset, and what a learner needs beside it.

    data_dir/1/*.jpg      photos of 1-yuan notes      label 0
    data_dir/100/*.jpg    photos of 100-yuan notes    label 1

    train_data = RMBDataset(split_dir / "train", transform=train_transform)
    image, label = train_data[0]      # what the DataLoader collects into batches

data_dir is one part of the split that lesson_models/01_split_dataset.py makes (data/rmb_split/
train, valid or test). Preparing those folders (drawing, copying, recovery) is tools/rmb_prepare.py.
"""
from pathlib import Path

from torch.utils.data import Dataset
from torchvision import transforms

from tools.errors import fail
from tools.images import open_rgb

CLASS_NAMES = ("1", "100")  # the folder names, in label order
LABELS = {"1": 0, "100": 1}  # the course's rmb_label
# ImageNet's channel means and standard deviations, which the notes normalise the banknotes with.
NORM_MEAN, NORM_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
# What counts as a photo. Everything else (Thumbs.db, .DS_Store, notes.txt) is skipped, and so are
# hidden files: macOS leaves "._IMG_0001.jpg" resource forks beside photos copied to a USB stick.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _photos_in(folder: Path, what: str) -> list:
    """The photos directly in `folder`, sorted by name (may be empty); a missing folder is an error."""
    try:
        return sorted((path for path in folder.iterdir()
                       if path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
                       and path.is_file()), key=lambda path: path.name)
    except FileNotFoundError:
        fail(f"{what} {folder}: no such folder")
    except NotADirectoryError:
        fail(f"{what} {folder}: is a file, not a folder")
    except OSError as error:  # no permission, a name over 255 bytes
        fail(f"{what} {folder}: {error.strerror or error}")


def image_files(folder: "str | Path", what: str = "image folder") -> list:
    """The photos in `folder`, sorted by name; a missing folder or one without photos is an error.

    Sorted, not os.listdir's order (which differs between file systems): the course's script lists
    with os.listdir, so its runs match these only once its listing is sorted too.
    """
    files = _photos_in(Path(folder), what)
    if not files:
        fail(f"{what} {folder}: holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def labelled_image_files(folder: "str | Path", what: str = "image folder") -> list:
    """[(path, label or None)] of the photos in `folder` and in its subfolders, sorted by path.

    A photo in a subfolder named after a class (the course's test_data/100/100.jpg) gets that
    class's label; any other photo gets None. No photo at all is an error.
    """
    folder = Path(folder)
    found = [(path, None) for path in _photos_in(folder, what)]
    for sub in sorted(path for path in folder.iterdir() if path.is_dir() and not path.name.startswith(".")):
        found += [(path, LABELS.get(sub.name)) for path in _photos_in(sub, what)]
    if not found:
        fail(f"{what} {folder}: holds no images, neither in it nor in its subfolders "
             f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return found


class RMBDataset(Dataset):
    """The course's Dataset: data_dir/1 and data_dir/100 hold the photos; item i is (image, label).

    resize_once=None: every __getitem__ decodes the whole photo, then applies `transform`, as the
    course does. resize_once=(32, 32): every photo is decoded once, here, and kept resized to that
    size (the transform's own Resize then has nothing left to do); the random steps of `transform`
    (RandomCrop) still draw anew on every __getitem__, so each epoch sees new crops.
    """

    def __init__(self, data_dir: "str | Path", transform=None, resize_once=None):
        self.data_dir = Path(data_dir)
        if not self.data_dir.is_dir():
            fail(f"RMB data folder {self.data_dir}: no such folder (expected {self.data_dir}/1 and /100)")
        self.samples = [(path, LABELS[name]) for name in CLASS_NAMES  # [(path, label), ...]
                        for path in image_files(self.data_dir / name, "RMB class folder")]
        self.transform = transform
        self.images = None  # the photos resized once, or None to decode on every __getitem__
        if resize_once is not None:
            resize = transforms.Resize(resize_once)
            self.images = [resize(open_rgb(path, "RMB image")) for path, _ in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        if self.images is None:
            image = open_rgb(path, "RMB image")  # decodes the whole photo (about 1200×600)
        else:
            image = self.images[index]  # already small: decoded once, in __init__
        if self.transform is not None:
            image = self.transform(image)
        return image, label
