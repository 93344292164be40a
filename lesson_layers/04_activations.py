"""Activation functions and their derivatives: Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, RReLU.

An activation function is the non-linearity between linear layers; without it a deep network is one
linear layer (03_linear.py). What it does to the backward pass matters as much as what it does to
the forward pass: backpropagation multiplies the derivative of every layer's activation along the
way, so an activation whose derivative is small, or zero, makes the gradient vanish in a deep net.
Each function is drawn here with its derivative, computed by autograd, not by hand (notes: the
activation layers in the pooling, linear and activation layers lesson).

    python lesson_layers/04_activations.py

Where each one saturates (its derivative goes to 0) and why that matters:
  Sigmoid σ(x) = 1/(1 + e⁻ˣ): σ′ = σ(1 − σ) ≤ 0.25, the maximum at x = 0; saturates on both
    sides (σ′ < 0.01 for |x| > 4.6). Even at best, ten sigmoid layers multiply the gradient by at
    most 0.25¹⁰ ≈ 1e-6 (weights aside): the vanishing gradient. Its output is also not zero-centred.
  Tanh: tanh′ = 1 − tanh² ≤ 1, the maximum at 0; zero-centred, but saturates on both sides,
    sooner than the sigmoid (tanh′ < 0.01 for |x| > 3.0).
  ReLU max(0, x): derivative 1 for x > 0 (the gradient passes unchanged, however deep), exactly 0
    for x < 0: a unit whose input stays negative stops learning ("dead ReLU"). PyTorch takes the
    derivative at 0 to be 0.
  LeakyReLU (negative_slope 0.01): 0.01·x for x < 0, so the gradient never dies completely.
  PReLU: the negative slope is a learnable parameter, starting at 0.25; num_parameters=1 shares one
    slope, num_parameters=C learns one per channel (dimension 1 of an (N, C, …) input).
  RReLU (lower 1/8, upper 1/3): in training mode every element draws its own slope uniformly from
    [1/8, 1/3] (a regulariser); in eval mode the slope is fixed at their mean, (1/8 + 1/3)/2 = 11/48
    ≈ 0.2292.
None of the last three saturates on the negative side: the slope stays small but constant.

Expect (seed 1), among the printed reference values at x = −2, −0.5, 0, 0.5, 2:
  sigmoid 0.1192, 0.3775, 0.5, 0.6225, 0.8808 (derivative 0.25 at 0); tanh′(0) = 1;
  RReLU's training slopes all lie in [0.125, 0.333]; its eval slope 0.2292.

Writes to outputs/lesson_layers/04_activations/: activations.png (eight panels: each function and
its autograd derivative, the saturated region shaded) and metrics.json (derivative maxima,
reference values, RReLU slopes, PReLU parameters and gradients).

A good breakpoint: the `activation_output.sum().backward()` line of `function_and_derivative`;
look at x.grad: it is f′(x) at every point, because d(Σf(xᵢ))/dxᵢ = f′(xᵢ).
"""
# %%
import sys
from pathlib import Path

# The repo root goes first on sys.path so that `tools` is this collection's own, from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

from tools.cli import lesson_parser, parse_lesson_args
from tools.figures import save_figure
from tools.metrics import write_metrics
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=1)
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)
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
saturation_x = {}
for name in ("Sigmoid", "Tanh"):
    values, grads = curves[name]
    saturation_x[name] = x_grid[(grads >= SATURATED_GRAD)].max().item()
    print(f"{name}′ < {SATURATED_GRAD} for |x| > {saturation_x[name]:.2f}: it saturates")

# Why it matters: backprop multiplies the derivatives of stacked layers. Ten sigmoids in a row,
# starting at x = 0 (the best place), differentiated by autograd:
chain_input = torch.zeros(1, device=device, requires_grad=True)
chain_output = chain_input
for _ in range(CHAIN_LAYERS):
    chain_output = torch.sigmoid(chain_output)
chain_output.backward()
sigmoid_chain_grad = chain_input.grad.item()
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
rrelu_grads_are_slopes = bool(torch.allclose(rrelu_train_grads[negative], rrelu_slopes))

# %% Figure: every function with its derivative, eight panels
fig, axes = plt.subplots(2, 4, figsize=(18, 8.5), layout="constrained")
x_plot = x_grid.numpy()


def shade_saturated(ax, grads):
    """Shade the x where |f′| < SATURATED_GRAD (adjacent grid points merged into spans)."""
    saturated = np.abs(grads.numpy()) < SATURATED_GRAD
    edges = np.flatnonzero(np.diff(np.concatenate([[0], saturated.astype(int), [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        ax.axvspan(x_plot[start], x_plot[stop - 1], color="tab:red", alpha=0.12, lw=0)
    return saturated.any()


panels = [("Sigmoid", "Sigmoid: f′ ≤ 0.25"), ("Tanh", "Tanh: f′ ≤ 1"), ("ReLU", "ReLU: f′ = 0 or 1"),
          ("LeakyReLU(0.01)", "LeakyReLU(negative_slope=0.01)"),
          ("PReLU", f"PReLU(num_parameters=1): slope {PRELU_INIT} (learnable)")]
for ax, (name, title) in zip(axes.flat, panels):
    values, grads = curves[name]
    any_saturated = shade_saturated(ax, grads)
    ax.plot(x_plot, values.numpy(), color="tab:blue", lw=2, label="f(x)")
    ax.plot(x_plot, grads.numpy(), color="tab:orange", lw=2, ls="--", label="f′(x) by autograd")
    if any_saturated:
        ax.plot([], [], color="tab:red", alpha=0.25, lw=8, label=f"saturated: |f′| < {SATURATED_GRAD}")
    ax.set_title(title)
axes.flat[3].annotate("f′ = 0.01 for x < 0:\nsmall, but never 0", xy=(-3, 0.01), xytext=(-4.5, 2.2),
                      arrowprops={"arrowstyle": "->"}, fontsize=9)
axes.flat[2].annotate("f′ = 0: no gradient\n(a \"dead\" unit)", xy=(-3, 0), xytext=(-4.5, 2.2),
                      arrowprops={"arrowstyle": "->"}, fontsize=9)

ax = axes.flat[5]
for channel, colour in enumerate(["tab:green", "tab:blue", "tab:purple"]):
    ax.plot(x_plot, channel_values[0, channel].numpy(), color=colour, lw=2,
            label=f"channel {channel}: slope {CHANNEL_SLOPES[channel]}")
ax.set_title("PReLU(num_parameters=3): one slope per channel\n(f(x); f′ = slope for x < 0, 1 for x > 0)")

ax = axes.flat[6]
ax.scatter(x_plot, rrelu_train_values.numpy(), s=6, color="tab:blue", label="f(x): a new slope per element")
ax.scatter(x_plot, rrelu_train_grads.numpy(), s=6, color="tab:orange", label="f′(x) by autograd")
ax.fill_between([-X_RANGE, 0], RRELU_LOWER, RRELU_UPPER, color="black", alpha=0.25, lw=0, zorder=3,
                label="allowed slopes [1/8, 1/3]")  # drawn over the dots: they all fall inside it
ax.set_title("RReLU, training mode: slope ~ U(1/8, 1/3)")

ax = axes.flat[7]
values, grads = curves["RReLU (eval)"]
ax.plot(x_plot, values.numpy(), color="tab:blue", lw=2, label="f(x)")
ax.plot(x_plot, grads.numpy(), color="tab:orange", lw=2, ls="--", label="f′(x) by autograd")
ax.set_title(f"RReLU, eval mode: fixed slope (1/8 + 1/3)/2 = {rrelu_eval_slope:.4f}")

for ax in axes.flat:
    ax.axhline(0, color="gray", lw=0.8)
    ax.axvline(0, color="gray", lw=0.8)
    ax.set(xlabel="x", xlim=(-X_RANGE, X_RANGE))
    ax.legend(loc="upper left", fontsize=8.5)
    ax.grid(alpha=0.3)
fig.suptitle("Activation functions (solid) and their derivatives by autograd (dashed): backprop multiplies "
             "the derivatives of every layer", fontsize=13)
save_figure(fig, args.out_dir, "activations", show=args.show)

# %% Metrics and summary
metrics = {
    "reference_x": REFERENCE_X,
    "sigmoid_grad_max": sigmoid_grad_max,
    "sigmoid_grad_argmax": sigmoid_grad_argmax,
    "tanh_grad_max": tanh_grad_max,
    "sigmoid_saturates_beyond": saturation_x["Sigmoid"],
    "tanh_saturates_beyond": saturation_x["Tanh"],
    "sigmoid_chain_grad": sigmoid_chain_grad,
    "sigmoid_chain_bound": 0.25 ** CHAIN_LAYERS,
    "prelu_init": prelu.weight.item(),
    "prelu_weight_shape": list(prelu.weight.shape),
    "prelu_weight_grad": prelu_weight_grad,
    "prelu_expected_grad": prelu_expected_grad,
    "prelu_channels_weight_shape": list(prelu_channels.weight.shape),
    "prelu_channels_init": prelu_channels_init,
    "prelu_channels_slopes_seen": channel_slopes_seen,
    "rrelu_train_slope_min": rrelu_slopes.min().item(),
    "rrelu_train_slope_max": rrelu_slopes.max().item(),
    "rrelu_train_slope_count": rrelu_slopes.numel(),
    "rrelu_train_grads_are_slopes": rrelu_grads_are_slopes,
    "rrelu_eval_slope": rrelu_eval_slope,
    "device": str(device),
}
for name, (values, grads) in reference.items():
    key = name.split("(")[0].strip().lower()  # "LeakyReLU(0.01)" -> "leakyrelu", "RReLU (eval)" -> "rrelu"
    metrics[f"{key}_values"] = values
    metrics[f"{key}_grads"] = grads
write_metrics(args.out_dir, metrics)
print(f"Summary: sigmoid′ ≤ {sigmoid_grad_max:.4f}, tanh′ ≤ {tanh_grad_max:.4f}; {CHAIN_LAYERS} sigmoids "
      f"shrink the gradient to {sigmoid_chain_grad:.1e}; RReLU slopes in [{rrelu_slopes.min().item():.3f}, "
      f"{rrelu_slopes.max().item():.3f}] training, {rrelu_eval_slope:.4f} eval. Outputs in {args.out_dir}")
