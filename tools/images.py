"""Images in and out: open any picture as 8-bit RGB, and undo a transform to look at a tensor again."""
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision import transforms

from tools.errors import fail

WHITE = (255, 255, 255)
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # "I" (32-bit) holds 16-bit PNGs too
SIXTEEN_BIT_MAX = 65535
EIGHT_BIT_MAX = 255


def to_8_bit(image: Image.Image, what: str, path: Path) -> Image.Image:
    """A 16-bit or floating-point picture scaled into 8 bits ("L"); any other picture unchanged.

    Pillow's own conversion clips instead of scaling: a 16-bit photo (0…65535) comes out almost
    white, a float one (0…1) almost black. Here 16-bit values are divided by 257 (65535 → 255) and
    floats in [0, 1] multiplied by 255; floats already in [0, 255] are kept. Values outside those
    ranges have no agreed meaning as a picture: one line naming the file, exit status 2.
    """
    if image.mode not in SIXTEEN_BIT_MODES and image.mode != "F":
        return image
    pixels = np.asarray(image).astype(np.float64)  # (H, W)
    low, high = (pixels.min(), pixels.max()) if pixels.size else (0.0, 0.0)
    if not np.isfinite(pixels).all():
        fail(f"{what} {path}: a floating-point picture with NaN or infinite pixels")
    if image.mode != "F":
        if low < 0 or high > SIXTEEN_BIT_MAX:
            fail(f"{what} {path}: 32-bit pixels from {low:g} to {high:g} do not fit 16 bits; "
                 "save it as an 8- or 16-bit picture")
        pixels = pixels * (EIGHT_BIT_MAX / SIXTEEN_BIT_MAX)
    elif low >= 0 and high <= 1:
        pixels = pixels * EIGHT_BIT_MAX
    elif low < 0 or high > EIGHT_BIT_MAX:
        fail(f"{what} {path}: floating-point pixels from {low:g} to {high:g}; expected [0, 1] or [0, 255]")
    return Image.fromarray(pixels.round().astype(np.uint8))  # "L"


def to_rgb(image: Image.Image) -> Image.Image:
    """Any 8-bit mode (RGBA, LA, grayscale, palette, CMYK) to RGB; transparency is laid on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def open_rgb(path: "str | Path", what: str = "image") -> Image.Image:
    """Decode `path` completely and return it as an upright 8-bit RGB image.

    A missing file, a path the system refuses (a name over 255 bytes), a file that does not decode
    (not an image, a truncated JPEG), or one larger than Pillow's decompression-bomb limit is one
    line on stderr naming `what` and the path, and exit status 2.
    """
    path = Path(path).expanduser()
    try:
        if path.is_dir():
            fail(f"{what} {path}: is a folder, not an image file")
        if not path.is_file():
            fail(f"{what} {path}: no such file")
    except OSError as error:  # e.g. "File name too long"
        fail(f"{what} {path}: {error.strerror or error}")
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that: refuse both, since a
            # picture that large (a decompression bomb, or a scan) would fill the memory.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()  # Image.open is lazy: a truncated file only fails when its pixels are read
                image = ImageOps.exif_transpose(image)  # phone photos: apply the camera's rotation tag
                return to_rgb(to_8_bit(image, what, path))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        fail(f"{what} {path}: too large to open safely ({error})")
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
