# %% [markdown]
"""Vanishing and exploding activations and gradients in a 100-layer MLP, and the inits that cure them.

The notes' 梯度消失与爆炸 and Xavier/Kaiming: 100 bias-free Linear(256, 256) print the std of each
layer's output (`layer:{}, std:{}`), then one backward pass gives each layer's weight gradient.
Std-1 weights explode; std √(1/n) vanishes under tanh and ReLU; Xavier (tanh) and Kaiming (ReLU)
hold, by hand and with nn.init alike. Remedies and the nn.init tour: 02_remedies_and_nn_init.py.
Why, for one layer: Var(y) = n·Var(w)·Var(x) (the folder README has the formulas and the numbers).

    python lesson_init/01_grad_vanish_explode.py                                 # the notes' table
    python lesson_init/01_grad_vanish_explode.py --init normal --activation none  # every layer

A good breakpoint: `x = linear(x)` in MLP.forward, with --init normal --activation none.
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
from matplotlib.patches import Patch

from tools.cli import lesson_parser, start_lesson
from tools.figures import BLACK, BLUE, GREEN, PURPLE, VERMILLION, log_decade_axis, save_figure
from tools.metrics import record

INITS = ("normal", "normal_scaled", "xavier_manual", "xavier", "kaiming_manual", "kaiming")
ACTIVATIONS = {"none": None, "tanh": torch.tanh, "relu": torch.relu}
# The combinations the notes walk through, in their order (init, activation). normal+relu is the
# notes' code as written (torch.relu on); their text's "nan in 31 layers" is normal+none.
NOTES_TABLE = (
    ("normal", "none"), ("normal", "relu"), ("normal_scaled", "none"),
    ("normal_scaled", "tanh"), ("xavier_manual", "tanh"), ("xavier", "tanh"),
    ("normal_scaled", "relu"), ("xavier", "relu"), ("kaiming_manual", "relu"), ("kaiming", "relu"),
)

parser = lesson_parser("lesson_init/01_grad_vanish_explode.py", __doc__, default_seed=1, quick=None)
parser.add_argument("--init", choices=INITS, metavar="INIT", help=f"only this init: {', '.join(INITS)}")
parser.add_argument("--activation", choices=tuple(ACTIVATIONS), metavar="ACT",
                    help=f"only this activation: {', '.join(ACTIVATIONS)} (default: the notes' table)")
args = start_lesson(parser)
device = args.device

LAYERS = 100
NEURAL_NUM = 256  # n_in = n_out = n
BATCH_SIZE = 16
XAVIER_GAIN = nn.init.calculate_gain("tanh")  # the notes scale both Xavier inits by tanh's gain, 5/3
# The table prints every 10th layer (1,000 lines would bury the result); one combination prints all.
PRINT_EVERY = 1 if (args.init and args.activation) else 10

if args.init is None and args.activation is None:
    combinations = list(NOTES_TABLE)
else:  # a flag narrows the product of every init and activation down to what was asked
    combinations = [(init, activation) for activation in ACTIVATIONS for init in INITS
                    if args.init in (None, init) and args.activation in (None, activation)]


# %% Model: the notes' MLP, a stack of bias-free Linear layers that prints each layer's std
class MLP(nn.Module):
    def __init__(self, neural_num: int, layers: int, activation: str):
        super().__init__()
        self.linears = nn.ModuleList([nn.Linear(neural_num, neural_num, bias=False) for _ in range(layers)])
        self.neural_num = neural_num
        self.activation = ACTIVATIONS[activation]
        self.stds = []  # std of every layer's output, up to and including the first nan one
        self.nan_layer = None  # the first layer whose output std is nan or inf
        self.float32_nan_layer = None  # the same, with the std taken in float32 as the notes take it

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, n)
        for i, linear in enumerate(self.linears):
            x = linear(x)  # (B, n)
            if self.activation is not None:
                x = self.activation(x)
            # The std in float64 (on the CPU: MPS has no float64). The notes' float32 x.std() squares
            # values near float32's max and overflows in its own sums before x itself does.
            std = x.detach().to("cpu", torch.float64).std().item()
            if self.float32_nan_layer is None and not torch.isfinite(x.detach().std()):
                self.float32_nan_layer = i
            self.stds.append(std)
            if i % PRINT_EVERY == 0 or not math.isfinite(std):
                print("layer:{}, std:{}".format(i, std))
            if not math.isfinite(std):
                print("output is {} in {} layers".format(std, i))
                self.nan_layer = i
                break
        return x

    def initialize(self, init: str) -> None:
        n = self.neural_num  # fan_in = fan_out = n for a square layer
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if init == "normal":
                    nn.init.normal_(m.weight, std=1.0)  # Var(y) = n·Var(x): ×√n std per layer
                elif init == "normal_scaled":
                    nn.init.normal_(m.weight, std=math.sqrt(1 / n))  # n·Var(w) = 1
                elif init == "xavier_manual":
                    bound = XAVIER_GAIN * math.sqrt(6 / (n + n))  # U(-a, a) has variance a²/3
                    nn.init.uniform_(m.weight, -bound, bound)
                elif init == "xavier":
                    nn.init.xavier_uniform_(m.weight, gain=XAVIER_GAIN)
                elif init == "kaiming_manual":
                    nn.init.normal_(m.weight, std=math.sqrt(2 / n))  # relu halves the second moment
                elif init == "kaiming":
                    nn.init.kaiming_normal_(m.weight)  # defaults: fan_in, gain √2 (relu family)


# %% Forward, then backward: every combination is seeded the same way, so one alone gives its table numbers
results = {}  # "<init>+<activation>" -> the net after its forward and backward pass
for init, activation in combinations:
    key = f"{init}+{activation}"
    print(f"=== {key} ===")
    torch.manual_seed(args.seed)  # build, initialise, then draw: the same order for every combination
    net = MLP(NEURAL_NUM, LAYERS, activation)
    net.initialize(init)  # on the CPU: every device sees the same weights
    net.to(device)
    inputs = torch.randn((BATCH_SIZE, NEURAL_NUM)).to(device)  # (16, 256), mean 0, std 1
    targets = torch.randn((BATCH_SIZE, NEURAL_NUM)).to(device)  # (16, 256): what the output should be
    outputs = net(inputs)  # (16, 256)
    if net.nan_layer is None:  # one training step's gradients; through a nan output they are nan
        loss = F.mse_loss(outputs, targets)
        loss.backward()
        grad_norms = [linear.weight.grad.norm().item() for linear in net.linears]  # ‖∂loss/∂W‖ per layer
        print(f"weight gradient norm: layer 0 {grad_norms[0]:.3g}, layer {LAYERS - 1} {grad_norms[-1]:.3g}")
        if not all(math.isfinite(norm) for norm in grad_norms):  # e.g. std-1 weights under tanh
            print("the backward pass overflowed: the forward holds, the gradient does not")
    else:
        grad_norms = None
        print("no backward pass: the output overflowed")
    results[key] = (net, grad_norms)

# %% The notes' text (no activation) and the notes' code (ReLU on); why the std is taken in float64
if "normal+none" in results and "normal+relu" in results:
    text_layer, code_layer = results["normal+none"][0].nan_layer, results["normal+relu"][0].nan_layer
    print(f"\nStd-1 weights: nan at layer {text_layer} without activation (the notes' text), at layer "
          f"{code_layer} with the notes' code as written (torch.relu on): relu zeroes half of each layer's "
          f"output, so the std grows ×√(n/2) = {math.sqrt(NEURAL_NUM / 2):.1f} per layer instead of "
          f"×√n = {math.sqrt(NEURAL_NUM):.0f}.")
if "normal+none" in results:
    net = results["normal+none"][0]
    print(f"The notes take x.std() in float32: on this device ({device}) it is nan from layer "
          f"{net.float32_nan_layer}, while x itself overflows at layer {net.nan_layer}. The float32 std "
          "squares values near float32's max (3.4e38), and where its sums overflow depends on how the "
          "device adds them up (CUDA sums otherwise, and overflows earlier); this lesson takes it in float64.")
    record("float32_std_nan_layer", {"device": str(device), "normal+none": net.float32_nan_layer})

# %% Summary: the std of the last layer's output, the weights' std, and the gradient at both ends
EXPLODED_STD, VANISHED_STD = 10.0, 0.1  # outside this band a signal has exploded or vanished
HEADLINES = ("normal+none", "normal+relu", "xavier+tanh", "kaiming+relu")
print(f"\nSummary ({LAYERS} layers of Linear({NEURAL_NUM}, {NEURAL_NUM}), batch {BATCH_SIZE}, seed {args.seed}; "
      f"healthy: std in [{VANISHED_STD}, {EXPLODED_STD}]):")
print(f"  {'combination':22s} {'verdict':9s} {'last std':>19s} {'weight std':>10s} {'grad layer 0':>12s} "
      f"{'grad layer ' + str(LAYERS - 1):>13s}")
for key, (net, grad_norms) in results.items():
    final_std = None if net.nan_layer is not None else net.stds[-1]
    weight_std = torch.stack([linear.weight.detach().var() for linear in net.linears]).mean().sqrt().item()
    if final_std is None:
        verdict, last, grads = "explodes", f"nan at layer {net.nan_layer}", (None, None)
    else:
        verdict = "explodes" if final_std > EXPLODED_STD else "vanishes" if final_std < VANISHED_STD else "holds"
        last, grads = f"{final_std:.3g}", (grad_norms[0], grad_norms[-1])
    print(f"  {key:22s} {verdict:9s} {last:>19s} {weight_std:>10.4f} "
          + " ".join(f"{'-' if g is None else f'{g:.3g}':>12s}" for g in grads))
    if key in HEADLINES:  # what the course's table and gallery show; the tests read `results` itself
        record(key, {"final_std": final_std, "nan_layer": net.nan_layer,
                     "grad_norm_first_layer": grads[0], "grad_norm_last_layer": grads[1]}, headline=True)
if "xavier+tanh" in results:  # the forward holds; does the backward?
    grad_norms = results["xavier+tanh"][1]
    per_layer = (grad_norms[0] / grad_norms[-1]) ** (1 / (LAYERS - 1))
    print(f"xavier+tanh holds the forward std, yet its gradient grows ×{per_layer:.3f} per layer on the way back "
          f"(layer 0's is {grad_norms[0] / grad_norms[-1]:,.0f} times layer {LAYERS - 1}'s): in tanh's curved "
          "part no one gain keeps both directions at 1.")

# %% Figure: per layer, the forward std (left) beside the weight-gradient norm (right), one row per activation
INIT_STYLE = {  # by-hand versions wide and pale, library versions dashed on top: they coincide
    "normal": dict(color=VERMILLION, lw=2, label="normal (std 1)"),
    "normal_scaled": dict(color=PURPLE, lw=2, label="normal_scaled (std √(1/n))"),
    "xavier_manual": dict(color=BLUE, lw=6, alpha=0.35, label="xavier_manual (by hand, gain 5/3)"),
    "xavier": dict(color=BLUE, lw=1.8, ls="--", label="xavier (nn.init.xavier_uniform_, gain 5/3)"),
    "kaiming_manual": dict(color=GREEN, lw=6, alpha=0.35, label="kaiming_manual (std √(2/n) by hand)"),
    "kaiming": dict(color=GREEN, lw=1.8, ls="--", label="kaiming (nn.init.kaiming_normal_)"),
}
ACTIVATION_TITLE = {"none": "no activation", "tanh": "tanh", "relu": "ReLU"}
panels = [activation for activation in ACTIVATIONS if any(a == activation for _, a in combinations)]
fig, axes = plt.subplots(len(panels), 2, figsize=(12, 3.4 * len(panels) + 1.2), squeeze=False,
                         layout="constrained")
for (ax_std, ax_grad), activation in zip(axes, panels):
    row = {key.split("+")[0]: value for key, value in results.items() if key.endswith("+" + activation)}
    ax_std.axhspan(VANISHED_STD, EXPLODED_STD, color=GREEN, alpha=0.2, lw=0)
    for init, (net, grad_norms) in row.items():
        stds = net.stds[:net.nan_layer]  # the finite part of the curve
        ax_std.plot(range(len(stds)), stds, **INIT_STYLE[init])
        if net.nan_layer is not None:  # mark where the curve ends: the next layer is nan
            ax_std.plot(len(stds) - 1, stds[-1], "X", color=INIT_STYLE[init]["color"], ms=10, mec=BLACK)
            ax_std.annotate(f"nan at layer {net.nan_layer}", (len(stds) - 1, stds[-1]), xytext=(8, -4),
                            textcoords="offset points", va="top", color=INIT_STYLE[init]["color"])
        if grad_norms is not None:
            ax_grad.plot(range(LAYERS), grad_norms, **INIT_STYLE[init])
    log_decade_axis(ax_std, [s for net, _ in row.values() for s in net.stds[:net.nan_layer]] + [0.05, 20])
    log_decade_axis(ax_grad, [g for _, grads in row.values() if grads for g in grads])  # overflowed: left out
    ax_std.set(ylabel="std of the layer's output", title=f"{ACTIVATION_TITLE[activation]}: forward std")
    overflowed = [init for init, (net, grad_norms) in row.items()
                  if grad_norms is None or not all(math.isfinite(norm) for norm in grad_norms)]
    ax_grad.set(ylabel="‖weight gradient‖", title=f"{ACTIVATION_TITLE[activation]}: gradient after one backward pass"
                + (f"\n(none drawn for {', '.join(overflowed)}: it overflowed)" if overflowed else ""))
    for ax in (ax_std, ax_grad):
        ax.set_xlim(-1, LAYERS)
        ax.grid(True, which="major", alpha=0.3)
for ax in axes[-1]:
    ax.set_xlabel("layer")
handles = {line.get_label(): line for ax in axes.flat for line in ax.get_lines() if not line.get_label().startswith("_")}
handles[f"healthy std: {VANISHED_STD} to {EXPLODED_STD:g}"] = Patch(color=GREEN, alpha=0.2)
fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=2, frameon=False)
fig.suptitle(f"{LAYERS} layers of Linear({NEURAL_NUM}, {NEURAL_NUM}): the std of each layer's output (left) "
             "and the norm of its weight gradient (right)")
save_figure(fig, args.out_dir, "std_per_layer", show=args.show,
            caption="Per layer, the std of the output (green band: healthy) beside the norm of the weight "
                    "gradient, one row per activation, one line per initialisation.")
print(f"Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `init-std-predict` (predict the std through std-1 weights),
# `init-kaiming-std` (the std Kaiming gives a ReLU layer).
# Read one with `python tools/exercises.py show init-std-predict`; hand in your answer with
# `python tools/exercises.py check init-std-predict "..."`.
