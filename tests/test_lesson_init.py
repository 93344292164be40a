"""Claim tests of lesson_init: what explodes, what vanishes, what stays, and the gains.

The numbers come from the lessons' own runs (metrics.json and the notes' `layer:{}, std:{}` lines),
run once per session through the shared lesson_runner; the --quick runs are the smoke tests' own.
"""
import math
import re

import pytest
import torch
import torch.nn as nn

from conftest import lesson_script, plan_runs

VANISH_EXPLODE = lesson_script("lesson_init", "01_grad_vanish_explode")
CALCULATE_GAIN = lesson_script("lesson_init", "02_calculate_gain")
SINGLE_FLAGS = ("--quick", "--init", "kaiming", "--activation", "relu")
N = 256  # the lesson's n_in = n_out
LAST = 99  # index of the last of the lesson's 100 layers
plan_runs((VANISH_EXPLODE,), (VANISH_EXPLODE, *SINGLE_FLAGS))


@pytest.fixture(scope="module")
def runs(lesson_runner) -> dict:
    """The full table, its --quick version, one --quick combination, and the gain lesson: two at a time."""
    requests = {
        "table": (VANISH_EXPLODE,),
        "quick": (VANISH_EXPLODE, "--quick"),
        "single": (VANISH_EXPLODE, *SINGLE_FLAGS),
        "gain": (CALCULATE_GAIN, "--quick"),
    }
    done = dict(zip(requests, lesson_runner.run_many(list(requests.values()))))
    for run in done.values():
        assert run.returncode == 0, run.explain()
    return done


def layer_stds(stdout: str) -> dict:
    """{"<init>+<activation>": {layer: std}} from the printed `=== key ===` and `layer:i, std:s` lines."""
    stds, key = {}, None
    for line in stdout.splitlines():
        header = re.fullmatch(r"=== (\S+) ===", line)
        if header:
            key = header.group(1)
            stds[key] = {}
        match = re.fullmatch(r"layer:(\d+), std:(\S+)", line)
        if match:
            stds[key][int(match.group(1))] = float(match.group(2))
    return stds


@pytest.fixture(scope="module")
def table(runs) -> dict:
    return runs["table"].metrics


def test_the_table_holds_every_combination_of_the_notes(table):
    expected = {"normal+none", "normal_scaled+none", "normal_scaled+tanh", "xavier_manual+tanh",
                "xavier+tanh", "normal_scaled+relu", "xavier+relu", "kaiming_manual+relu", "kaiming+relu"}
    combos = {key for key in table if "+" in key}
    assert combos == expected
    assert all(set(table[key]) == {"nan_layer", "final_std"} for key in combos)
    assert table["layers"] == 100 and table["xavier_gain"] == "tanh"


def test_std_one_weights_grow_16x_per_layer_and_overflow_at_layer_31(runs, table):
    assert table["normal+none"] == {"nan_layer": 31, "final_std": None}
    assert "output is nan in 31 layers" in runs["table"].stdout
    stds = layer_stds(runs["table"].stdout)["normal+none"]
    assert 15.0 < stds[0] < 17.0  # √256 · std(x) = 16
    assert 1e36 < stds[30] < 3.4e38  # the last finite layer, just under float32's max
    assert math.isnan(stds[31])
    # A float32 std overflows its sum of squares one layer before the activations overflow.
    assert table["float32_nan_layer"]["normal+none"] == 30
    assert runs["quick"].metrics["normal+none"]["nan_layer"] is not None  # --quick passes the nan path


def test_std_sqrt_1_over_n_stays_near_one_without_activation(table):
    assert table["normal_scaled+none"]["nan_layer"] is None
    assert 1.1 < table["normal_scaled+none"]["final_std"] < 1.35  # measured 1.22 at layer 99


def test_tanh_and_relu_vanish_with_std_sqrt_1_over_n(runs, table):
    tanh_final = table["normal_scaled+tanh"]["final_std"]
    assert 0.02 < tanh_final < 0.15  # measured 0.082: tanh shrinks slowly but steadily
    assert tanh_final < layer_stds(runs["table"].stdout)["normal_scaled+tanh"][0] / 5
    relu_final = table["normal_scaled+relu"]["final_std"]
    assert 1e-18 < relu_final < 1e-10  # measured 5.9e-16: ×1/√2 per layer, 100 times


def test_xavier_keeps_tanh_and_kaiming_keeps_relu_near_one(table):
    for key in ("xavier_manual+tanh", "xavier+tanh"):
        assert table[key]["nan_layer"] is None
        assert 0.60 < table[key]["final_std"] < 0.69, key  # measured 0.644
    for key in ("kaiming_manual+relu", "kaiming+relu"):
        assert table[key]["nan_layer"] is None
        assert 0.60 < table[key]["final_std"] < 0.74, key  # measured 0.667


def test_xavier_with_tanh_gain_explodes_under_relu(runs, table):
    assert table["xavier+relu"]["nan_layer"] is None
    final = table["xavier+relu"]["final_std"]
    assert final > 1e5  # measured 7.6e6
    first = layer_stds(runs["table"].stdout)["xavier+relu"][0]
    growth = (final / first) ** (1 / LAST)
    # Var(w)·n = (5/3)², relu halves it: the std grows ×(5/3)/√2 ≈ 1.18 per layer in theory.
    assert 1.12 < growth < 1.23


def test_by_hand_and_library_inits_draw_the_same_weights(runs, table):
    stds = layer_stds(runs["table"].stdout)
    weight_std = table["weight_std"]
    for by_hand, library in (("xavier_manual+tanh", "xavier+tanh"), ("kaiming_manual+relu", "kaiming+relu")):
        assert table[by_hand] == table[library]
        assert stds[by_hand] == stds[library] and len(stds[by_hand]) >= 10
        assert weight_std[by_hand] == weight_std[library]
    # The weights' std is the formula's: gain·√(2/(n_in + n_out)) for Xavier, √(2/n) for Kaiming.
    assert weight_std["xavier+tanh"] == pytest.approx(5 / 3 * math.sqrt(2 / (N + N)), rel=0.01)
    assert weight_std["kaiming+relu"] == pytest.approx(math.sqrt(2 / N), rel=0.01)
    assert weight_std["normal_scaled+none"] == pytest.approx(math.sqrt(1 / N), rel=0.01)
    assert weight_std["normal+none"] == pytest.approx(1.0, rel=0.01)


def test_nn_init_draws_what_the_by_hand_formulas_draw():
    """Why the lesson's curves coincide: from the same generator state, the library and the by-hand
    formula produce the very same tensor (if torch ever changes that, the lesson must say so)."""
    gain = nn.init.calculate_gain("tanh")
    pairs = (
        (lambda w: nn.init.uniform_(w, -gain * math.sqrt(6 / (N + N)), gain * math.sqrt(6 / (N + N))),
         lambda w: nn.init.xavier_uniform_(w, gain=gain)),
        (lambda w: nn.init.normal_(w, std=math.sqrt(2 / N)), nn.init.kaiming_normal_),
    )
    for by_hand, library in pairs:
        weights = []
        for init in (by_hand, library):
            generator_state = torch.random.get_rng_state()
            torch.manual_seed(0)
            weights.append(init(torch.empty(N, N)))
            torch.random.set_rng_state(generator_state)
        assert torch.equal(*weights)


def test_one_combination_alone_gives_the_numbers_it_has_in_the_table(runs):
    single = runs["single"]
    assert set(key for key in single.metrics if "+" in key) == {"kaiming+relu"}
    assert single.metrics["kaiming+relu"] == runs["quick"].metrics["kaiming+relu"]
    assert len(layer_stds(single.stdout)["kaiming+relu"]) == 40  # alone, every layer is printed


def test_tanh_gain_is_1_598_beside_the_library_5_over_3(runs):
    gains = runs["gain"].metrics
    assert round(gains["tanh_std_ratio"], 3) == 1.598  # the notes' gain:1.5982...
    assert "gain:1.598" in runs["gain"].stdout
    assert gains["tanh_library_gain"] == pytest.approx(5 / 3)
    assert abs(gains["tanh_rms_ratio"] - gains["tanh_std_ratio"]) < 0.005  # tanh's output mean ≈ 0


def test_library_gain_is_the_rms_ratio_not_the_std_ratio(runs):
    gains = runs["gain"].metrics
    assert gains["relu_library_gain"] == pytest.approx(math.sqrt(2))
    assert gains["relu_rms_ratio"] == pytest.approx(math.sqrt(2), abs=0.03)
    relu_std_ratio_theory = 1 / math.sqrt(0.5 - 1 / (2 * math.pi))  # ≈ 1.713
    assert gains["relu_std_ratio"] == pytest.approx(relu_std_ratio_theory, abs=0.04)
    assert gains["relu_std_ratio"] - gains["relu_library_gain"] > 0.2
    assert gains["leaky_relu_rms_ratio"] == pytest.approx(gains["leaky_relu_library_gain"], abs=0.03)
    # sigmoid: the library leaves it uncorrected (1); it shrinks a zero-mean signal about 4.8 times.
    assert gains["sigmoid_library_gain"] == 1.0
    assert 4.5 < gains["sigmoid_std_ratio"] < 5.1
    assert 1.75 < gains["sigmoid_rms_ratio"] < 1.95
