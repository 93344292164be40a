# %% [markdown]
"""The linear layer, and why a stack of linear layers without activations is one linear layer.

The notes' nn.Linear (线性层, 全连接层) in the lesson on pooling, linear and activation layers.
nn.Linear(in_features, out_features) computes y = x Wᵀ + b: every output is a weighted sum of all
inputs plus a bias. The notes set the weights by hand so the arithmetic can be checked on paper;
this lesson does the same, then shows why networks need activation functions: linear maps compose
into one linear map,
    W₃(W₂(W₁x + b₁) + b₂) + b₃ = (W₃W₂W₁)x + (W₃W₂b₁ + W₃b₂ + b₃),
so three linear layers express no more than one. A ReLU between them breaks this: not even the best
single linear layer, fitted by least squares, reproduces the stack with ReLUs.

    python lesson_layers/04_linear.py

A good breakpoint: `output = linear_layer(inputs)`; look at linear_layer.weight (shape (out, in) =
(4, 3): one row per output) and compute inputs @ linear_layer.weight.T + linear_layer.bias yourself.
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

from tools.cli import lesson_parser, start_lesson
from tools.figures import BLACK, GREY, draw_value_grid, save_figure
from tools.metrics import record

parser = lesson_parser("lesson_layers/04_linear.py", __doc__, default_seed=1,
                       quick="64 instead of 1,024 random inputs for the collapse check, 200 instead of "
                             "800 points in its picture")
args = start_lesson(parser)
device = args.device

STACK_SIZES = (8, 16, 16, 4)  # three Linear layers: 8 -> 16 -> 16 -> 4
STACK_SAMPLES = 64 if args.quick else 1024
PLANE_POINTS = 200 if args.quick else 800  # 2-D points for the picture


def compose(layers: list) -> tuple:
    """The single (W, b) equal to applying `layers` one after the other, with no activation.

    Applying (W₁, b₁) then (W₂, b₂) gives W₂(W₁x + b₁) + b₂ = (W₂W₁)x + (W₂b₁ + b₂).
    """
    weight, bias = layers[0].weight, layers[0].bias
    for layer in layers[1:]:
        weight = layer.weight @ weight  # (out, in) @ (in, …): the later layer acts last
        bias = layer.weight @ bias + layer.bias
    return weight, bias


# %% nn.Linear(3, 4) with the notes' hand-set weights
inputs = torch.tensor([[1.0, 2.0, 3.0]]).to(device)  # (1, 3): a batch of one sample, 3 features
linear_layer = nn.Linear(3, 4).to(device)  # weight (4, 3), bias (4,)
with torch.no_grad():  # setting parameters is not part of any computation to differentiate
    linear_layer.weight.copy_(torch.tensor([[1.0, 1.0, 1.0],
                                            [2.0, 2.0, 2.0],
                                            [3.0, 3.0, 3.0],
                                            [4.0, 4.0, 4.0]]))
    linear_layer.bias.fill_(0.5)
output = linear_layer(inputs)  # (1, 4): inputs @ weight.T + bias
by_hand = inputs @ linear_layer.weight.T + linear_layer.bias
print(f"nn.Linear(3, 4) on {inputs.tolist()}: weight shape {tuple(linear_layer.weight.shape)}, "
      f"output {output.tolist()} (by hand: {by_hand.tolist()})")
record("linear_output", output, headline=True)

# %% Beyond the notes: three linear layers without activation are one linear layer
stack = [nn.Linear(n_in, n_out).to(device) for n_in, n_out in zip(STACK_SIZES[:-1], STACK_SIZES[1:])]
samples = torch.randn(STACK_SAMPLES, STACK_SIZES[0]).to(device)  # (B, 8)
with torch.no_grad():
    composed_weight, composed_bias = compose(stack)  # (4, 8), (4,)
    stacked = samples
    for layer in stack:
        stacked = layer(stacked)  # (B, 16), (B, 16), (B, 4)
    single = samples @ composed_weight.T + composed_bias  # (B, 4): one layer does the same
    with_relu = samples
    for layer in stack[:-1]:
        with_relu = torch.relu(layer(with_relu))  # a ReLU after each hidden layer
    with_relu = stack[-1](with_relu)  # (B, 4)
linear_difference = (stacked - single).abs().max().item()
relu_difference = (with_relu - single).abs().max().item()
print(f"{len(stack)} Linear layers {' -> '.join(map(str, STACK_SIZES))} vs the single layer "
      f"W = W3 W2 W1 {tuple(composed_weight.shape)}: max |difference| {linear_difference:.2e}")
record("collapse_max_abs_difference", linear_difference, headline=True)
print(f"The same layers with ReLU between them vs that single layer: max |difference| {relu_difference:.4f}")

# The ReLU stack is not any other single linear layer either: fit the best one by least squares
# (on the CPU, the reference) and measure what is left over.
design = torch.cat([samples.cpu(), torch.ones(STACK_SAMPLES, 1)], dim=1)  # (B, 9): [x, 1]
best_fit = torch.linalg.lstsq(design, with_relu.cpu()).solution  # (9, 4)
relu_best_linear_rms = (design @ best_fit - with_relu.cpu()).pow(2).mean().sqrt().item()
linear_best_linear_rms = (design @ torch.linalg.lstsq(design, stacked.cpu()).solution
                          - stacked.cpu()).pow(2).mean().sqrt().item()
print(f"Best single linear layer fitted by least squares: RMS error {linear_best_linear_rms:.2e} on the "
      f"plain stack, {relu_best_linear_rms:.4f} on the ReLU stack")

# %% Figure: the 3 -> 4 layer as a picture of its computation
weight = linear_layer.weight.detach().cpu()  # (4, 3)
fig, axes = plt.subplots(1, 4, figsize=(9, 4.6), width_ratios=[3, 1, 1, 1], layout="constrained")
for ax, values, title in zip(axes, (weight, inputs.cpu().T, linear_layer.bias.detach().cpu(), output.detach().cpu().T),
                             ("weight W (4, 3)\none row per output", "input x\n(3 features)", "bias b\n(4,)",
                              "output\ny = Wx + b")):
    draw_value_grid(ax, values, title, cmap="Blues", fontsize=13)
    ax.set_xticks([])
rows = [f"y{index} = {w:g}·1 + {w:g}·2 + {w:g}·3 + 0.5 = {y:g}"
        for index, (w, y) in enumerate(zip(weight[:, 0].tolist(), output[0].tolist()))]
fig.suptitle("nn.Linear(3, 4): every output is a weighted sum of all inputs plus a bias\n"
             + ";   ".join(rows[:2]) + ";   …")
save_figure(fig, args.out_dir, "linear_layer", show=args.show,
            caption="The notes' nn.Linear(3, 4) with hand-set weights: W, x, b and y = Wx + b as labelled matrices.")

# %% The collapse, on 2-D points you can see
# Three Linear(2, 2) layers map the plane; the composed single layer maps it identically, while a
# ReLU folds the plane (negative coordinates become 0) and no single linear map can do that.
# The weights are picked by hand, well-conditioned, so the pictures stay readable: random 2×2 layers
# often squash the plane onto a line, and then every panel looks alike.
PLANE_WEIGHTS = ([[1.0, 0.5], [-0.3, 1.0]], [[0.8, -0.6], [0.6, 0.8]], [[1.0, 0.4], [0.2, 1.0]])
PLANE_BIASES = ([0.2, 0.1], [0.1, 0.0], [0.0, 0.0])
plane_stack = []
for weight_rows, bias_values in zip(PLANE_WEIGHTS, PLANE_BIASES):
    plane_layer = nn.Linear(2, 2).to(device)
    with torch.no_grad():
        plane_layer.weight.copy_(torch.tensor(weight_rows))
        plane_layer.bias.copy_(torch.tensor(bias_values))
    plane_stack.append(plane_layer)
angles = torch.linspace(0, 2 * math.pi, PLANE_POINTS)
radii = torch.linspace(0.2, 1.0, PLANE_POINTS)
plane = torch.stack([radii * torch.cos(3 * angles), radii * torch.sin(3 * angles)], dim=1).to(device)  # (P, 2): a spiral
with torch.no_grad():
    plane_weight, plane_bias = compose(plane_stack)  # (2, 2), (2,)
    plane_linear = plane
    plane_relu = plane
    for number, layer in enumerate(plane_stack):
        plane_linear = layer(plane_linear)
        plane_relu = layer(plane_relu)
        if number < len(plane_stack) - 1:
            plane_relu = torch.relu(plane_relu)
    plane_single = plane @ plane_weight.T + plane_bias
plane_difference = (plane_linear - plane_single).abs().max().item()
print(f"A spiral of {PLANE_POINTS} 2-D points through three Linear(2, 2) layers vs their composed single layer: "
      f"max |difference| {plane_difference:.1e}")

# %% Figure: the spiral through the linear stack, its single layer, and the ReLU stack
colour = angles.numpy()  # the same colour marks the same input point in every panel
fig, axes = plt.subplots(1, 3, figsize=(12, 4.8), layout="constrained")
axes[0].scatter(*plane.cpu().T.numpy(), c=colour, cmap="viridis", s=12)
axes[0].set_title("input: a spiral of 2-D points\n(colour follows each point)")
axes[1].scatter(*plane_linear.cpu().T.numpy(), c=colour, cmap="viridis", s=40, label="three Linear(2, 2) layers")
axes[1].scatter(*plane_single.cpu().T.numpy(), color=BLACK, s=3, label="one layer W = W3 W2 W1")
axes[1].set_title(f"three linear layers = one linear layer\n(max |difference| {plane_difference:.1e})")
axes[1].legend(loc="best", fontsize=9)
axes[2].scatter(*plane_relu.cpu().T.numpy(), c=colour, cmap="viridis", s=12, label="with ReLU between layers")
axes[2].scatter(*plane_single.cpu().T.numpy(), color=GREY, s=3, alpha=0.5, label="one layer W = W3 W2 W1")
axes[2].set_title("with ReLU between them: the plane is folded,\nno single linear layer does that")
axes[2].legend(loc="best", fontsize=9)
for ax in axes:
    ax.set(xlabel="first coordinate", ylabel="second coordinate")
    ax.set_aspect("equal", adjustable="datalim")
save_figure(fig, args.out_dir, "collapse", show=args.show,
            caption="A spiral through three Linear(2, 2) layers lands exactly where one composed layer puts it; "
                    "with ReLU between the layers the plane is folded.")

print(f"Summary: Linear(3, 4) gives {output[0].tolist()}; {len(stack)} linear layers equal one "
      f"(max |difference| {linear_difference:.1e}), with ReLU they do not ({relu_difference:.3f}). "
      f"Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `linear-by-hand` (nn.Linear by hand).
# Read one with `python tools/exercises.py show linear-by-hand`; hand in your answer with
# `python tools/exercises.py check linear-by-hand "..."`.
