"""The lesson photo: matplotlib's grace_hopper.jpg, cropped to the notes' 512×512, or the user's own.

The notes run their layers on a 512×512 photo that a learner does not have. Every learner does have
matplotlib's sample photo of Grace Hopper (public domain, 512 wide × 600 high, shipped inside
matplotlib, so it is there offline). Its centre 512×512 crop makes every shape in the notes
reproduce. `--image PATH` takes any picture instead, uncropped, so a learner can see the same layers
on their own photo and check the output-size formulas on a non-square input.

    parser = lesson_parser(__file__, __doc__, default_seed=3)
    add_image_flag(parser)
    args = parse_lesson_args(parser)
    photo = load_photo(args.image)             # photo.image is an RGB PIL image
    img_tensor = photo_to_tensor(photo.image)  # (1, 3, H, W), values in [0, 1]
    plt.imshow(rgb_picture(img_tensor))        # back to a picture (Normalize/ToTensor undone)
    plt.imshow(feature_map(conv_out), cmap=…)  # a raw 1-channel output, as floats in its own range
"""
import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib import cbook
from PIL import Image
from torchvision import transforms

from tools.errors import fail
from tools.images import open_rgb, transform_invert

SAMPLE_PHOTO = "grace_hopper.jpg"
PHOTO_SIDE = 512  # the notes' photo is 512×512
MAX_IMAGE_SIDE = 1024  # a user's photo larger than this is downscaled: the lesson stays fast
# The notes' transform: ToTensor only (HWC uint8 in [0, 255] -> CHW float in [0, 1]).
PHOTO_TRANSFORM = transforms.Compose([transforms.ToTensor()])


@dataclass
class LessonPhoto:
    image: Image.Image  # RGB, what the lesson uses
    source: str  # where it came from and what was done to it, for the printout
    original_size: tuple  # (width, height) before any crop or downscale
    downscaled: bool  # True when a large --image was made smaller


def add_image_flag(parser: argparse.ArgumentParser) -> None:
    """Add `--image PATH` (the same flag, the same help, in every lesson that uses the photo)."""
    parser.add_argument("--image", type=Path, default=None, metavar="PATH",
                        help="use this picture instead of the built-in photo (any mode becomes RGB; "
                             "not cropped; downscaled if its longest side exceeds "
                             f"{MAX_IMAGE_SIDE} px) (default: matplotlib's {SAMPLE_PHOTO}, "
                             f"centre-cropped to {PHOTO_SIDE}×{PHOTO_SIDE})")


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


def load_photo(image_path: "str | Path | None" = None, max_side: int = MAX_IMAGE_SIDE,
               min_side: int = 1) -> LessonPhoto:
    """The built-in photo (centre-cropped to 512×512) or the user's picture (as it is, in RGB).

    A user's path that is missing or does not decode, or a picture with a side shorter than
    `min_side` pixels (too small for the lesson's layers), is one line on stderr naming --image,
    and exit status 2.
    """
    if image_path is None:
        original = open_rgb(sample_photo_path(), what="matplotlib sample photo")
        image = center_crop(original, PHOTO_SIDE, PHOTO_SIDE)
        source = (f"matplotlib's {SAMPLE_PHOTO} ({original.width}×{original.height}), "
                  f"centre-cropped to {PHOTO_SIDE}×{PHOTO_SIDE}")
        return LessonPhoto(image, source, original.size, downscaled=False)

    original = open_rgb(image_path, what="--image")
    if min(original.size) < min_side:
        fail(f"--image {image_path}: {original.width}×{original.height} px is too small; "
             f"this lesson needs at least {min_side}×{min_side}")
    image = downscale_to_fit(original, max_side)
    downscaled = image.size != original.size
    source = f"{Path(image_path).name} ({original.width}×{original.height})"
    if downscaled:
        source += f", downscaled to {image.width}×{image.height} (longest side > {max_side} px)"
    return LessonPhoto(image, source, original.size, downscaled)


def photo_to_tensor(image: Image.Image) -> torch.Tensor:
    """The notes' `transforms.ToTensor()(img)` then `unsqueeze_(dim=0)`: (1, 3, H, W) in [0, 1]."""
    img_tensor = PHOTO_TRANSFORM(image)  # (3, H, W), float32
    img_tensor.unsqueeze_(dim=0)  # (1, 3, H, W): layers expect a batch dimension
    return img_tensor


def rgb_picture(tensor: torch.Tensor) -> Image.Image:
    """A (1, 3, H, W) or (3, H, W) tensor made by PHOTO_TRANSFORM, as an RGB picture again.

    ToTensor is undone and values outside [0, 255] are clamped (tools.images.transform_invert), which
    is right for pooled photos: their values stay within the input's range.
    """
    if tensor.dim() == 4:
        tensor = tensor[0]
    return transform_invert(tensor, PHOTO_TRANSFORM)


def feature_map(tensor: torch.Tensor) -> np.ndarray:
    """One channel of a layer's output as a float (H, W) array, values untouched.

    Accepts (H, W), (1, H, W) or (1, 1, H, W). A convolution's output is not a picture: its values
    can be negative or above 1, so draw it with `imshow(..., cmap=...)` scaled to its own range
    rather than forcing it into uint8, where anything outside [0, 255] is clipped or wrapped.
    """
    array = tensor.detach().to("cpu", torch.float32)
    while array.dim() > 2 and array.shape[0] == 1:
        array = array[0]
    if array.dim() != 2:
        raise ValueError(f"expected one channel (H, W), (1, H, W) or (1, 1, H, W), got {tuple(tensor.shape)}")
    return array.numpy()
