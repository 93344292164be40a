"""Claim tests of lesson_layers: every shape and number the five scripts teach, from their metrics.

Runs: the --quick run of each of the five lessons (shared with the smoke tests), plus three more:
the two convolution lessons on a non-square --image (their shapes must follow the size formulas),
and the pooling lesson under --deterministic (max unpooling has no deterministic kernel). Loading
--image and its errors are tested in-process in tests/test_photo.py.
"""
import math
import re

import numpy as np
import pytest
from PIL import Image

from conftest import lesson_script, plan_runs, run_in_process
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


def wide_image(runner):
    """A non-square RGBA picture, written once into the runner's folder."""
    path = runner.tmp_root / "wide.png"
    if not path.exists():
        rows, cols = np.mgrid[0:WIDE_H, 0:WIDE_W]
        pixels = np.stack([cols * 5, rows * 9, (rows * cols) % 256], axis=-1).astype(np.uint8)
        Image.fromarray(pixels).convert("RGBA").save(path)  # RGBA on purpose: must become RGB
    return path


def conv_wide_run(runner) -> tuple:
    return (CONVOLUTION, "--quick", "--image", str(wide_image(runner)))


REQUESTS = {
    "conv": (CONVOLUTION, "--quick"),
    "transposed": (TRANSPOSED, "--quick"),
    "pool": (POOLING, "--quick"),
    "linear": (LINEAR, "--quick"),
    "act": (ACTIVATIONS, "--quick"),
}
plan_runs(*REQUESTS.values())


@pytest.fixture(scope="module")
def runs(lesson_runner, tmp_path_factory):
    """Every run (the --quick ones are shared with the smoke tests), and 01 on a small non-square
    picture (in this process: it is quick); every one must succeed."""
    results = dict(zip(REQUESTS, lesson_runner.run_many(list(REQUESTS.values()))))
    results["conv_wide"] = run_in_process(*conv_wide_run(lesson_runner), out_dir=tmp_path_factory.mktemp("wide"))
    results["pool_deterministic"] = run_in_process(POOLING, "--quick", "--deterministic",
                                                   out_dir=tmp_path_factory.mktemp("deterministic"))
    for run in results.values():
        assert run.returncode == 0, run.explain()
    return results


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


def test_photo_figures_are_jpeg_and_small(runs):
    for key, expected in (("conv", "convolution.jpg"), ("transposed", "conv_transpose.jpg"),
                          ("pool", "pooling.jpg")):
        files = [figure["file"] for figure in read_figures(runs[key].out_dir)]
        assert expected in files, files
        size = (runs[key].out_dir / expected).stat().st_size
        assert 20_000 < size < MAX_PHOTO_FIGURE_BYTES, (expected, size)


# --- 01_convolution -----------------------------------------------------------------------------

def test_convolution_shapes_on_the_notes_photo(runs):
    metrics = runs["conv"].metrics
    assert metrics["input_shape"] == [1, 3, 512, 512]
    assert metrics["conv2d_shape"] == [1, 1, 510, 510]
    assert metrics["conv2d_predicted_hw"] == [510, 510]
    assert metrics["conv2d_weight_shape"] == [1, 3, 3, 3]  # the notes print torch.Size([1, 3, 3, 3])
    assert "grace_hopper.jpg" in metrics["image_source"]
    assert "torch.Size([1, 3, 3, 3])" in runs["conv"].stdout
    assert "卷积后尺寸:torch.Size([1, 1, 510, 510])" in runs["conv"].stdout


def test_multichannel_convolution_is_a_sum_of_2d_convolutions_plus_bias(runs):
    assert runs["conv"].metrics["channel_sum_max_abs_difference"] <= 1e-5


def test_raw_conv_output_leaves_the_uint8_range(runs):
    # The reason the figure draws the raw floats: a good part of the output is below 0 or above 1.
    assert 0.05 < runs["conv"].metrics["conv2d_fraction_outside_0_1"] <= 1


def test_conv2d_parameters_one_by_one(runs):
    variants = runs["conv"].metrics["conv2d_variants"]
    assert variants["padding=1"]["shape"] == [1, 1, 512, 512]  # p = (k − 1)/2 keeps the size
    assert variants["stride=2"]["shape"] == [1, 1, 255, 255]
    assert variants["dilation=2"]["shape"] == [1, 1, 508, 508]
    assert variants["bias=False"]["parameters"] == 27 and variants["padding=1"]["parameters"] == 28
    assert variants["out_channels=3, groups=3"]["weight_shape"] == [3, 1, 3, 3]  # (out, in/groups, k, k)
    assert variants["out_channels=3, groups=3"]["parameters"] == 30
    assert variants["padding=1, padding_mode='reflect'"]["shape"] == [1, 1, 512, 512]
    for name, variant in variants.items():
        assert variant["shape"][-2:] == variant["predicted_hw"], name


def test_dilation_spreads_the_receptive_field(runs):
    assert runs["conv"].metrics["dilation_receptive_field"] == {"1": 3, "2": 5}


def test_padding_modes_fill_the_border_differently(runs):
    # 4×4 input 0 … 15, kernel of ones, padding 1: the top-left output sums its padded 3×3 window.
    assert runs["conv"].metrics["padding_mode_corner"] == {"zeros": 10, "reflect": 30, "replicate": 15,
                                                          "circular": 60}


def test_conv3d_as_the_notes_wrote_it(runs):
    metrics = runs["conv"].metrics
    assert metrics["conv3d_input_shape"] == [1, 3, 1, 512, 512]
    assert metrics["conv3d_shape"] == [1, 1, 1, 510, 510]
    assert metrics["conv3d_vs_middle_slice_max_abs_difference"] <= 1e-5
    assert metrics["conv3d_unpadded_refusal"], "the kernel deeper than the input was not refused"
    assert "PyTorch refuses" in runs["conv"].stdout and "Formula sweep" in runs["conv"].stdout  # went on


def test_formula_sweep_matches_every_real_conv2d(runs):
    metrics = runs["conv"].metrics
    assert metrics["formula_cases"] == 72  # --quick; 216 in the default run
    assert metrics["formula_matches"] == metrics["formula_cases"]
    assert metrics["formula_impossible_cases"] >= 1  # the "layer refuses" branch was exercised


def test_non_square_image_gives_the_shapes_the_formulas_predict(runs):
    metrics = runs["conv_wide"].metrics
    h, w = WIDE_H, WIDE_W
    assert metrics["input_shape"] == [1, 3, h, w]
    assert metrics["conv2d_shape"] == [1, 1, conv_size(h, 3), conv_size(w, 3)] == [1, 1, 26, 43]
    assert metrics["conv3d_shape"] == [1, 1, 1, conv_size(h, 3), conv_size(w, 3)]
    assert metrics["conv2d_variants"]["stride=2"]["shape"] == [1, 1, conv_size(h, 3, 2), conv_size(w, 3, 2)]
    assert "wide.png" in metrics["image_source"] and not metrics["image_downscaled"]


# --- 02_transposed_convolution ------------------------------------------------------------------

def test_convolution_and_its_transpose_as_a_matrix(runs):
    metrics = runs["transposed"].metrics
    assert metrics["conv_matrix_shape"] == [4, 16]
    assert metrics["transposed_matrix_shape"] == [16, 4]
    assert metrics["conv_as_matrix_max_abs_difference"] <= 1e-5
    assert metrics["transposed_as_matrix_max_abs_difference"] <= 1e-5
    # Cᵀ restores the shape, not the values: not an inverse (not "deconvolution").
    assert metrics["transpose_round_trip_max_abs_difference"] > 0.1


def test_transposed_convolution_upsamples_the_photo(runs):
    metrics = runs["transposed"].metrics
    assert metrics["input_shape"] == [1, 3, 512, 512]
    assert metrics["conv_transpose_shape"] == [1, 1, 1025, 1025]
    assert metrics["conv_transpose_predicted_hw"] == [1025, 1025]
    assert metrics["conv_transpose_weight_shape"] == [3, 1, 3, 3]  # (in, out, k, k) for transposed


def test_transposed_formula_sweep_matches_every_real_layer(runs):
    metrics = runs["transposed"].metrics
    assert metrics["formula_cases"] == 156  # --quick; 468 in the default run (684 with Conv2d's 216)
    assert metrics["formula_matches"] == metrics["formula_cases"]


def test_transposed_convolution_overlaps_unevenly(runs):
    metrics = runs["transposed"].metrics
    assert metrics["overlap_interior_pattern"] == [[4, 2], [2, 1]]
    assert metrics["overlap_interior_pattern_kernel4"] == [[4, 4], [4, 4]]


# --- 03_pooling ---------------------------------------------------------------------------------

def test_pooling_halves_the_photo(runs):
    metrics = runs["pool"].metrics
    assert metrics["input_shape"] == [1, 3, 512, 512]
    assert metrics["maxpool_shape"] == metrics["avgpool_shape"] == [1, 3, 256, 256]


def test_max_pooling_is_brighter_and_average_pooling_keeps_the_brightness(runs):
    metrics = runs["pool"].metrics
    assert metrics["maxpool_mean"] > metrics["avgpool_mean"] + 0.01
    assert metrics["avgpool_mean"] == pytest.approx(metrics["photo_mean"], abs=1e-4)
    assert 0.2 < metrics["photo_mean"] < 0.5  # grace_hopper.jpg is a darkish photo


def test_divisor_override_divides_by_three(runs):
    assert np.allclose(runs["pool"].metrics["divisor_override_output"], np.full((2, 2), 4 / 3), atol=1e-5)


def test_count_include_pad_decides_whether_padding_counts(runs):
    metrics = runs["pool"].metrics
    assert np.allclose(metrics["count_include_pad_true"], [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]])
    assert np.allclose(metrics["count_include_pad_false"], np.ones((3, 3)))


def test_max_unpooling_as_the_notes(runs):
    metrics = runs["pool"].metrics
    assert metrics["unpool_input"] == [[0, 4, 4, 3], [3, 3, 1, 1], [4, 2, 3, 4], [1, 3, 3, 0]]
    assert metrics["unpool_pooled"] == [[4, 4], [4, 4]]
    assert metrics["unpool_indices"] == [[1, 2], [8, 11]]
    reconstruct = [[-1.0276, -0.5631], [-0.8923, -0.0583]]  # the notes' randn_like after seed 1
    assert np.allclose(metrics["unpool_reconstruct"], reconstruct, atol=1e-4)
    expected = np.zeros(16)
    expected[[1, 2, 8, 11]] = np.ravel(reconstruct)
    assert np.allclose(np.ravel(metrics["unpool_output"]), expected, atol=1e-4)


def test_pooling_runs_under_deterministic_and_says_what_it_relaxed(runs):
    run = runs["pool_deterministic"]
    assert "--deterministic: MaxUnpool2d" in run.stdout
    assert run.metrics["unpool_output"] == runs["pool"].metrics["unpool_output"]


def test_adaptive_pooling_fixes_the_output_size(runs):
    metrics = runs["pool"].metrics
    assert metrics["adaptive_shape"] == metrics["adaptive_crop_shape"] == [1, 3, 7, 7]
    assert metrics["crop_shape"] == [1, 3, 320, 192]
    assert metrics["maxpool_crop_shape"] == [1, 3, 160, 96]
    assert metrics["adaptive_equals_maxpool_when_even"] is True
    assert metrics["adaptive_5x5_output"] == [[12, 14], [22, 24]]  # overlapping 3×3 windows


def test_ceil_mode_keeps_the_partial_windows(runs):
    metrics = runs["pool"].metrics
    assert metrics["ceil_false_output"] == [[6, 8], [16, 18]]
    assert metrics["ceil_true_output"] == [[6, 8, 9], [16, 18, 19], [21, 23, 24]]


def test_pooling_a_non_square_input_follows_the_formula(runs):
    metrics = runs["pool"].metrics
    _, _, crop_h, crop_w = metrics["crop_shape"]
    assert crop_h != crop_w
    assert metrics["maxpool_crop_shape"] == [1, 3, conv_size(crop_h, 2, stride=2), conv_size(crop_w, 2, stride=2)]


# --- 04_linear ----------------------------------------------------------------------------------

def test_linear_layer_with_hand_set_weights(runs):
    metrics = runs["linear"].metrics
    assert metrics["linear_weight"] == [[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]
    assert np.allclose(metrics["linear_output"], [[6.5, 12.5, 18.5, 24.5]], atol=1e-6)


def test_stacked_linear_layers_collapse_unless_relu_separates_them(runs):
    metrics = runs["linear"].metrics
    assert metrics["composed_weight_shape"] == [4, 8]
    assert metrics["collapse_max_abs_difference"] < 1e-5
    assert metrics["plane_collapse_max_abs_difference"] < 1e-5
    assert metrics["relu_max_abs_difference"] > 0.1
    # No single linear layer fits the ReLU stack: the least-squares residual stays far from 0.
    assert metrics["linear_best_fit_rms"] < 1e-5
    assert metrics["relu_best_fit_rms"] > 1e-2


# --- 05_activations -----------------------------------------------------------------------------

def test_derivative_maxima(runs):
    metrics = runs["act"].metrics
    assert 0.2499 < metrics["sigmoid_grad_max"] <= 0.25 + 1e-7
    assert abs(metrics["sigmoid_grad_argmax"]) < 1e-3
    assert 0.999 < metrics["tanh_grad_max"] <= 1 + 1e-6
    assert 4.0 < metrics["sigmoid_saturates_beyond"] < 5.0
    assert 2.5 < metrics["tanh_saturates_beyond"] < 3.5
    assert 0 < metrics["sigmoid_chain_grad"] <= metrics["sigmoid_chain_bound"] == pytest.approx(0.25 ** 10)


def test_reference_values_match_the_closed_forms(runs):
    metrics = runs["act"].metrics
    xs = metrics["reference_x"]
    assert xs == [-2, -0.5, 0, 0.5, 2]
    sigmoid = [1 / (1 + math.exp(-x)) for x in xs]
    assert np.allclose(metrics["sigmoid_values"], sigmoid, atol=1e-6)
    assert np.allclose(metrics["sigmoid_grads"], [s * (1 - s) for s in sigmoid], atol=1e-6)
    assert np.allclose(metrics["tanh_values"], np.tanh(xs), atol=1e-6)
    assert np.allclose(metrics["tanh_grads"], 1 - np.tanh(xs) ** 2, atol=1e-6)
    assert metrics["relu_values"] == [0, 0, 0, 0.5, 2]
    assert metrics["relu_grads"] == [0, 0, 0, 1, 1]  # PyTorch: ReLU′(0) = 0
    assert np.allclose(metrics["leakyrelu_values"], [-0.02, -0.005, 0, 0.5, 2], atol=1e-7)
    assert np.allclose(metrics["leakyrelu_grads"], [0.01, 0.01, 0.01, 1, 1], atol=1e-7)
    assert np.allclose(metrics["prelu_values"], [-0.5, -0.125, 0, 0.5, 2], atol=1e-7)


def test_prelu_slope_is_learnable_shared_or_per_channel(runs):
    metrics = runs["act"].metrics
    assert metrics["prelu_init"] == 0.25 and metrics["prelu_weight_shape"] == [1]
    assert metrics["prelu_weight_grad"] == pytest.approx(metrics["prelu_expected_grad"], rel=1e-5)
    assert metrics["prelu_weight_grad"] < 0  # Σ of the negative inputs
    assert metrics["prelu_channels_weight_shape"] == [3]
    assert metrics["prelu_channels_init"] == [0.25, 0.25, 0.25]
    assert np.allclose(metrics["prelu_channels_slopes_seen"], [0.05, 0.25, 0.5], atol=1e-6)


def test_rrelu_random_slopes_in_training_and_their_mean_in_eval(runs):
    metrics = runs["act"].metrics
    assert metrics["rrelu_train_slope_count"] >= 50
    assert 1 / 8 - 1e-6 <= metrics["rrelu_train_slope_min"] < metrics["rrelu_train_slope_max"] <= 1 / 3 + 1e-6
    assert metrics["rrelu_train_slope_max"] - metrics["rrelu_train_slope_min"] > 0.1  # really random
    assert metrics["rrelu_train_grads_are_slopes"] is True
    assert metrics["rrelu_eval_slope"] == pytest.approx((1 / 8 + 1 / 3) / 2, abs=1e-6)
    assert np.allclose(metrics["rrelu_grads"], [11 / 48] * 3 + [1, 1], atol=1e-6)
