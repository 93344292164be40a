# %% [markdown]
"""Activation functions and their derivatives: Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, RReLU.

The notes' activation layers (激活函数) in the lesson on pooling, linear and activation layers. An
activation is the non-linearity between linear layers; without it a deep network is one linear layer
(04_linear.py). Its derivative matters as much: backpropagation multiplies every layer's derivative,
so an activation whose derivative is small or zero makes the gradient vanish in a deep net. Each
function is drawn with its derivative computed by autograd, not by hand, with the region where it
saturates shaded; ten stacked sigmoids show the vanishing gradient; PReLU's slope is a learnable
parameter (one, or one per channel); RReLU draws a random slope per element in training mode and
uses the mean slope in eval mode.

    python lesson_layers/05_activations.py

A good breakpoint: `activation_output.sum().backward()` in function_and_derivative; look at x.grad:
it is f′(x) at every point, because d(Σ f(xᵢ))/dxᵢ = f′(xᵢ).
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

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

from tools.cli import lesson_parser, start_lesson
from tools.figures import BLACK, BLUE, GREEN, GREY, ORANGE, PURPLE, VERMILLION, save_figure, shade_where
from tools.metrics import record

parser = lesson_parser("lesson_layers/05_activations.py", __doc__, default_seed=1,
                       quick="121 instead of 1,201 points on the x grid")
args = start_lesson(parser)
device = args.device

X_RANGE = 6.0
GRID_POINTS = 121 if args.quick else 1201  # points on [−6, 6]; both grids contain x = 0
REFERENCE_X = [-2.0, -0.5, 0.0, 0.5, 2.0]
RRELU_LOWER, RRELU_UPPER = 1 / 8, 1 / 3  # PyTorch's defaults, as in the notes
PRELU_INIT = 0.25
CHANNEL_SLOPES = [0.05, 0.25, 0.5]  # per-channel PReLU slopes for the picture, as training could leave them
SATURATED_GRAD = 0.01  # shade where |f′| is below this: the gradient all but stops there
CHAIN_LAYERS = 10


def function_and_derivative(activation: nn.Module, x_values: torch.Tensor) -> tuple:
    """f(x) and f′(x) at every x, the derivative by autograd: d(Σ f(xᵢ))/dxᵢ = f′(xᵢ)."""
    x = x_values.clone().to(device).requires_grad_()  # a fresh leaf, so gradients do not mix
    activation_output = activation(x)
    activation_output.sum().backward()
    return activation_output.detach().cpu(), x.grad.cpu()


# %% The activations, as modules
x_grid = torch.linspace(-X_RANGE, X_RANGE, GRID_POINTS)  # (P,)
x_reference = torch.tensor(REFERENCE_X)
activations = {
    "Sigmoid": nn.Sigmoid(),
    "Tanh": nn.Tanh(),
    "ReLU": nn.ReLU(),
    "LeakyReLU(0.01)": nn.LeakyReLU(negative_slope=0.01),
    "PReLU": nn.PReLU(num_parameters=1, init=PRELU_INIT).to(device),  # weight (1,), learnable
    "RReLU (eval)": nn.RReLU(lower=RRELU_LOWER, upper=RRELU_UPPER).eval(),
}

# %% Reference values at a few points (deterministic activations; RReLU in eval mode)
reference = {}
print("x:".ljust(18) + "".join(f"{x:>9g}" for x in REFERENCE_X))
for name, activation in activations.items():
    values, grads = function_and_derivative(activation, x_reference)
    reference[name] = (values, grads)
    print(f"{name:<17} " + "".join(f"{v:9.4f}" for v in values.tolist()))
    print(f"{name + '′':<17} " + "".join(f"{g:9.4f}" for g in grads.tolist()))

# %% Derivative maxima: sigmoid′ ≤ 0.25 and tanh′ ≤ 1, both at x = 0
curves = {name: function_and_derivative(activation, x_grid) for name, activation in activations.items()}
sigmoid_grad_max = curves["Sigmoid"][1].max().item()
tanh_grad_max = curves["Tanh"][1].max().item()
sigmoid_grad_argmax = x_grid[curves["Sigmoid"][1].argmax()].item()
print(f"max sigmoid′ on the grid = {sigmoid_grad_max:.4f} at x = {sigmoid_grad_argmax:.3f} (≤ 0.25); "
      f"max tanh′ = {tanh_grad_max:.4f} (≤ 1)")
record("sigmoid_grad_max", sigmoid_grad_max, headline=True)
record("tanh_grad_max", tanh_grad_max, headline=True)
saturation_x = {}
for name in ("Sigmoid", "Tanh"):
    values, grads = curves[name]
    saturation_x[name] = x_grid[(grads >= SATURATED_GRAD)].max().item()
    print(f"{name}′ < {SATURATED_GRAD} for |x| > {saturation_x[name]:.2f}: it saturates")

# The notes' second point against sigmoid: its output is not zero-mean. Over an input symmetric about
# 0, sigmoid's outputs average 1/2 (σ(x) + σ(−x) = 1) and are all positive, so the next layer only
# ever sees positive inputs; tanh's average 0.
output_means = {name: curves[name][0].mean().item() for name in ("Sigmoid", "Tanh")}
sigmoid_all_positive = bool((curves["Sigmoid"][0] > 0).all())
tanh_mean = round(output_means["Tanh"], 4) + 0.0  # + 0.0 turns a rounded -0.0 into 0.0: no "-0.0000"
print(f"Mean output over the symmetric grid [−{X_RANGE:g}, {X_RANGE:g}]: sigmoid {output_means['Sigmoid']:.4f} "
      f"(every output > 0: {sigmoid_all_positive}), tanh {tanh_mean:.4f}: sigmoid is not zero-mean, tanh is")
record("sigmoid_output_mean", output_means["Sigmoid"], headline=True)

# Why it matters: backprop multiplies the derivatives of stacked layers. Ten sigmoids in a row,
# starting at x = 0 (the best place), differentiated by autograd:
chain_grads = []  # the gradient through 1, 2, … CHAIN_LAYERS sigmoids
for depth in range(1, CHAIN_LAYERS + 1):
    chain_input = torch.zeros(1, device=device, requires_grad=True)
    chain_output = chain_input
    for _ in range(depth):
        chain_output = torch.sigmoid(chain_output)
    chain_output.backward()
    chain_grads.append(chain_input.grad.item())
sigmoid_chain_grad = chain_grads[-1]
print(f"d/dx of {CHAIN_LAYERS} stacked sigmoids at x = 0: {sigmoid_chain_grad:.3e} "
      f"(bound 0.25^{CHAIN_LAYERS} = {0.25 ** CHAIN_LAYERS:.3e})")

# %% PReLU: a learnable slope, one for all channels or one per channel
prelu = activations["PReLU"]
prelu.zero_grad()
_, _ = function_and_derivative(prelu, x_grid)  # backward also reaches the slope parameter
# d(Σ PReLU(x))/da = Σ x over x < 0: the slope gets a gradient, so an optimiser can move it.
prelu_weight_grad = prelu.weight.grad.item()
prelu_expected_grad = x_grid[x_grid < 0].sum().item()
print(f"PReLU(num_parameters=1): weight {prelu.weight.tolist()} (a Parameter: "
      f"{isinstance(prelu.weight, nn.Parameter)}), its gradient {prelu_weight_grad:.2f} "
      f"= Σ of the negative x {prelu_expected_grad:.2f}")
prelu_channels = nn.PReLU(num_parameters=3, init=PRELU_INIT).to(device)  # weight (3,): one per channel
prelu_channels_init = prelu_channels.weight.tolist()
with torch.no_grad():
    prelu_channels.weight.copy_(torch.tensor(CHANNEL_SLOPES))
x_channels = x_grid.repeat(1, 3, 1)  # (1, 3, P): the same x in each of 3 channels (dimension 1)
channel_values, channel_grads = function_and_derivative(prelu_channels, x_channels)  # (1, 3, P) each
channel_slopes_seen = [channel_grads[0, c, 0].item() for c in range(3)]  # f′ at x = −6, per channel
print(f"PReLU(num_parameters=3): weight shape {tuple(prelu_channels.weight.shape)}, starts at "
      f"{prelu_channels_init}; set to {CHANNEL_SLOPES}, channel c of a (1, 3, {GRID_POINTS}) input gets "
      f"slope {[round(s, 4) for s in channel_slopes_seen]}")

# %% RReLU: a random slope per element in training mode, a fixed one in eval mode
# RReLU draws its slopes inside the layer, from the random generator of the device it runs on, so
# a GPU shows other slopes than the CPU (all in [1/8, 1/3] all the same).
rrelu = nn.RReLU(lower=RRELU_LOWER, upper=RRELU_UPPER)  # modules start in training mode
rrelu_train_values, rrelu_train_grads = function_and_derivative(rrelu.train(), x_grid)
negative = x_grid < 0
rrelu_slopes = rrelu_train_values[negative] / x_grid[negative]  # the slope each element drew
print(f"RReLU training mode: {negative.sum().item()} negative inputs drew slopes in "
      f"[{rrelu_slopes.min().item():.4f}, {rrelu_slopes.max().item():.4f}] "
      f"(allowed [{RRELU_LOWER:.4f}, {RRELU_UPPER:.4f}]), mean {rrelu_slopes.mean().item():.4f}")
rrelu_eval_slope = (reference["RReLU (eval)"][0][0] / x_reference[0]).item()
print(f"RReLU eval mode: slope {rrelu_eval_slope:.4f} = (1/8 + 1/3)/2 = {(RRELU_LOWER + RRELU_UPPER) / 2:.4f}")
record("rrelu_eval_slope", rrelu_eval_slope, headline=True)
rrelu_grads_are_slopes = torch.allclose(rrelu_train_grads[negative], rrelu_slopes)
print(f"  in training mode autograd's f′ is each element's own slope: {rrelu_grads_are_slopes}")

# %% Figure: every function with its derivative, and the gradient through stacked sigmoids
fig, axes = plt.subplots(3, 3, figsize=(12, 11.5), layout="constrained")
x_plot = x_grid.numpy()


panels = [("Sigmoid", "Sigmoid: f′ ≤ 0.25"), ("Tanh", "Tanh: f′ ≤ 1"), ("ReLU", "ReLU: f′ = 0 or 1"),
          ("LeakyReLU(0.01)", "LeakyReLU(negative_slope=0.01)"),
          ("PReLU", f"PReLU(num_parameters=1)\nslope {PRELU_INIT}, learnable")]
for ax, (name, title) in zip(axes.flat, panels):
    values, grads = curves[name]
    shade_where(ax, x_plot, grads.abs() < SATURATED_GRAD)  # where the gradient all but stops
    ax.plot(x_plot, values.numpy(), color=BLUE, lw=2, label="f(x)")
    ax.plot(x_plot, grads.numpy(), color=ORANGE, lw=2, ls="--", label="f′(x) by autograd")
    ax.set_title(title)
axes.flat[0].plot([], [], color=VERMILLION, alpha=0.3, lw=8, label=f"saturated: |f′| < {SATURATED_GRAD}")
axes.flat[0].legend(loc="upper left", fontsize=9)  # one legend for the five panels that share it
axes.flat[3].annotate("f′ = 0.01 for x < 0:\nsmall, but never 0", xy=(-3, 0.01), xytext=(-5.5, 3),
                      arrowprops={"arrowstyle": "->"}, fontsize=9)
axes.flat[2].annotate("f′ = 0: no gradient\n(a \"dead\" unit)", xy=(-3, 0), xytext=(-5.5, 3),
                      arrowprops={"arrowstyle": "->"}, fontsize=9)

ax = axes.flat[5]
for channel, colour in enumerate([GREEN, BLUE, PURPLE]):
    ax.plot(x_plot, channel_values[0, channel].numpy(), color=colour, lw=2,
            label=f"channel {channel}: slope {CHANNEL_SLOPES[channel]}")
ax.set_title("PReLU(num_parameters=3)\none slope per channel (f only)")
ax.legend(loc="upper left", fontsize=9)

ax = axes.flat[6]
ax.scatter(x_plot, rrelu_train_values.numpy(), s=6, color=BLUE, label="f(x): a new slope per element")
ax.scatter(x_plot, rrelu_train_grads.numpy(), s=6, color=ORANGE, label="f′(x) by autograd")
ax.fill_between([-X_RANGE, 0], RRELU_LOWER, RRELU_UPPER, color=BLACK, alpha=0.25, lw=0, zorder=3,
                label="allowed slopes [1/8, 1/3]")  # drawn over the dots: they all fall inside it
ax.set_title("RReLU, training mode\nslope ~ U(1/8, 1/3)")
ax.legend(loc="upper left", fontsize=9)

ax = axes.flat[7]
values, grads = curves["RReLU (eval)"]
ax.plot(x_plot, values.numpy(), color=BLUE, lw=2)
ax.plot(x_plot, grads.numpy(), color=ORANGE, lw=2, ls="--")
ax.set_title(f"RReLU, eval mode: fixed slope\n(1/8 + 1/3)/2 = {rrelu_eval_slope:.4f}")

for ax in axes.flat[:8]:
    ax.axhline(0, color=GREY, lw=0.8)
    ax.axvline(0, color=GREY, lw=0.8)
    ax.set(xlabel="x", xlim=(-X_RANGE, X_RANGE))
    ax.grid(alpha=0.3)

ax = axes.flat[8]
depths = np.arange(1, CHAIN_LAYERS + 1)
ax.semilogy(depths, chain_grads, "o-", color=BLUE, label="autograd, at x = 0")
ax.semilogy(depths, 0.25 ** depths, "--", color=GREY, label="bound 0.25ⁿ")
ax.set(xlabel="sigmoids stacked (n)", ylabel="d output / d input", xticks=depths[1::2])
ax.set_title("the gradient through n sigmoids\nvanishes geometrically")
ax.legend(loc="lower left", fontsize=9)
ax.grid(alpha=0.3)
fig.suptitle("Activation functions (solid) and their derivatives by autograd (dashed):\n"
             "backprop multiplies the derivatives of every layer")
save_figure(fig, args.out_dir, "activations", show=args.show,
            caption="Each activation with its autograd derivative, the saturated region shaded; PReLU's "
                    "per-channel slopes; RReLU in training and eval mode; the gradient through stacked sigmoids.")

print(f"Summary: sigmoid′ ≤ {sigmoid_grad_max:.4f}, tanh′ ≤ {tanh_grad_max:.4f}; {CHAIN_LAYERS} sigmoids "
      f"shrink the gradient to {sigmoid_chain_grad:.1e}; RReLU slopes in [{rrelu_slopes.min().item():.3f}, "
      f"{rrelu_slopes.max().item():.3f}] training, {rrelu_eval_slope:.4f} eval. Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `activations-by-hand` (activations and their slopes by hand).
# Read one with `python tools/exercises.py show activations-by-hand`; hand in your answer with
# `python tools/exercises.py check activations-by-hand "..."`.
