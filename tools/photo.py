"""The lesson photo: matplotlib's grace_hopper.jpg, cropped to the notes' 512×512, or the user's own.

The notes run their layers on a 512×512 photo that a learner does not have. Every learner does have
matplotlib's sample photo of Grace Hopper (public domain, 512 wide × 600 high, shipped inside
matplotlib, so it is there offline). Its centre 512×512 crop makes every shape in the notes
reproduce. `--image PATH` takes any picture instead, uncropped, so a learner can see the same layers
on their own photo and check the output-size formulas on a non-square input.

    add_image_flag(parser)
    args = start_lesson(parser)
    photo = load_photo(args.image)               # photo.image is an RGB PIL image
    img_tensor = transforms.ToTensor()(photo.image)  # the lesson writes the notes' two lines itself
    img_tensor.unsqueeze_(dim=0)
    ax.imshow(rgb_picture(img_pool))             # back to a picture (ToTensor undone)
    draw_signed(fig, ax, img_conv, "Conv2d")     # a raw output: purple below 0, orange above
"""
import argparse
import errno
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib import cbook
from PIL import Image
from torchvision import transforms

from tools.errors import fail, os_error_line
from tools.figures import DIVERGING_CMAP
from tools.images import open_rgb, transform_invert

SAMPLE_PHOTO = "grace_hopper.jpg"
PHOTO_SIDE = 512  # the notes' photo is 512×512
MAX_IMAGE_SIDE = 1024  # a user's photo larger than this is downscaled: the lesson stays fast
ROBUST_PERCENTILE = 99.0  # colour limits of a signed map: a few extreme pixels do not wash out the rest


@dataclass
class LessonPhoto:
    image: Image.Image  # RGB, what the lesson uses
    source: str  # where it came from and what was done to it, for the printout
    original_size: tuple  # (width, height) before any crop or downscale
    downscaled: bool  # True when a large --image was made smaller


def add_image_flag(parser: argparse.ArgumentParser, min_side: int = 1) -> None:
    """Add `--image PATH` (the same flag, the same help, in every lesson that uses the photo);
    min_side: the shortest side the lesson's layers need, after the downscale (said in --help)."""
    parser.add_argument("--image", type=Path, default=None, metavar="PATH",
                        help=f"your own picture, not cropped, downscaled above {MAX_IMAGE_SIDE} px; "
                             f"each side at least {min_side} px after that "
                             f"(default: the centre 512×512 of matplotlib's {SAMPLE_PHOTO})")


def sample_photo_path() -> Path:
    """Where matplotlib keeps grace_hopper.jpg (inside its own package data, no download)."""
    path = Path(cbook.get_sample_data(SAMPLE_PHOTO, asfileobj=False))
    if not path.is_file():
        fail(f"matplotlib's sample photo {SAMPLE_PHOTO} is missing ({path}); "
             "reinstall matplotlib or pass --image PATH")
    return path


def center_crop(image: Image.Image, width: int, height: int) -> Image.Image:
    """The middle width×height of `image` (which must be at least that large)."""
    if image.width < width or image.height < height:
        raise ValueError(f"cannot crop {image.width}×{image.height} to {width}×{height}")
    left = (image.width - width) // 2
    top = (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def downscale_to_fit(image: Image.Image, max_side: int) -> Image.Image:
    """Shrink so that the longest side is max_side, keeping the aspect ratio (never enlarges)."""
    scale = max_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _open_user_image(image_path: Path) -> Image.Image:
    """open_rgb, with an OS error about the path itself (a name over 255 characters, a folder we
    may not enter) as the same one line naming --image, instead of a traceback."""
    try:
        return open_rgb(image_path, what="--image")
    except OSError as error:
        cause = "the path is too long" if error.errno == errno.ENAMETOOLONG else os_error_line(error)
        fail(f"--image {str(image_path)[:80]}{'…' if len(str(image_path)) > 80 else ''}: {cause}")


def load_photo(image_path: "str | Path | None" = None, max_side: int = MAX_IMAGE_SIDE,
               min_side: int = 1) -> LessonPhoto:
    """The built-in photo (centre-cropped to 512×512) or the user's picture (as it is, in RGB).

    A user's path that is missing, too long or does not decode, or a picture with a side shorter than
    `min_side` pixels (too small for the lesson's layers), as it is or once downscaled (a very thin
    picture: 5000×2 becomes 1024×1), is one line on stderr naming --image, and exit status 2.
    """
    if image_path is None:
        original = open_rgb(sample_photo_path(), what="matplotlib sample photo")
        image = center_crop(original, PHOTO_SIDE, PHOTO_SIDE)
        source = (f"matplotlib's {SAMPLE_PHOTO} ({original.width}×{original.height}), "
                  f"centre-cropped to {PHOTO_SIDE}×{PHOTO_SIDE}")
        return LessonPhoto(image, source, original.size, downscaled=False)

    original = _open_user_image(Path(image_path))
    if min(original.size) < min_side:
        fail(f"--image {image_path}: {original.width}×{original.height} px is too small; "
             f"this lesson needs at least {min_side}×{min_side}")
    image = downscale_to_fit(original, max_side)
    if min(image.size) < min_side:
        fail(f"--image {image_path}: {original.width}×{original.height} px is too thin: downscaled to "
             f"{image.width}×{image.height} (longest side {max_side}) it has a side under {min_side} px, "
             f"which this lesson needs")
    downscaled = image.size != original.size
    source = f"{Path(image_path).name} ({original.width}×{original.height})"
    if downscaled:
        source += f", downscaled to {image.width}×{image.height} (longest side > {max_side} px)"
    return LessonPhoto(image, source, original.size, downscaled)


def rgb_picture(tensor: torch.Tensor) -> Image.Image:
    """A (1, 3, H, W) or (3, H, W) tensor made by transforms.ToTensor(), as an RGB picture again.

    ToTensor is undone and values outside [0, 255] are clamped (tools.images.transform_invert), which
    is right for pooled photos: their values stay within the input's range.
    """
    if tensor.dim() == 4:
        tensor = tensor[0]
    return transform_invert(tensor, transforms.ToTensor())


def feature_map(tensor: torch.Tensor) -> np.ndarray:
    """One channel of a layer's output as a float (H, W) array, values untouched.

    Accepts (H, W), (1, H, W) or (1, 1, H, W). A convolution's output is not a picture: its values
    can be negative or above 1, so draw it as floats rather than forcing it into uint8, where
    anything outside [0, 255] is clipped or wrapped.
    """
    array = tensor.detach().to("cpu", torch.float32)
    while array.dim() > 2 and array.shape[0] == 1:
        array = array[0]
    if array.dim() != 2:
        raise ValueError(f"expected one channel (H, W), (1, H, W) or (1, 1, H, W), got {tuple(tensor.shape)}")
    return array.numpy()


def signed_limit(*arrays: np.ndarray, percentile: float = ROBUST_PERCENTILE) -> float:
    """m for a colour scale [−m, m] centred on 0: the `percentile` of |x| over all `arrays`.

    The largest |x| would let a handful of extreme pixels squeeze everything else into the pale
    middle of the colour map; the 99th percentile keeps the bulk readable (the rest saturate).
    """
    magnitudes = np.concatenate([np.abs(np.asarray(array, dtype=np.float64)).ravel() for array in arrays])
    limit = float(np.percentile(magnitudes, percentile)) if magnitudes.size else 0.0
    return limit if limit > 0 else 1.0  # an all-zero map still gets a valid scale


def draw_signed(fig, ax, tensor: torch.Tensor, title: str, limit: "float | None" = None,
                colorbar: bool = True, interpolation: "str | None" = None):
    """imshow of a 1-channel output on the shared diverging map, centred on 0 (white), limits ±limit.

    Negative responses are purple, positive orange, so the two signs read apart at a glance.
    """
    values = feature_map(tensor)
    limit = signed_limit(values) if limit is None else limit
    image = ax.imshow(values, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit, interpolation=interpolation)
    if colorbar:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return image
