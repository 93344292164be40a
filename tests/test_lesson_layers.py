"""Claim tests of lesson_layers: every shape and number the five scripts teach.

Each lesson runs inside this process (run_lesson(..., in_process=True)) with --quick; the tests
read what it computed from its variables, or what it printed. Three more runs: the convolution
lesson on a small non-square --image (its shapes must follow the size formula), the pooling lesson
under --deterministic (max unpooling has no deterministic kernel), and pictures too thin for the
layers once downscaled (refused with one line). Loading --image itself is tested in test_photo.py.
"""
import itertools
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TMP_ROOT, lesson_script, run_lesson
from tools.metrics import read_figures

CONVOLUTION = lesson_script("lesson_layers", "01_convolution")
TRANSPOSED = lesson_script("lesson_layers", "02_transposed_convolution")
POOLING = lesson_script("lesson_layers", "03_pooling")
LINEAR = lesson_script("lesson_layers", "04_linear")
ACTIVATIONS = lesson_script("lesson_layers", "05_activations")
PHOTO_LESSONS = (CONVOLUTION, TRANSPOSED, POOLING)
WIDE_W, WIDE_H = 45, 28  # a non-square --image: odd width, even height
MAX_PHOTO_FIGURE_BYTES = 300_000


def conv_size(size, kernel, stride=1, padding=0, dilation=1):
    return math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1


def picture(name: str, width: int, height: int, mode: str = "RGB"):
    """A picture with a different colour in every pixel, written once under this process's TMP_ROOT."""
    path = TMP_ROOT / name
    if not path.exists():
        rows, cols = np.mgrid[0:height, 0:width]
        pixels = np.stack([cols * 5 % 256, rows * 9 % 256, (rows * cols) % 256], axis=-1).astype(np.uint8)
        Image.fromarray(pixels).convert(mode).save(path)
    return path


def run_ok(script, *flags):
    """The lesson run inside this process (once per flags), which must succeed."""
    run = run_lesson(script, *flags, in_process=True)
    assert run.returncode == 0, run.explain()
    return run


@pytest.fixture(scope="module")
def conv():
    return run_ok(CONVOLUTION, "--quick")


@pytest.fixture(scope="module")
def transposed():
    return run_ok(TRANSPOSED, "--quick")


@pytest.fixture(scope="module")
def pool():
    return run_ok(POOLING, "--quick")


@pytest.fixture(scope="module")
def linear():
    return run_ok(LINEAR, "--quick")


@pytest.fixture(scope="module")
def act():
    return run_ok(ACTIVATIONS, "--quick")


# --- the lesson files themselves ----------------------------------------------------------------

@pytest.mark.parametrize("script", PHOTO_LESSONS, ids=lambda script: script.stem)
def test_photo_lessons_write_the_notes_two_lines_themselves(script):
    source = script.read_text(encoding="utf-8")
    assert "img_tensor = transforms.ToTensor()(img)" in source
    assert "img_tensor.unsqueeze_(dim=0)" in source
    assert "photo_to_tensor" not in source


def test_no_layer_lesson_initialises_through_data():
    for script in (CONVOLUTION, TRANSPOSED, POOLING, LINEAR, ACTIVATIONS):
        assert not re.search(r"nn\.init\.\w+\([^)]*\.data\b", script.read_text(encoding="utf-8")), script.name


def test_adaptive_size_comment_names_the_right_networks():
    line = next(line for line in POOLING.read_text(encoding="utf-8").splitlines()
                if line.startswith("ADAPTIVE_SIZE"))
    assert "VGG" in line and "(6, 6)" in line and "AlexNet" in line


def test_photo_figures_are_jpeg_and_small(conv, transposed, pool):
    for run, expected in ((conv, "convolution.jpg"), (transposed, "conv_transpose.jpg"), (pool, "pooling.jpg")):
        files = [figure["file"] for figure in read_figures(run.out_dir)]
        assert expected in files, files
        size = (run.out_dir / expected).stat().st_size
        assert 20_000 < size < MAX_PHOTO_FIGURE_BYTES, (expected, size)


@pytest.mark.parametrize("script, name, size", [
    (POOLING, "thin_5000x2.png", (5000, 2)), (POOLING, "thin_3000x3.png", (3000, 3)),
    (POOLING, "thin_2049x2.png", (2049, 2)),
    (CONVOLUTION, "thin_6000x10.png", (6000, 10)), (CONVOLUTION, "thin_10x6000.png", (10, 6000)),
    (TRANSPOSED, "thin_4000x1.png", (4000, 1)),
], ids=lambda value: value if isinstance(value, str) and value.endswith(".png") else "")
def test_a_picture_too_thin_once_downscaled_is_one_line_and_exit_2(script, name, size):
    """Issue 20: the 1024 px downscale left a 1–2 px side and PyTorch raised; the lesson's --help
    names the minimum side, and the refusal names --image."""
    run = run_lesson(script, "--quick", "--image", picture(name, *size), in_process=True)
    assert run.returncode == 2, run.explain()
    assert run.stderr.count("\n") == 1 and "--image" in run.stderr and name in run.stderr, run.stderr
    minimum = re.search(r"at least (\d+)", run.stderr) or re.search(r"under (\d+) px", run.stderr)
    assert minimum, run.stderr
    help_run = run_lesson(script, "--help", in_process=True)
    assert f"each side at least {minimum.group(1)} px" in " ".join(help_run.stdout.split())


# --- 01_convolution -----------------------------------------------------------------------------

def test_convolution_shapes_on_the_notes_photo(conv):
    variables = conv.variables
    assert variables["img_tensor"].shape == (1, 3, 512, 512)
    assert variables["img_conv"].shape == (1, 1, 510, 510) and variables["conv_predicted"] == [510, 510]
    assert conv.metrics["conv2d_shape"] == [1, 1, 510, 510]  # the headline
    assert variables["conv_layer"].weight.shape == (1, 3, 3, 3)  # the notes print torch.Size([1, 3, 3, 3])
    assert "grace_hopper.jpg" in conv.metrics["image_source"]
    assert "torch.Size([1, 3, 3, 3])" in conv.stdout
    assert "卷积后尺寸:torch.Size([1, 1, 510, 510])" in conv.stdout


def test_multichannel_convolution_is_a_sum_of_2d_convolutions_plus_bias(conv):
    assert conv.variables["channel_sum_difference"] <= 1e-5
    assert conv.metrics["channel_sum_max_abs_difference"] == conv.variables["channel_sum_difference"]


def test_raw_conv_output_leaves_the_uint8_range(conv):
    # The reason the figure draws the raw floats: a good part of the output is below 0 or above 1.
    assert 0.05 < conv.variables["outside_unit"] <= 1


def test_conv2d_parameters_one_by_one(conv):
    variants = conv.variables["variant_results"]
    assert variants["padding=1"]["shape"] == (1, 1, 512, 512)  # p = (k − 1)/2 keeps the size
    assert variants["stride=2"]["shape"] == (1, 1, 255, 255)
    assert variants["dilation=2"]["shape"] == (1, 1, 508, 508)
    assert variants["bias=False"]["parameters"] == 27 and variants["padding=1"]["parameters"] == 28
    assert variants["out_channels=3, groups=3"]["weight_shape"] == (3, 1, 3, 3)  # (out, in/groups, k, k)
    assert variants["out_channels=3, groups=3"]["parameters"] == 30
    assert variants["padding=1, padding_mode='reflect'"]["shape"] == (1, 1, 512, 512)
    for name, variant in variants.items():
        assert list(variant["shape"][-2:]) == variant["predicted_hw"], name


def test_dilation_spreads_the_receptive_field(conv):
    fields = conv.variables["receptive_fields"]
    assert {dilation: field["span"] for dilation, field in fields.items()} == {1: 3, 2: 5}
    assert fields[1]["pixels"] == fields[2]["pixels"] == 9  # the same nine taps, spread out


def test_padding_modes_fill_the_border_differently(conv):
    # 4×4 input 0 … 15, kernel of ones, padding 1: the top-left output sums its padded 3×3 window.
    assert conv.variables["padding_corner"] == {"zeros": 10, "reflect": 30, "replicate": 15, "circular": 60}


def test_conv3d_as_the_notes_wrote_it(conv):
    variables = conv.variables
    assert variables["img_tensor_3d"].shape == (1, 3, 1, 512, 512)
    assert variables["img_conv3d"].shape == (1, 1, 1, 510, 510)
    assert variables["conv3d_middle_difference"] <= 1e-5
    assert variables["conv3d_refusal"], "the kernel deeper than the input was not refused"
    assert "PyTorch refuses" in conv.stdout and "Formula sweep" in conv.stdout  # went on


def test_formula_sweep_matches_every_real_conv2d(conv):
    variables = conv.variables
    assert variables["formula_cases"] == 72  # --quick; 216 in the default run
    assert variables["formula_matches"] == variables["formula_cases"]
    assert variables["impossible_cases"] >= 1  # the "layer refuses" branch was exercised
    assert conv.metrics["formula_matches"] == 72
    # The default run's sweep, as the README counts it: 216 configurations, 12 of them impossible.
    full = list(itertools.product(*conv.variables["SWEEP_FULL"].values()))
    impossible = [case for case in full if min(conv_size(size, *case[1:]) for size in case[0]) < 1]
    assert (len(full), len(impossible)) == (216, 12)


def test_non_square_image_gives_the_shapes_the_formulas_predict():
    wide = run_ok(CONVOLUTION, "--quick", "--image", picture("wide.png", WIDE_W, WIDE_H, mode="RGBA"))
    variables, h, w = wide.variables, WIDE_H, WIDE_W
    assert variables["img_tensor"].shape == (1, 3, h, w)  # RGBA on purpose: it must become RGB
    assert variables["img_conv"].shape == (1, 1, conv_size(h, 3), conv_size(w, 3)) == (1, 1, 26, 43)
    assert variables["img_conv3d"].shape == (1, 1, 1, conv_size(h, 3), conv_size(w, 3))
    assert variables["variant_results"]["stride=2"]["shape"] == (1, 1, conv_size(h, 3, 2), conv_size(w, 3, 2))
    assert "wide.png" in wide.metrics["image_source"] and not wide.metrics["image_downscaled"]


# --- 02_transposed_convolution ------------------------------------------------------------------

def test_convolution_and_its_transpose_as_a_matrix(transposed):
    variables = transposed.variables
    assert variables["conv_matrix"].shape == (4, 16)
    assert variables["conv_difference"] <= 1e-5 and variables["transposed_difference"] <= 1e-5
    # Cᵀ restores the shape, not the values: not an inverse (not "deconvolution").
    assert variables["round_trip"].shape == (4, 4) and variables["round_trip_difference"] > 0.1


def test_transposed_convolution_upsamples_the_photo(transposed):
    variables = transposed.variables
    assert variables["img_tensor"].shape == (1, 3, 512, 512)
    assert variables["img_conv_transpose"].shape == (1, 1, 1025, 1025)
    assert variables["transpose_predicted"] == [1025, 1025]
    assert variables["conv_transpose_layer"].weight.shape == (3, 1, 3, 3)  # (in, out, k, k) for transposed
    assert transposed.metrics["conv_transpose_shape"] == [1, 1, 1025, 1025]


def test_transposed_formula_sweep_matches_every_real_layer(transposed):
    variables = transposed.variables
    assert variables["formula_cases"] == 156  # --quick; 468 in the default run (684 with Conv2d's 216)
    assert variables["formula_matches"] == variables["formula_cases"]
    # The default run's sweep: every allowed output_padding (< max(stride, dilation)), 468 in all.
    full = itertools.product(*variables["SWEEP_FULL"].values())
    assert sum(max(stride, dilation) for _, _, stride, _, dilation in full) == 468


def test_transposed_convolution_overlaps_unevenly(transposed):
    assert transposed.variables["interior_pattern"].tolist() == [[4, 2], [2, 1]]
    assert transposed.variables["interior_pattern_even"].tolist() == [[4, 4], [4, 4]]


# --- 03_pooling ---------------------------------------------------------------------------------

def test_pooling_halves_the_photo(pool):
    variables = pool.variables
    assert variables["img_photo"].shape == (1, 3, 512, 512)
    assert variables["img_max"].shape == variables["img_avg"].shape == (1, 3, 256, 256)


def test_average_pooling_is_darker_than_max_pooling_as_the_notes_say(pool):
    """The notes: the average-pooled photo looks darker than the max-pooled one. It is (the README:
    0.3310 vs 0.3608), because max pooling brightens; average pooling keeps the photo's own mean."""
    variables = pool.variables
    assert variables["avg_mean"] < variables["max_mean"] - 0.01
    assert round(variables["avg_mean"], 4) == 0.3310 and round(variables["max_mean"], 4) == 0.3608
    assert variables["avg_mean"] == pytest.approx(variables["photo_mean"], abs=1e-4)
    assert "the average-pooled photo is darker than the max-pooled one" in pool.stdout
    assert pool.metrics["avgpool_mean"] == variables["avg_mean"]  # the headline numbers


def test_divisor_override_divides_by_three(pool):
    printed = pool.stdout.split("pooling_img:")[1].split("raw_img")[0]  # the notes' print of img_pool
    assert printed.count("1.3333") == 4, printed


def test_count_include_pad_decides_whether_padding_counts(pool):
    padded_mean = pool.variables["padded_mean"]
    assert np.allclose(padded_mean[True], [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]])
    assert np.allclose(padded_mean[False], np.ones((3, 3)))


def test_max_unpooling_as_the_notes(pool):
    variables = pool.variables
    assert variables["img_tensor"][0, 0].tolist() == [[0, 4, 4, 3], [3, 3, 1, 1], [4, 2, 3, 4], [1, 3, 3, 0]]
    assert variables["img_pool"][0, 0].tolist() == [[4, 4], [4, 4]]
    assert variables["indices"][0, 0].tolist() == [[1, 2], [8, 11]] == pool.metrics["unpool_indices"]
    reconstruct = [[-1.0276, -0.5631], [-0.8923, -0.0583]]  # the notes' randn_like after seed 1
    assert np.allclose(variables["img_reconstruct"][0, 0].tolist(), reconstruct, atol=1e-4)
    expected = np.zeros(16)
    expected[[1, 2, 8, 11]] = np.ravel(reconstruct)
    assert np.allclose(variables["img_unpool"].flatten().tolist(), expected, atol=1e-4)


def test_pooling_runs_under_deterministic_and_says_what_it_relaxed(pool):
    run = run_ok(POOLING, "--quick", "--deterministic")
    assert "--deterministic: MaxUnpool2d" in run.stdout
    assert torch.equal(run.variables["img_unpool"], pool.variables["img_unpool"])


def test_adaptive_pooling_fixes_the_output_size(pool):
    variables = pool.variables
    assert variables["img_adaptive"].shape == variables["img_adaptive_crop"].shape == (1, 3, 7, 7)
    assert variables["img_crop"].shape == (1, 3, 320, 192)
    assert variables["img_max_crop"].shape == (1, 3, 160, 96)
    assert variables["adaptive_equals_maxpool"] is True
    assert variables["img_adaptive_five"][0, 0].tolist() == [[12, 14], [22, 24]]  # overlapping 3×3 windows


def test_ceil_mode_keeps_the_partial_windows(pool):
    assert pool.variables["img_floor"][0, 0].tolist() == [[6, 8], [16, 18]]
    assert pool.variables["img_ceil"][0, 0].tolist() == [[6, 8, 9], [16, 18, 19], [21, 23, 24]]


def test_pooling_a_non_square_input_follows_the_formula(pool):
    _, _, crop_h, crop_w = pool.variables["img_crop"].shape
    assert crop_h != crop_w
    expected = (1, 3, conv_size(crop_h, 2, stride=2), conv_size(crop_w, 2, stride=2))
    assert pool.variables["img_max_crop"].shape == expected


# --- 04_linear ----------------------------------------------------------------------------------

def test_linear_layer_with_hand_set_weights(linear):
    assert linear.variables["linear_layer"].weight.tolist() == [[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]
    assert np.allclose(linear.variables["output"].tolist(), [[6.5, 12.5, 18.5, 24.5]], atol=1e-6)
    assert linear.metrics["linear_output"] == [[6.5, 12.5, 18.5, 24.5]]


def test_stacked_linear_layers_collapse_unless_relu_separates_them(linear):
    variables = linear.variables
    assert variables["composed_weight"].shape == (4, 8)
    assert variables["linear_difference"] < 1e-5
    assert variables["plane_difference"] < 1e-5
    assert variables["relu_difference"] > 0.1
    # No single linear layer fits the ReLU stack: the least-squares residual stays far from 0.
    assert variables["linear_best_linear_rms"] < 1e-5
    assert variables["relu_best_linear_rms"] > 1e-2


# --- 05_activations -----------------------------------------------------------------------------

def test_derivative_maxima(act):
    variables = act.variables
    assert 0.2499 < variables["sigmoid_grad_max"] <= 0.25 + 1e-7
    assert abs(variables["sigmoid_grad_argmax"]) < 1e-3
    assert 0.999 < variables["tanh_grad_max"] <= 1 + 1e-6
    assert 4.0 < variables["saturation_x"]["Sigmoid"] < 5.0
    assert 2.5 < variables["saturation_x"]["Tanh"] < 3.5
    assert 0 < variables["sigmoid_chain_grad"] <= 0.25 ** 10
    assert f"{variables['sigmoid_chain_grad']:.1e}" == "3.9e-07"  # the README's number


def test_sigmoid_is_not_zero_mean_and_tanh_is(act):
    """The notes' second point against sigmoid: over an input symmetric about 0 its outputs average
    1/2 and are all positive; tanh's average 0."""
    means = act.variables["output_means"]
    assert means["Sigmoid"] == pytest.approx(0.5, abs=1e-4)
    assert means["Tanh"] == pytest.approx(0.0, abs=1e-4)
    assert bool((act.variables["curves"]["Sigmoid"][0] > 0).all())
    assert "sigmoid 0.5000 (every output > 0: True), tanh 0.0000" in act.stdout
    assert act.metrics["sigmoid_output_mean"] == pytest.approx(0.5, abs=1e-4)


def test_reference_values_match_the_closed_forms(act):
    xs = act.variables["REFERENCE_X"]
    assert xs == [-2, -0.5, 0, 0.5, 2]
    reference = {name: (values.tolist(), grads.tolist())
                 for name, (values, grads) in act.variables["reference"].items()}
    sigmoid = [1 / (1 + math.exp(-x)) for x in xs]
    assert np.allclose(reference["Sigmoid"][0], sigmoid, atol=1e-6)
    assert np.allclose(reference["Sigmoid"][1], [s * (1 - s) for s in sigmoid], atol=1e-6)
    assert np.allclose(reference["Tanh"][0], np.tanh(xs), atol=1e-6)
    assert np.allclose(reference["Tanh"][1], 1 - np.tanh(xs) ** 2, atol=1e-6)
    assert reference["ReLU"] == ([0, 0, 0, 0.5, 2], [0, 0, 0, 1, 1])  # PyTorch: ReLU′(0) = 0
    assert np.allclose(reference["LeakyReLU(0.01)"][0], [-0.02, -0.005, 0, 0.5, 2], atol=1e-7)
    assert np.allclose(reference["LeakyReLU(0.01)"][1], [0.01, 0.01, 0.01, 1, 1], atol=1e-7)
    assert np.allclose(reference["PReLU"][0], [-0.5, -0.125, 0, 0.5, 2], atol=1e-7)
    assert np.allclose(reference["RReLU (eval)"][1], [11 / 48] * 3 + [1, 1], atol=1e-6)


def test_prelu_slope_is_learnable_shared_or_per_channel(act):
    variables = act.variables
    prelu = variables["prelu"]
    assert isinstance(prelu.weight, torch.nn.Parameter) and prelu.weight.shape == (1,)
    assert prelu.weight.item() == 0.25
    assert variables["prelu_weight_grad"] == pytest.approx(variables["prelu_expected_grad"], rel=1e-5)
    assert variables["prelu_weight_grad"] < 0  # Σ of the negative inputs
    assert variables["prelu_channels"].weight.shape == (3,)
    assert variables["prelu_channels_init"] == [0.25, 0.25, 0.25]
    assert np.allclose(variables["channel_slopes_seen"], [0.05, 0.25, 0.5], atol=1e-6)


def test_rrelu_random_slopes_in_training_and_their_mean_in_eval(act):
    variables = act.variables
    slopes = variables["rrelu_slopes"]
    assert slopes.numel() >= 50
    assert 1 / 8 - 1e-6 <= slopes.min().item() < slopes.max().item() <= 1 / 3 + 1e-6
    assert slopes.max().item() - slopes.min().item() > 0.1  # really random
    assert variables["rrelu_grads_are_slopes"] is True
    assert variables["rrelu_eval_slope"] == pytest.approx((1 / 8 + 1 / 3) / 2, abs=1e-6)
    assert act.metrics["rrelu_eval_slope"] == pytest.approx(11 / 48, abs=1e-6)
