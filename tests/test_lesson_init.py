"""Claim tests of lesson_init: what explodes, what vanishes, what holds (forward and backward), the
remedies, the nn.init tour, and the gains.

The numbers come from the lessons' own runs (metrics.json and the notes' `layer:{}, std:{}` lines).
None of the three lessons has a smaller mode, so their --quick runs (the smoke tests' own, on the
CPU) are the full runs; one more run checks that a single combination gives its table numbers.
"""
import math
import re

import pytest
import torch
import torch.nn as nn

from conftest import lesson_script, plan_runs, run_in_process

VANISH_EXPLODE = lesson_script("lesson_init", "01_grad_vanish_explode")
REMEDIES = lesson_script("lesson_init", "02_remedies_and_nn_init")
CALCULATE_GAIN = lesson_script("lesson_init", "03_calculate_gain")
SINGLE_FLAGS = ("--init", "kaiming", "--activation", "relu")
N = 256  # the lessons' n_in = n_out
LAYERS = 100
plan_runs((VANISH_EXPLODE, "--quick"), (REMEDIES, "--quick"), (CALCULATE_GAIN, "--quick"))


@pytest.fixture(scope="module")
def runs(lesson_runner, tmp_path_factory) -> dict:
    """The three lessons' --quick runs (cached: the smoke tests share them) and one single combination."""
    requests = {
        "table": (VANISH_EXPLODE, "--quick"),
        "remedies": (REMEDIES, "--quick"),
        "gain": (CALCULATE_GAIN, "--quick"),
    }
    done = dict(zip(requests, lesson_runner.run_many(list(requests.values()))))
    # A single combination is fast (no table, one figure panel): it runs in this process.
    done["single"] = run_in_process(VANISH_EXPLODE, *SINGLE_FLAGS, out_dir=tmp_path_factory.mktemp("single"))
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
        if match and key is not None:
            stds[key][int(match.group(1))] = float(match.group(2))
    return stds


@pytest.fixture(scope="module")
def table(runs) -> dict:
    return runs["table"].metrics


# --- 01_grad_vanish_explode: the forward std --------------------------------------------------

def test_the_table_holds_every_combination_of_the_notes(table):
    expected = {"normal+none", "normal+relu", "normal_scaled+none", "normal_scaled+tanh", "xavier_manual+tanh",
                "xavier+tanh", "normal_scaled+relu", "xavier+relu", "kaiming_manual+relu", "kaiming+relu"}
    combos = {key for key in table if "+" in key}
    assert combos == expected
    fields = {"final_std", "nan_layer", "weight_std", "grad_norm_first_layer", "grad_norm_last_layer"}
    assert all(set(table[key]) == fields for key in combos)
    assert {"normal+none", "xavier+tanh", "kaiming+relu"} <= set(table["headline"])


def test_std_one_weights_grow_16x_per_layer_and_overflow_at_layer_31(runs, table):
    assert table["normal+none"]["nan_layer"] == 31 and table["normal+none"]["final_std"] is None
    assert "output is nan in 31 layers" in runs["table"].stdout
    stds = layer_stds(runs["table"].stdout)["normal+none"]
    assert 15.0 < stds[0] < 17.0  # √256 · std(x) = 16
    assert 1e36 < stds[30] < 3.4e38  # the last finite layer, just under float32's max
    assert math.isnan(stds[31])


def test_the_notes_code_with_relu_on_overflows_later_than_their_text_says(runs, table):
    """The notes' text says 31 (no activation); their code has torch.relu on: ×√(n/2) per layer, not ×√n."""
    relu_layer = table["normal+relu"]["nan_layer"]
    assert 33 <= relu_layer <= 38  # measured 35
    assert f"output is nan in {relu_layer} layers" in runs["table"].stdout
    assert f"nan at layer 31 without activation (the notes' text), at layer {relu_layer} with the notes' code" \
        in runs["table"].stdout


def test_a_float32_std_overflows_before_the_activations_do_and_where_depends_on_the_device(runs, table):
    assert table["device"] == "cpu"  # the claim tests run with --device cpu
    assert table["float32_std_nan_layer"] == {"device": "cpu", "normal+none": 30}
    assert "on this device (cpu) it is nan from layer 30, while x itself overflows at layer 31" in runs["table"].stdout


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: the GPU's float32 std is not checked")
def test_on_cuda_the_float32_std_overflows_too_and_the_float64_std_still_finds_31(lesson_runner):
    run = lesson_runner.run(VANISH_EXPLODE, "--init", "normal", "--activation", "none", "--device", "cuda")
    assert run.returncode == 0, run.explain()
    metrics = run.metrics
    assert metrics["device"].startswith("cuda") and metrics["float32_std_nan_layer"]["device"].startswith("cuda")
    assert metrics["normal+none"]["nan_layer"] == 31
    assert metrics["float32_std_nan_layer"]["normal+none"] < 31  # measured 14 on an H200


def test_std_sqrt_1_over_n_holds_without_activation(table):
    assert table["normal_scaled+none"]["nan_layer"] is None
    assert 1.1 < table["normal_scaled+none"]["final_std"] < 1.35  # measured 1.22 at layer 99


def test_tanh_and_relu_vanish_with_std_sqrt_1_over_n(runs, table):
    tanh_final = table["normal_scaled+tanh"]["final_std"]
    assert 0.02 < tanh_final < 0.15  # measured 0.082: tanh shrinks slowly but steadily
    assert tanh_final < layer_stds(runs["table"].stdout)["normal_scaled+tanh"][0] / 5
    relu_final = table["normal_scaled+relu"]["final_std"]
    assert 1e-18 < relu_final < 1e-10  # measured 5.9e-16: ×1/√2 per layer, 100 times


def test_xavier_holds_tanh_and_kaiming_holds_relu(table):
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
    growth = (final / first) ** (1 / (LAYERS - 1))
    # Var(w)·n = (5/3)², relu halves it: the std grows ×(5/3)/√2 ≈ 1.18 per layer in theory.
    assert 1.12 < growth < 1.23


def test_by_hand_and_library_inits_draw_the_same_weights(runs, table):
    stds = layer_stds(runs["table"].stdout)
    for by_hand, library in (("xavier_manual+tanh", "xavier+tanh"), ("kaiming_manual+relu", "kaiming+relu")):
        assert table[by_hand] == table[library]  # forward, weights and gradients alike
        assert stds[by_hand] == stds[library] and len(stds[by_hand]) >= 10
    # The weights' std is the formula's: gain·√(2/(n_in + n_out)) for Xavier, √(2/n) for Kaiming.
    assert table["xavier+tanh"]["weight_std"] == pytest.approx(5 / 3 * math.sqrt(2 / (N + N)), rel=0.01)
    assert table["kaiming+relu"]["weight_std"] == pytest.approx(math.sqrt(2 / N), rel=0.01)
    assert table["normal_scaled+none"]["weight_std"] == pytest.approx(math.sqrt(1 / N), rel=0.01)
    assert table["normal+none"]["weight_std"] == pytest.approx(1.0, rel=0.01)


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


def test_one_combination_alone_gives_the_numbers_it_has_in_the_table(runs, table):
    single = runs["single"]
    assert set(key for key in single.metrics if "+" in key) == {"kaiming+relu"}
    assert single.metrics["kaiming+relu"] == table["kaiming+relu"]
    assert len(layer_stds(single.stdout)["kaiming+relu"]) == LAYERS  # alone, every layer is printed


# --- 01_grad_vanish_explode: the gradients ----------------------------------------------------

def test_no_gradient_where_the_forward_pass_overflowed(table):
    for key in ("normal+none", "normal+relu"):
        assert table[key]["grad_norm_first_layer"] is None and table[key]["grad_norm_last_layer"] is None


def test_gradients_vanish_and_explode_with_the_activations(table):
    def grads(key):
        return table[key]["grad_norm_first_layer"], table[key]["grad_norm_last_layer"]
    assert all(g < 1e-12 for g in grads("normal_scaled+relu"))  # measured 2.4e-16, 3.6e-16
    assert all(g > 1e10 for g in grads("xavier+relu"))  # measured 2.3e14, 1.4e14
    for key in ("kaiming+relu", "normal_scaled+none"):  # measured 2.32, 1.28 and 6.25, 1.86
        first, last = grads(key)
        assert 0.3 < first < 30 and 0.3 < last < 30 and first / last < 10, key


def test_xavier_holds_tanh_forward_but_its_gradient_grows_on_the_way_back(runs, table):
    first, last = table["xavier+tanh"]["grad_norm_first_layer"], table["xavier+tanh"]["grad_norm_last_layer"]
    assert 0.05 < last < 1  # measured 0.23
    assert first / last > 1e3  # measured 19,359: ×1.105 per layer
    assert "xavier+tanh holds the forward std, yet its gradient grows" in runs["table"].stdout


# --- 02_remedies_and_nn_init ------------------------------------------------------------------

@pytest.fixture(scope="module")
def remedies(runs) -> dict:
    return runs["remedies"].metrics


def test_batchnorm_holds_the_std_of_std_one_weights_that_overflow_without_it(runs, remedies, table):
    assert f"normal+relu: output is nan in {table['normal+relu']['nan_layer']} layers" in runs["remedies"].stdout
    batchnorm = remedies["normal_batchnorm+relu"]
    assert batchnorm["nan_layer"] is None
    assert 0.3 < batchnorm["final_std"] < 3  # measured 0.579: std of relu(N(0, 1)) is 0.584
    stds = layer_stds(runs["remedies"].stdout)["normal_batchnorm+relu"]
    assert len(stds) == 10 and all(0.3 < std < 3 for std in stds.values())
    # The honest part: in a plain 100-layer net the gradient still grows towards the input.
    assert batchnorm["grad_norm_first_layer"] / batchnorm["grad_norm_last_layer"] > 1e6  # measured 8.5e9


def test_clip_grad_norm_bounds_the_total_norm(remedies):
    clip = remedies["clip_grad_norm"]
    assert clip["max_norm"] == 1.0
    assert clip["total_norm_before"] > 1e6  # measured 4.9e8
    assert clip["total_norm_after"] == pytest.approx(1.0, rel=1e-3)


def test_the_nn_init_tour(remedies, table):
    tour = remedies["nn_init_tour"]
    assert set(tour) == {"linear_default", "uniform_", "normal_", "constant_", "orthogonal_", "orthogonal_ gain √2",
                         "xavier_uniform_", "xavier_uniform_ gain √2", "xavier_normal_", "xavier_normal_ gain √2",
                         "kaiming_uniform_", "kaiming_normal_"}
    for key in ("uniform_", "normal_"):  # U(0, 1) and N(0, 1): explode
        assert tour[key]["nan_layer"] is not None and tour[key]["final_std"] is None, key
    assert tour["normal_"]["nan_layer"] == table["normal+relu"]["nan_layer"]  # the same weights as 01's
    assert tour["uniform_"]["nan_layer"] < tour["normal_"]["nan_layer"]  # all-positive weights: faster
    for key in ("linear_default", "orthogonal_", "xavier_uniform_", "xavier_normal_"):  # gain 1 or less: vanish
        assert tour[key]["final_std"] < 1e-10, key
    for key in ("orthogonal_ gain √2", "xavier_uniform_ gain √2", "xavier_normal_ gain √2",
                "kaiming_uniform_", "kaiming_normal_"):  # relu's gain √2: hold
        assert 0.3 < tour[key]["final_std"] < 3, key
        assert tour[key]["weight_std"] == pytest.approx(math.sqrt(2 / N), rel=0.02), key
    assert tour["kaiming_normal_"]["final_std"] == pytest.approx(table["kaiming+relu"]["final_std"], rel=1e-9)
    assert tour["xavier_uniform_"]["weight_std"] == pytest.approx(math.sqrt(1 / N), rel=0.02)
    assert tour["constant_"]["weight_std"] == 0.0
    assert remedies["constant_distinct_outputs"] == 1  # every neuron of a layer the same neuron


# --- 03_calculate_gain ------------------------------------------------------------------------

def test_tanh_gain_is_1_598_beside_the_library_5_over_3(runs):
    gains = runs["gain"].metrics
    assert round(gains["tanh_std_ratio"], 3) == 1.598  # the notes' gain:1.5982...
    assert "gain:1.598" in runs["gain"].stdout
    assert gains["tanh_library_gain"] == pytest.approx(5 / 3)
    assert abs(gains["tanh"]["rms_ratio"] - gains["tanh"]["std_ratio"]) < 0.005  # tanh's output mean ≈ 0


def test_the_gain_is_a_ratio_of_standard_deviations_not_of_variances(runs):
    gains = runs["gain"].metrics
    assert 2.5 < gains["tanh_variance_ratio"] < 2.6  # measured 2.554 = 1.598²: far from the library's 5/3
    assert "their code divides standard deviations" in runs["gain"].stdout


def test_library_gain_is_the_rms_ratio_not_the_std_ratio(runs):
    gains = runs["gain"].metrics
    relu, leaky, sigmoid = gains["relu"], gains["leaky_relu"], gains["sigmoid"]
    assert relu["library_gain"] == pytest.approx(math.sqrt(2))
    assert relu["rms_ratio"] == pytest.approx(math.sqrt(2), abs=0.03)
    relu_std_ratio_theory = 1 / math.sqrt(0.5 - 1 / (2 * math.pi))  # ≈ 1.713
    assert relu["std_ratio"] == pytest.approx(relu_std_ratio_theory, abs=0.04)
    assert relu["std_ratio"] - relu["library_gain"] > 0.2
    assert leaky["rms_ratio"] == pytest.approx(leaky["library_gain"], abs=0.03)
    # sigmoid: the library leaves it uncorrected (1); it shrinks a zero-mean signal about 4.8 times.
    assert sigmoid["library_gain"] == 1.0
    assert 4.5 < sigmoid["std_ratio"] < 5.1
    assert 1.75 < sigmoid["rms_ratio"] < 1.95


def test_calculate_gain_param_is_leaky_relus_slope(runs):
    by_slope = runs["gain"].metrics["leaky_relu_gain_by_slope"]
    assert set(by_slope) == {"0.01", "0.1", "0.2", "0.5", "1"}
    for slope, gains in by_slope.items():
        formula = math.sqrt(2 / (1 + float(slope) ** 2))
        assert gains["library_gain"] == pytest.approx(formula, rel=1e-9), slope
        assert gains["rms_ratio"] == pytest.approx(formula, abs=0.02), slope
    assert by_slope["1"]["library_gain"] == pytest.approx(1.0)  # slope 1 is the identity
    assert by_slope["0.5"]["library_gain"] < by_slope["0.01"]["library_gain"] - 0.1
