"""tools/images.open_rgb: pictures of any depth come out as 8-bit RGB, scaled rather than clipped;
what cannot be shown (or opened safely) is one line and exit status 2."""
import os
import struct
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from tools.errors import LessonError
from tools.images import open_rgb
from tools.photo import load_photo

GRADIENT_MEAN = 127.5  # a ramp over the whole range averages half of 255


def ramp(dtype, top, shape=(32, 64)) -> np.ndarray:
    """A left-to-right ramp from 0 to `top`: every level of the range, mean top / 2."""
    return np.tile(np.linspace(0, top, shape[1]), (shape[0], 1)).astype(dtype)


def refused(path, *fragments) -> str:
    """open_rgb refuses `path` with one line (exit status 2) naming --image, the path and `fragments`."""
    with pytest.raises(LessonError) as stop:
        open_rgb(path, what="--image")
    line = stop.value.line()
    assert stop.value.status == 2 and "\n" not in line and "--image" in line, line
    for fragment in (path, *fragments):
        assert str(fragment) in line, line
    return line


def png_header_only(path, width, height):
    """A PNG that claims width×height pixels (1 bit each): tiny on disk, a 'decompression bomb'."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture
def deep_pictures(tmp_path):
    """A 16-bit grayscale PNG and a float TIFF, both ramps over their whole range."""
    sixteen = tmp_path / "sixteen_bit.png"
    Image.fromarray(ramp(np.uint16, 65535)).save(sixteen)
    floating = tmp_path / "float.tif"
    Image.fromarray(ramp(np.float32, 1.0)).save(floating)
    with Image.open(sixteen) as check16, Image.open(floating) as check_float:
        assert check16.mode.startswith("I;16") and check_float.mode == "F"  # what the user's files are
        # Pillow alone clips instead of scaling: white and black. This is what open_rgb fixes.
        assert np.asarray(check16.convert("RGB")).mean() > 250
        assert np.asarray(check_float.convert("RGB")).mean() < 1
    return sixteen, floating


def test_sixteen_bit_and_float_pictures_are_scaled_to_8_bits(deep_pictures, tmp_path):
    for path in deep_pictures:
        image = open_rgb(path)
        pixels = np.asarray(image)
        assert image.mode == "RGB" and pixels.dtype == np.uint8
        assert pixels.min() == 0 and pixels.max() == 255, path
        assert abs(pixels.mean() - GRADIENT_MEAN) < 2, (path, pixels.mean())
    # A float picture that already holds 0…255 is kept as it is.
    eight_bit_floats = tmp_path / "float255.tif"
    Image.fromarray(ramp(np.float32, 255.0)).save(eight_bit_floats)
    assert abs(np.asarray(open_rgb(eight_bit_floats)).mean() - GRADIENT_MEAN) < 2


def test_deep_pictures_as_the_lessons_image(deep_pictures):
    """--image goes through tools/photo.load_photo, which opens with open_rgb."""
    for path in deep_pictures:
        photo = load_photo(path)
        assert abs(np.asarray(photo.image).mean() - GRADIENT_MEAN) < 2, path


def test_pictures_without_an_8_bit_meaning_are_refused(tmp_path):
    out_of_range = tmp_path / "minus_one_to_two.tif"
    Image.fromarray(ramp(np.float32, 3.0) - 1).save(out_of_range)
    refused(out_of_range, "floating-point pixels from -1 to 2")
    not_finite = tmp_path / "nan.tif"
    pixels = ramp(np.float32, 1.0)
    pixels[0, 0] = np.nan
    Image.fromarray(pixels).save(not_finite)
    refused(not_finite, "NaN")
    wide = tmp_path / "thirty_two_bit.tif"
    Image.fromarray(ramp(np.int32, 1_000_000)).save(wide)
    refused(wide, "do not fit 16 bits")


def test_decompression_bomb_is_one_line(tmp_path):
    for width, height in ((20_000, 20_000), (10_000, 10_000)):  # above 2× Pillow's limit (error), above 1× (warning)
        bomb = png_header_only(tmp_path / f"bomb_{width}.png", width, height)
        refused(bomb, "too large to open safely")


def test_path_too_long_is_one_line(tmp_path):
    long_name = tmp_path / ("a" * 300 + ".png")
    refused(long_name, "File name too long" if sys.platform.startswith("linux") else "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux keeps any bytes as a file name")
def test_a_file_name_that_is_not_utf8(tmp_path):
    name = os.fsdecode(b"\xc4\xe3\xba\xc3.png")  # "你好" in GBK, as an unzipped Chinese archive leaves it
    Image.new("RGB", (8, 4), (10, 200, 30)).save(tmp_path / name)
    assert np.asarray(open_rgb(tmp_path / name))[0, 0].tolist() == [10, 200, 30]
