"""tools/photo.py: the built-in photo, a user's --image, and the tensor <-> picture helpers."""
import argparse

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from tools.errors import LessonError
from tools.figures import DIVERGING_CMAP
from tools.photo import (MAX_IMAGE_SIDE, PHOTO_SIDE, add_image_flag, draw_signed, feature_map, load_photo,
                         rgb_picture, sample_photo_path, signed_limit)


def gradient_image(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A picture whose every pixel differs from its neighbours (a constant one hides crop mistakes)."""
    rows, cols = np.mgrid[0:height, 0:width]
    rgb = np.stack([cols * 255 // max(width - 1, 1), rows * 255 // max(height - 1, 1),
                    (rows + cols) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb).convert(mode)


def test_built_in_photo_is_the_centre_512_crop_of_grace_hopper():
    photo = load_photo()
    assert photo.image.mode == "RGB"
    assert photo.image.size == (PHOTO_SIDE, PHOTO_SIDE) == (512, 512)
    assert photo.original_size == (512, 600)  # matplotlib's grace_hopper.jpg
    assert not photo.downscaled
    assert "grace_hopper.jpg" in photo.source
    with Image.open(sample_photo_path()) as original:
        original = original.convert("RGB")
    top = (600 - 512) // 2
    expected = np.asarray(original)[top:top + 512]  # (512, 512, 3): rows 44 … 555
    assert np.array_equal(np.asarray(photo.image), expected)


def test_user_image_any_mode_becomes_rgb_and_is_not_cropped(tmp_path):
    path = tmp_path / "wide.png"
    gradient_image(45, 28, mode="RGBA").save(path)
    photo = load_photo(path)
    assert photo.image.mode == "RGB"
    assert photo.image.size == (45, 28)  # not cropped, not resized
    assert not photo.downscaled
    assert "wide.png" in photo.source


def test_large_user_image_is_downscaled_keeping_its_aspect(tmp_path):
    path = tmp_path / "panorama.png"
    gradient_image(1500, 300, mode="L").save(path)
    photo = load_photo(path)
    assert photo.downscaled and photo.original_size == (1500, 300)
    assert max(photo.image.size) == MAX_IMAGE_SIDE
    assert photo.image.size == (1024, 205)  # 300 · 1024 / 1500 = 204.8
    assert "downscaled to 1024×205" in photo.source


@pytest.mark.parametrize("make_file, message", [
    (lambda path: None, "no such file"),
    (lambda path: path.write_text("not a picture"), "cannot be decoded"),
    (lambda path: gradient_image(2, 5).save(path, format="PNG"), "too small"),
])
def test_bad_image_is_one_line_naming_the_flag_and_exit_2(tmp_path, make_file, message):
    path = tmp_path / "photo.png"
    make_file(path)
    with pytest.raises(LessonError) as stopped:
        load_photo(path, min_side=3)
    assert stopped.value.status == 2
    line = stopped.value.line()
    assert "\n" not in line and "--image" in line and message in line, line


@pytest.mark.parametrize("width, height, min_side, left", [(5000, 2, 2, "1024×1"), (3000, 3, 2, "1024×1"),
                                                          (2049, 2, 2, "1024×1"), (6000, 10, 5, "1024×2"),
                                                          (10, 6000, 5, "2×1024")])
def test_a_picture_too_thin_after_the_downscale_is_refused(tmp_path, width, height, min_side, left):
    """Large enough as it is, but the 1024 px downscale leaves a side under min_side (issue 20)."""
    path = tmp_path / "thin.png"
    Image.new("RGB", (width, height), (90, 140, 200)).save(path)
    with pytest.raises(LessonError) as stopped:
        load_photo(path, min_side=min_side)
    line = stopped.value.line()
    assert stopped.value.status == 2 and "\n" not in line, line
    assert "--image" in line and f"{width}×{height}" in line and left in line and f"under {min_side} px" in line
    downscaled = load_photo(path, min_side=1).image.size  # a lesson that needs one pixel takes it
    assert min(downscaled) == int(left.split("×")[0 if width < height else 1])


def test_the_notes_two_lines_and_rgb_picture_round_trip():
    picture = gradient_image(45, 28)
    img_tensor = transforms.ToTensor()(picture)  # the lessons' own two lines
    img_tensor.unsqueeze_(dim=0)
    assert img_tensor.shape == (1, 3, 28, 45) and img_tensor.dtype == torch.float32
    assert 0.0 <= img_tensor.min().item() and img_tensor.max().item() <= 1.0
    assert np.array_equal(np.asarray(rgb_picture(img_tensor)), np.asarray(picture))
    assert np.array_equal(np.asarray(rgb_picture(img_tensor[0])), np.asarray(picture))  # (3, H, W) too


def test_image_path_too_long_is_one_line_exit_2(tmp_path):
    with pytest.raises(LessonError) as stopped:
        load_photo(tmp_path / ("a" * 300 + ".png"))
    assert stopped.value.status == 2
    line = stopped.value.line()
    assert "\n" not in line and "--image" in line and "too long" in line.lower(), line


def test_signed_limit_is_a_robust_symmetric_scale():
    values = np.concatenate([np.linspace(-1, 1, 1000), [50.0]])  # one outlier must not set the scale
    assert signed_limit(values) == pytest.approx(0.99, abs=0.02)
    assert signed_limit(np.linspace(0, -2, 101), np.array([0.5])) == pytest.approx(1.96, abs=0.03)  # |x| of all
    assert signed_limit(np.zeros((3, 3))) == 1.0  # an all-zero map still gets a valid scale


def test_draw_signed_centres_the_diverging_map_on_zero():
    fig, ax = plt.subplots()
    image = draw_signed(fig, ax, torch.linspace(-3.0, 1.0, 20).reshape(1, 1, 4, 5), "t", limit=2.0)
    assert image.get_cmap().name == DIVERGING_CMAP
    assert image.get_clim() == (-2.0, 2.0)
    plt.close(fig)


def test_feature_map_keeps_raw_values_and_drops_singleton_axes():
    output = torch.linspace(-2.0, 3.0, 12).reshape(1, 1, 3, 4)  # values outside [0, 1] on purpose
    values = feature_map(output)
    assert values.shape == (3, 4)
    assert values.min() == pytest.approx(-2.0) and values.max() == pytest.approx(3.0)
    assert feature_map(output[0]).shape == (3, 4)
    with pytest.raises(ValueError):
        feature_map(torch.zeros(1, 3, 4, 4))  # three channels are not one feature map


def test_add_image_flag_defaults_to_the_built_in_photo_and_names_the_minimum(tmp_path):
    parser = argparse.ArgumentParser()
    add_image_flag(parser, min_side=5)
    assert "each side at least 5 px" in " ".join(parser.format_help().split())
    assert parser.parse_args([]).image is None
    assert parser.parse_args(["--image", str(tmp_path / "a.jpg")]).image == tmp_path / "a.jpg"
