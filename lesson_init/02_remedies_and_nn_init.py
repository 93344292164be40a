# %% [markdown]
"""The remedies for exploding gradients, and a tour of nn.init, on the notes' 100-layer ReLU MLP.

Goes on from 01_grad_vanish_explode.py (the notes' 梯度消失与爆炸 and 权值初始化). With the notes'
std-1 weights and ReLU the forward pass overflows. BatchNorm between the layers standardises each
layer's output over the batch, so the std holds whatever the weight scale; nn.utils.clip_grad_norm_
scales the whole gradient down to a bounded norm before an optimiser step. Then every initialiser of
nn.init (uniform_, normal_, constant_, orthogonal_, xavier_*, kaiming_*) and nn.Linear's own default
go through the same ReLU MLP: which keep the std near 1, and which need relu's gain.

    python lesson_init/02_remedies_and_nn_init.py
    python lesson_init/02_remedies_and_nn_init.py --max-norm 10

A good breakpoint: the `clip_grad_norm_` line; compare a layer's weight.grad before and after it.
"""
# %%
import sys
from pathlib import Path

# This repo's `tools` and `model` first on sys.path, from any working directory. A notebook kernel
# has no __file__: it runs in the lesson's folder.
LESSON_DIR = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(LESSON_DIR.parent))
from tools.errors import install_error_hook  # noqa: E402
install_error_hook()  # from here on, Ctrl-C or a bad input is one line on stderr, never a traceback

import math

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from tools.cli import float_between, lesson_parser, start_lesson
from tools.figures import BLACK, BLUE, GREEN, ORANGE, VERMILLION, save_figure
from tools.metrics import record

parser = lesson_parser("lesson_init/02_remedies_and_nn_init.py", __doc__, default_seed=1, quick=None)
# Below MIN_MAX_NORM the scale factor max_norm/‖g‖ (‖g‖ ~ 1e9 here) makes float32 gradients underflow to 0.
MIN_MAX_NORM, MAX_MAX_NORM = 1e-6, 1e30
parser.add_argument("--max-norm", type=float_between(MIN_MAX_NORM, MAX_MAX_NORM), default=1.0,
                    help=f"the gradient norm clip_grad_norm_ clips to, in [{MIN_MAX_NORM:g}, {MAX_MAX_NORM:g}] "
                         "(default: 1.0)")
args = start_lesson(parser)
device = args.device

LAYERS = 100
NEURAL_NUM = 256  # n_in = n_out = n
BATCH_SIZE = 16
HEALTHY_STD = (0.1, 10.0)  # outside this band a signal has vanished or exploded
RELU_GAIN = nn.init.calculate_gain("relu")  # √2: relu halves the second moment


# %% Model: the notes' MLP with ReLU on, as an nn.Sequential, optionally with BatchNorm after each Linear
def relu_mlp(init_weight, batchnorm: bool = False) -> nn.Sequential:
    """LAYERS × [Linear(n, n, bias=False), (BatchNorm1d(n),) ReLU], each weight set by init_weight.

    All the Linear layers are made first, then initialised, as 01's MLP does: from the same seed
    the same init draws the same weights there and here.
    """
    linears = [nn.Linear(NEURAL_NUM, NEURAL_NUM, bias=False) for _ in range(LAYERS)]
    blocks = []
    for linear in linears:
        init_weight(linear.weight)
        blocks += [linear, nn.BatchNorm1d(NEURAL_NUM), nn.ReLU()] if batchnorm else [linear, nn.ReLU()]
    return nn.Sequential(*blocks).to(device)


def forward(net: nn.Sequential, x: torch.Tensor):
    """Run the net block by block and keep the std of every ReLU's output (in float64, as in 01)."""
    stds = []
    for block in net:
        x = block(x)  # (B, n)
        if isinstance(block, nn.ReLU):
            stds.append(x.detach().to("cpu", torch.float64).std().item())
    return x, stds


def build_and_run(init_weight, batchnorm: bool = False):
    """Seed, build and initialise the net, draw inputs and targets, run forward: the same for every net."""
    torch.manual_seed(args.seed)
    net = relu_mlp(init_weight, batchnorm)
    inputs = torch.randn((BATCH_SIZE, NEURAL_NUM)).to(device)  # (16, 256), mean 0, std 1
    targets = torch.randn((BATCH_SIZE, NEURAL_NUM)).to(device)  # (16, 256)
    outputs, stds = forward(net, inputs)
    return net, outputs, targets, stds


def first_nan(stds: list):
    return next((i for i, std in enumerate(stds) if not math.isfinite(std)), None)


# %% The notes' std-1 weights with ReLU on: the forward pass overflows
with torch.no_grad():
    _, _, _, plain_stds = build_and_run(nn.init.normal_)
plain_nan_layer = first_nan(plain_stds)
print(f"normal+relu: output is nan in {plain_nan_layer} layers (as in 01_grad_vanish_explode.py)")

# %% Remedy 1: BatchNorm between the layers. Each Linear's output is standardised over the batch
# (mean 0, std 1 per neuron) before ReLU, so the weights' scale no longer reaches the next layer.
print("\nThe same std-1 weights, BatchNorm1d after every Linear:\n=== normal_batchnorm+relu ===")
bn_net, outputs, targets, bn_stds = build_and_run(nn.init.normal_, batchnorm=True)  # train mode: batch statistics
for i in range(0, LAYERS, 10):
    print("layer:{}, std:{}".format(i, bn_stds[i]))
loss = F.mse_loss(outputs, targets)
loss.backward()
bn_linears = [block for block in bn_net if isinstance(block, nn.Linear)]
grad_norms = [linear.weight.grad.norm().item() for linear in bn_linears]  # ‖∂loss/∂W‖ per layer
print(f"std of layer {LAYERS - 1}'s output: {bn_stds[-1]:.3f}; weight gradient norm: layer 0 {grad_norms[0]:.3g}, "
      f"layer {LAYERS - 1} {grad_norms[-1]:.3g}")
# These move with the CPU and the intra-op thread count (on more threads some of the sums behind
# them are added up in another order): the folder README gives their range, and metrics.json says
# how many threads ran.
record("normal_batchnorm+relu", {"final_std": bn_stds[-1], "grad_norm_first_layer": grad_norms[0],
                                 "grad_norm_last_layer": grad_norms[-1], "threads": torch.get_num_threads()},
       headline=True)
print(f"The forward holds, but the gradient still grows towards the input (×"
      f"{(grad_norms[0] / grad_norms[-1]) ** (1 / (LAYERS - 1)):.3f} per layer): BatchNorm fixes the scale of the "
      "activations, not the depth of the backward path (deep nets add residual connections for that).")

# %% Remedy 2: gradient clipping. clip_grad_norm_ measures the norm of all gradients as one vector
# and, if it is above max_norm, multiplies every gradient by max_norm / norm: the direction is kept.
total_before = nn.utils.clip_grad_norm_(bn_net.parameters(), max_norm=args.max_norm)
total_after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in bn_net.parameters()]))
clipped_norms = [linear.weight.grad.norm().item() for linear in bn_linears]
print(f"\nclip_grad_norm_(max_norm={args.max_norm:g}): total gradient norm {total_before.item():.4g} -> "
      f"{total_after.item():.4g}; every gradient ×{clipped_norms[0] / grad_norms[0]:.3g}, so layer 0's is "
      f"still {clipped_norms[0] / clipped_norms[-1]:,.0f} times layer {LAYERS - 1}'s")
record("clip_grad_norm", {"max_norm": args.max_norm, "total_norm_before": total_before,
                          "total_norm_after": total_after}, headline=True)

# %% Figure: the forward std with and without BatchNorm; the gradient before and after clipping
fig, (ax_std, ax_grad) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
ax_std.axhspan(*HEALTHY_STD, color=GREEN, alpha=0.2, lw=0, label="healthy std: 0.1 to 10")
finite = plain_stds[:plain_nan_layer]
ax_std.plot(range(len(finite)), finite, color=VERMILLION, lw=2, label=f"std-1 weights: nan at layer {plain_nan_layer}")
ax_std.plot(len(finite) - 1, finite[-1], "X", color=VERMILLION, ms=10, mec=BLACK)
ax_std.plot(range(LAYERS), bn_stds, color=BLUE, lw=2, label="the same, BatchNorm after every Linear")
ax_std.set(yscale="log", ylim=(1e-2, 1e40), xlabel="layer", ylabel="std of the layer's output",
           title="Forward: BatchNorm holds the std")
ax_std.set_yticks([10.0 ** k for k in range(0, 41, 10)])
ax_grad.plot(range(LAYERS), grad_norms, color=BLUE, lw=2, label="BatchNorm net: after backward")
ax_grad.plot(range(LAYERS), clipped_norms, color=ORANGE, lw=2, ls="--",
             label=f"after clip_grad_norm_(max_norm={args.max_norm:g})")
ax_grad.set(yscale="log", xlabel="layer", ylabel="‖weight gradient‖", title="Backward: clipping bounds the norm")
for ax in (ax_std, ax_grad):
    ax.set_xlim(-1, LAYERS)
    ax.grid(True, alpha=0.3)
ax_std.legend(loc="center right")
ax_grad.legend(loc="upper right")
save_figure(fig, args.out_dir, "remedies", show=args.show,
            caption="Left: std-1 weights with ReLU overflow, BatchNorm keeps the std near 1. Right: that net's "
                    "gradient per layer, and the same gradient scaled down by clip_grad_norm_.")

# %% A tour of nn.init: each initialiser, called as written, through the same 100-layer ReLU MLP
TOUR = {  # key -> (the call, the function applied to each weight w of shape (n, n))
    "linear_default": ("no init: nn.Linear's own (kaiming_uniform_, a=√5)", lambda w: w),
    "uniform_": ("uniform_(w): U(0, 1)", nn.init.uniform_),
    "normal_": ("normal_(w): N(0, 1)", nn.init.normal_),
    "constant_": ("constant_(w, 1/n)", lambda w: nn.init.constant_(w, 1 / NEURAL_NUM)),
    "orthogonal_": ("orthogonal_(w)", nn.init.orthogonal_),
    "orthogonal_ gain √2": ("orthogonal_(w, gain=√2)", lambda w: nn.init.orthogonal_(w, gain=RELU_GAIN)),
    "xavier_uniform_": ("xavier_uniform_(w)", nn.init.xavier_uniform_),
    "xavier_uniform_ gain √2": ("xavier_uniform_(w, gain=√2)", lambda w: nn.init.xavier_uniform_(w, gain=RELU_GAIN)),
    "xavier_normal_": ("xavier_normal_(w)", nn.init.xavier_normal_),
    "xavier_normal_ gain √2": ("xavier_normal_(w, gain=√2)", lambda w: nn.init.xavier_normal_(w, gain=RELU_GAIN)),
    "kaiming_uniform_": ("kaiming_uniform_(w, nonlinearity='relu')",
                         lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu")),
    "kaiming_normal_": ("kaiming_normal_(w, nonlinearity='relu')",
                        lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
}
print(f"\nnn.init through {LAYERS} × (Linear({NEURAL_NUM}, {NEURAL_NUM}), ReLU):")
print(f"  {'nn.init.<call>':52s} {'weight std':>10s} {'std of layer ' + str(LAYERS - 1):>19s}  verdict")
tour = {}
for key, (call, init_weight) in TOUR.items():
    with torch.no_grad():
        net, outputs, _, stds = build_and_run(init_weight)
    weights = torch.stack([block.weight for block in net if isinstance(block, nn.Linear)])  # (LAYERS, n, n)
    nan_layer = first_nan(stds)
    final_std = None if nan_layer is not None else stds[-1]
    if final_std is None:
        verdict, last = "explodes", f"nan at layer {nan_layer}"
    else:
        verdict = ("vanishes" if final_std < HEALTHY_STD[0] else "explodes" if final_std > HEALTHY_STD[1]
                   else "holds")
        last = f"{final_std:.3g}"
    print(f"  {call:52s} {weights.std().item():>10.4f} {last:>19s}  {verdict}")
    tour[key] = {"weight_std": weights.std().item(), "final_std": final_std, "nan_layer": nan_layer,
                 "verdict": verdict}
    if key == "constant_":  # every neuron of a layer computes the same number: symmetry is never broken
        constant_distinct = outputs[0].unique().numel()
record("nn_init_tour_holds", [key for key, result in tour.items() if result["verdict"] == "holds"], headline=True)
print(f"constant_: the {NEURAL_NUM} outputs of a sample take {constant_distinct} distinct value: equal weights "
      "make every neuron of a layer the same neuron, with the same gradient, so they never grow apart.")
print("Only kaiming_* is made for ReLU (gain √2); orthogonal_ and xavier_* need gain=calculate_gain('relu'), "
      "and nn.Linear's own default vanishes in a net this deep.")

# %% Figure: for each call, how far the last layer's std lands from 1 (log axis, healthy band)
fig, ax = plt.subplots(figsize=(12, 6), layout="constrained")
ax.axvspan(*HEALTHY_STD, color=GREEN, alpha=0.2, lw=0, label="healthy std: 0.1 to 10")
OVERFLOW_AT = 1e38  # where an overflowed output is drawn (float32's largest number is 3.4e38)
rows = list(TOUR)[::-1]  # the first call at the top
for y, key in enumerate(rows):
    final_std = tour[key]["final_std"]
    color = (VERMILLION if final_std is None else
             BLUE if HEALTHY_STD[0] <= final_std <= HEALTHY_STD[1] else ORANGE)
    value = OVERFLOW_AT if final_std is None else final_std
    ax.plot([1, value], [y, y], color=color, lw=3)  # the distance from std 1, in decades
    ax.plot(value, y, "o" if final_std is not None else ">", color=color, ms=9)
    text = f"nan at layer {tour[key]['nan_layer']}" if final_std is None else f"{final_std:.2g}"
    ax.annotate(text, (value, y), xytext=(0, 8), textcoords="offset points", ha="center", color=color)
ax.set_yticks(range(len(rows)), [TOUR[key][0] for key in rows])
ax.set_ylim(-0.7, len(rows) - 0.3)
ax.set_xscale("log")
ax.set_xlim(1e-45, 1e45)
ax.set_xticks([10.0 ** k for k in range(-40, 41, 10)])
ax.xaxis.set_minor_locator(plt.NullLocator())
ax.set(xlabel=f"std of layer {LAYERS - 1}'s output, drawn from 1 (log scale)",
       title=f"nn.init through {LAYERS} × (Linear({NEURAL_NUM}, {NEURAL_NUM}), ReLU), std-1 inputs")
ax.legend(loc="lower right")
ax.grid(True, axis="x", alpha=0.3)
save_figure(fig, args.out_dir, "nn_init_tour", show=args.show,
            caption="Where the std of the last layer's output lands, from 1, for each nn.init call through the "
                    "same 100-layer ReLU MLP; the green band is healthy.")
print(f"Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `clip-by-hand` (gradient clipping by hand).
# Read one with `python tools/exercises.py show clip-by-hand`; hand in your answer with
# `python tools/exercises.py check clip-by-hand "..."`.
