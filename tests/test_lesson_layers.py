"""Claim tests of lesson_layers: every shape and number the four scripts teach, from their metrics.

The quick runs are shared with the smoke tests (same cache key); one more run feeds a non-square
--image to the convolution lesson, whose shapes must follow the size formulas. (The pooling lesson
pools a non-square crop of the photo in its own quick run; tests/test_photo.py covers --image's
loading, and its errors, in-process: each extra lesson run costs about 5 s of CPU.)
"""
import math

import numpy as np
import pytest
from PIL import Image

from conftest import lesson_script, plan_runs

CONVOLUTION = lesson_script("lesson_layers", "01_convolution")
POOLING = lesson_script("lesson_layers", "02_pooling")
LINEAR = lesson_script("lesson_layers", "03_linear")
ACTIVATIONS = lesson_script("lesson_layers", "04_activations")
WIDE_W, WIDE_H = 45, 28  # a non-square --image: odd width, even height


def conv_size(size, kernel, stride=1, padding=0, dilation=1):
    return math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1


def conv_transpose_size(size, kernel, stride=1, padding=0, dilation=1, output_padding=0):
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def wide_image_run(runner) -> tuple:
    """The convolution lesson on a non-square RGBA picture (written once into the runner's folder)."""
    path = runner.tmp_root / "wide.png"
    if not path.exists():
        rows, cols = np.mgrid[0:WIDE_H, 0:WIDE_W]
        pixels = np.stack([cols * 5, rows * 9, (rows * cols) % 256], axis=-1).astype(np.uint8)
        Image.fromarray(pixels).convert("RGBA").save(path)  # RGBA on purpose: must become RGB
    return (CONVOLUTION, "--quick", "--image", str(path))


plan_runs(wide_image_run)


@pytest.fixture(scope="module")
def runs(lesson_runner):
    """All five runs at once, two at a time (the slowest first); every one must succeed."""
    requests = {
        "conv": (CONVOLUTION, "--quick"),
        "pool": (POOLING, "--quick"),
        "conv_wide": wide_image_run,
        "linear": (LINEAR, "--quick"),
        "act": (ACTIVATIONS, "--quick"),
    }
    results = dict(zip(requests, lesson_runner.run_many(list(requests.values()))))
    for run in results.values():
        assert run.returncode == 0, run.explain()
    return results


# --- 01_convolution -----------------------------------------------------------------------------

def test_convolution_shapes_on_the_notes_photo(runs):
    metrics = runs["conv"].metrics
    assert metrics["input_shape"] == [1, 3, 512, 512]
    assert metrics["conv2d_shape"] == [1, 1, 510, 510]
    assert metrics["conv2d_weight_shape"] == [1, 3, 3, 3]
    assert metrics["conv_transpose_shape"] == [1, 1, 1025, 1025]
    assert metrics["conv_transpose_weight_shape"] == [3, 1, 3, 3]  # (in, out, k, k) for transposed
    assert metrics["conv3d_input_shape"] == [1, 3, 1, 512, 512]
    assert metrics["conv3d_shape"] == [1, 1, 3, 510, 510]
    assert "grace_hopper.jpg" in metrics["image_source"]


def test_conv3d_padding_slices_hold_only_the_bias(runs):
    assert runs["conv"].metrics["conv3d_padding_slices_are_bias"] is True


def test_raw_conv_output_leaves_the_uint8_range(runs):
    # The reason the figure draws the raw floats: a good part of the output is below 0 or above 1.
    assert 0.05 < runs["conv"].metrics["conv2d_fraction_outside_0_1"] <= 1


def test_formula_sweep_matches_every_real_layer(runs):
    metrics = runs["conv"].metrics
    assert metrics["formula_cases"] >= 60
    assert metrics["formula_matches"] == metrics["formula_cases"]
    assert metrics["formula_impossible_cases"] >= 1  # the "layer refuses" branch was exercised


def test_transposed_convolution_overlaps_unevenly(runs):
    assert runs["conv"].metrics["overlap_interior_pattern"] == [[4, 2], [2, 1]]


def test_non_square_image_gives_the_shapes_the_formulas_predict(runs):
    metrics = runs["conv_wide"].metrics
    h, w = WIDE_H, WIDE_W
    assert metrics["input_shape"] == [1, 3, h, w]
    assert metrics["conv2d_shape"] == [1, 1, conv_size(h, 3), conv_size(w, 3)] == [1, 1, 26, 43]
    assert metrics["conv_transpose_shape"] == [1, 1, conv_transpose_size(h, 3, 2),
                                               conv_transpose_size(w, 3, 2)] == [1, 1, 57, 91]
    assert metrics["conv3d_shape"] == [1, 1, conv_size(1, 1, padding=1), conv_size(h, 3), conv_size(w, 3)]
    assert "wide.png" in metrics["image_source"] and not metrics["image_downscaled"]


# --- 02_pooling ---------------------------------------------------------------------------------

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


def test_max_unpooling_puts_the_maxima_back(runs):
    metrics = runs["pool"].metrics
    assert metrics["unpool_input"] == [[0, 4, 4, 3], [3, 3, 1, 1], [4, 2, 3, 4], [1, 3, 3, 0]]
    assert metrics["unpool_pooled"] == [[4, 4], [4, 4]]
    assert metrics["unpool_indices"] == [[1, 2], [8, 11]]
    assert metrics["unpool_output"] == [[0, 4, 4, 0], [0, 0, 0, 0], [4, 0, 0, 4], [0, 0, 0, 0]]
    assert metrics["unpool_keeps_maxima"] is True


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


# --- 03_linear ----------------------------------------------------------------------------------

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


# --- 04_activations -----------------------------------------------------------------------------

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
