"""Images in and out: open any picture as RGB, and undo a transform to look at a tensor again."""
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision import transforms

from tools.errors import fail

WHITE = (255, 255, 255)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode (RGBA, LA, grayscale, palette, CMYK) to RGB; transparency is laid on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def open_rgb(path: "str | Path", what: str = "image") -> Image.Image:
    """Decode `path` completely and return it as an upright RGB image.

    A missing file, or one that does not decode (not an image, a truncated JPEG), is one line on
    stderr naming `what` and the path, and exit status 2.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        fail(f"{what} {path}: is a folder, not an image file")
    if not path.is_file():
        fail(f"{what} {path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()  # Image.open is lazy: a truncated file only fails when its pixels are read
            image = ImageOps.exif_transpose(image)  # phone photos: apply the camera's rotation tag
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        fail(f"{what} {path}: cannot be decoded as an image ({error})")


def _flatten(transform) -> list:
    if isinstance(transform, transforms.Compose):
        return [step for inner in transform.transforms for step in _flatten(inner)]
    return [transform]


def transform_invert(image_tensor: torch.Tensor, transform) -> Image.Image:
    """Undo Normalize and ToTensor of `transform` and return the picture as a PIL image.

    image_tensor: (C, H, W) or (1, C, H, W) with C = 1 or 3, as the transform produced it.
    The input is not modified. Values outside [0, 255] are clamped, not wrapped around (a plain
    `.astype(uint8)` would turn 256 into 0 and show bright pixels as black).
    """
    steps = _flatten(transform)
    image = image_tensor.detach().to("cpu", torch.float32).clone()  # never touch the caller's tensor
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected a (C, H, W) image with 1 or 3 channels, got {tuple(image_tensor.shape)}")

    for step in reversed(steps):
        if isinstance(step, transforms.Normalize):
            mean = torch.as_tensor(step.mean, dtype=torch.float32).view(-1, 1, 1)  # (C, 1, 1)
            std = torch.as_tensor(step.std, dtype=torch.float32).view(-1, 1, 1)
            image = image * std + mean  # Normalize did (x - mean) / std
    if any(isinstance(step, transforms.ToTensor) for step in steps):
        image = image * 255  # ToTensor divided by 255
    elif not any(isinstance(step, transforms.PILToTensor) for step in steps):
        raise ValueError("transform has no ToTensor or PILToTensor step to undo")

    pixels = image.round().clamp(0, 255).to(torch.uint8)  # (C, H, W)
    array = pixels.permute(1, 2, 0).numpy()  # (H, W, C), the layout PIL expects
    if array.shape[2] == 1:
        array = array[:, :, 0]  # (H, W): PIL makes a grayscale ("L") image of it
    return Image.fromarray(np.ascontiguousarray(array))  # uint8 (H, W, 3) becomes "RGB"
