"""Exploding and vanishing activations in a 100-layer MLP, and the initialisations that cure them.

Push a batch of 16 standard-normal inputs through 100 bias-free Linear(256, 256) layers and watch
the standard deviation of each layer's output: with the wrong weight scale it explodes to inf/nan
or vanishes towards 0 within a few dozen layers (and the gradients, which flow back through the
same weights, do the same). Then fix the scale: std √(1/n) without activation, Xavier for tanh,
Kaiming for ReLU, each by hand and with nn.init, which draw the very same numbers (notes: weight
initialisation, vanishing and exploding gradients, the Xavier and Kaiming methods, the MLP with
`self.linears = nn.ModuleList(...)`).

    python lesson_init/01_grad_vanish_explode.py                                 # the notes' table
    python lesson_init/01_grad_vanish_explode.py --init normal --activation none  # one combination
    python lesson_init/01_grad_vanish_explode.py --activation relu                # every init with relu

The why, one layer y = Σᵢ wᵢxᵢ over n = 256 inputs (w, x independent, zero mean):
  Var(y) = n·Var(w)·Var(x)         so std 1 weights multiply the std by √n = 16 per layer,
                                   and Var(w) = 1/n (std √(1/n)) keeps it: `normal_scaled`.
  Xavier (Glorot, 2010): keeping the variance forward needs Var(w) = 1/n_in, backward 1/n_out;
  the compromise is Var(w) = 2/(n_in + n_out). A uniform U(-a, a) has variance a²/3, hence the bound
  a = gain·√(6/(n_in + n_out)). Kaiming (He, 2015): ReLU zeroes half of a symmetric input, so the
  second moment E[relu(y)²] = Var(y)/2 and Var(w) = 2/n_in (std √(2/n)) restores it.
  The gain (02_calculate_gain.py) is the factor by which the activation shrinks the signal's rms
  (the root of its second moment); multiplying the weight std by it puts the shrink back. Here, as
  in the notes, both Xavier versions use tanh's gain 5/3 (--xavier-gain activation uses the chosen
  activation's own: 1 for none, √2 for relu, which makes Xavier's variance Kaiming's 2/n).

Expect (seed 1; every combination is reseeded the same way: set the seed, build the net and
initialise it, then draw the inputs; so a single-combination run prints the same numbers as that
combination inside the table); std of layer 99's output, or the layer whose std is nan:
  normal+none           std 15.96 at layer 0 (= 1·√256), nan at layer 31 ("output is nan in 31 layers")
  normal_scaled+none    1.22            (stays near 1)
  normal_scaled+tanh    0.082           (vanishes: tanh shrinks every layer)
  xavier_manual+tanh    0.644           xavier+tanh   0.644 (bit-identical weights)
  normal_scaled+relu    5.9e-16         (vanishes: relu halves the second moment, 100 times)
  xavier+relu           7.6e6           (explodes: tanh's gain is too big for relu: ×(5/3)/√2 ≈ 1.18
                                          per layer in theory, ×1.17 measured; the std passes 10 at
                                          layer 14, 1e3 at layer 44, 1e6 at layer 85)
  kaiming_manual+relu   0.667           kaiming+relu  0.667 (bit-identical weights)
The std is computed in float64 while the network stays float32. A float32 std overflows in its own
arithmetic (4,096 values near 2e37 sum past float32's max, 3.4e38) and is nan at layer 30, one layer
before the activations themselves overflow to inf; the float64 std finds the true layer, 31.

Writes to outputs/lesson_init/01_grad_vanish_explode/: std_per_layer.png (per-layer std on a log
axis, one panel per activation, one line per initialisation) and metrics.json ("<init>+<activation>":
{"nan_layer", "final_std"} per combination, final_std null when the output is nan; plus layers,
xavier_gain, weight_std and float32_nan_layer, each combination's weight std and float32 nan layer).
--quick runs every combination through 40 layers instead of 100 (enough to reach the nan at 31);
its stds differ from the full run's, since nn.Linear's own default init of every layer draws from
the generator before the lesson's init does, so a 40-layer net gets other weights.

A good breakpoint: `x = linear(x)` in MLP.forward; watch x.std() grow by ×16 per layer for normal+none.
"""
# %%
import math
import sys
from pathlib import Path

# The repo root goes first on sys.path so that `tools` is this collection's own, from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from tools.cli import lesson_parser, parse_lesson_args
from tools.figures import save_figure
from tools.metrics import write_metrics
from tools.seeding import set_seed

INITS = ("normal", "normal_scaled", "xavier_manual", "xavier", "kaiming_manual", "kaiming")
ACTIVATIONS = {"none": None, "tanh": torch.tanh, "relu": torch.relu}
# The combinations the notes walk through, in their order (init, activation).
NOTES_TABLE = (
    ("normal", "none"), ("normal_scaled", "none"),
    ("normal_scaled", "tanh"), ("xavier_manual", "tanh"), ("xavier", "tanh"),
    ("normal_scaled", "relu"), ("xavier", "relu"), ("kaiming_manual", "relu"), ("kaiming", "relu"),
)

parser = lesson_parser(__file__, __doc__, default_seed=1)
parser.add_argument("--init", choices=INITS,
                    help="run only this initialisation (default: the notes' table of combinations)")
parser.add_argument("--activation", choices=tuple(ACTIVATIONS),
                    help="run only this activation (default: the notes' table of combinations)")
parser.add_argument("--xavier-gain", choices=("tanh", "activation"), default="tanh",
                    help="gain of both Xavier inits: tanh's 5/3 as in the notes, or the chosen "
                         "activation's own (1 for none, √2 for relu) (default: tanh)")
args = parse_lesson_args(parser)
device = args.device

LAYERS = 40 if args.quick else 100  # --quick: 40 layers still reach normal+none's nan at layer 31
NEURAL_NUM = 256  # n_in = n_out = 256
BATCH_SIZE = 16
# The table prints every 10th layer (900 lines would bury the result); one combination prints all.
PRINT_EVERY = 1 if (args.init and args.activation) else 10

if args.init is None and args.activation is None:
    combinations = list(NOTES_TABLE)
else:  # a flag narrows the product of every init and activation down to what was asked
    combinations = [(init, activation) for activation in ACTIVATIONS for init in INITS
                    if args.init in (None, init) and args.activation in (None, activation)]


# %% Model: the notes' MLP, a stack of bias-free Linear layers that records each layer's std
class MLP(nn.Module):
    def __init__(self, neural_num: int, layers: int, activation: str, print_every: int = 1):
        super().__init__()
        self.linears = nn.ModuleList([nn.Linear(neural_num, neural_num, bias=False) for _ in range(layers)])
        self.neural_num = neural_num
        self.activation = ACTIVATIONS[activation]
        self.print_every = print_every
        self.stds = []  # float64 std of every layer's output, up to and including the nan one
        self.nan_layer = None  # first layer whose output std is nan or inf
        self.float32_nan_layer = None  # the same, had the std been taken in float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, n)
        for i, linear in enumerate(self.linears):
            x = linear(x)  # (B, n)
            if self.activation is not None:
                x = self.activation(x)
            # float64 on the CPU: a float32 std overflows in its own sums (past 3.4e38) a layer
            # before x does, and MPS has no float64.
            std = x.to("cpu", torch.float64).std().item()
            if self.float32_nan_layer is None and not math.isfinite(x.std().item()):
                self.float32_nan_layer = i
            self.stds.append(std)
            if i % self.print_every == 0 or not math.isfinite(std):
                print("layer:{}, std:{}".format(i, std))
            if not math.isfinite(std):
                print("output is {} in {} layers".format(std, i))
                self.nan_layer = i
                break
        return x

    def initialize(self, init: str, xavier_gain: float) -> None:
        n = self.neural_num  # fan_in = fan_out = n for a square layer
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if init == "normal":
                    nn.init.normal_(m.weight, std=1.0)  # Var(y) = n·Var(x): ×16 std per layer
                elif init == "normal_scaled":
                    nn.init.normal_(m.weight, std=math.sqrt(1 / n))  # n·Var(w) = 1
                elif init == "xavier_manual":
                    bound = xavier_gain * math.sqrt(6 / (n + n))  # U(-a, a) has variance a²/3
                    nn.init.uniform_(m.weight, -bound, bound)
                elif init == "xavier":
                    nn.init.xavier_uniform_(m.weight, gain=xavier_gain)
                elif init == "kaiming_manual":
                    nn.init.normal_(m.weight, std=math.sqrt(2 / n))  # relu halves the second moment
                elif init == "kaiming":
                    nn.init.kaiming_normal_(m.weight)  # defaults: fan_in, gain √2 (relu family)


def gain_for_xavier(activation: str) -> float:
    if args.xavier_gain == "tanh":
        return nn.init.calculate_gain("tanh")  # the notes scale Xavier by tanh's gain, 5/3
    return nn.init.calculate_gain("linear" if activation == "none" else activation)


def run_combination(init: str, activation: str) -> MLP:
    """Seed, build and initialise the net, then draw the inputs: the same order for every run."""
    set_seed(args.seed, args.deterministic)
    net = MLP(NEURAL_NUM, LAYERS, activation, PRINT_EVERY)
    net.initialize(init, gain_for_xavier(activation))  # on the CPU: every device sees the same weights
    net.to(device)
    inputs = torch.randn((BATCH_SIZE, NEURAL_NUM)).to(device)  # (16, 256), mean 0, std 1
    with torch.no_grad():  # only the forward statistics matter here
        net(inputs)
    return net


# %% Forward every combination and record its per-layer std
results = {}  # "<init>+<activation>" -> the net after its forward pass
for init, activation in combinations:
    key = f"{init}+{activation}"
    print(f"=== {key} ===")
    results[key] = run_combination(init, activation)
    net = results[key]
    if net.float32_nan_layer is not None and net.float32_nan_layer != net.nan_layer:
        print(f"(a float32 std would already be nan or inf at layer {net.float32_nan_layer}: "
              f"its own sums overflow before the activations do)")


# %% Figure: per-layer std on a log axis, one panel per activation, one line per initialisation
INIT_STYLE = {  # by-hand versions wide and pale, library versions dashed on top: they coincide
    "normal": dict(color="tab:red", lw=2),
    "normal_scaled": dict(color="tab:gray", lw=2),
    "xavier_manual": dict(color="tab:blue", lw=6, alpha=0.35),
    "xavier": dict(color="tab:blue", lw=1.8, ls="--"),
    "kaiming_manual": dict(color="tab:green", lw=6, alpha=0.35),
    "kaiming": dict(color="tab:green", lw=1.8, ls="--"),
}
INIT_LABEL = {  # the --init name first, so that a line leads back to its flag
    "normal": "normal (std 1)",
    "normal_scaled": "normal_scaled (std √(1/n))",
    "xavier_manual": "xavier_manual (uniform by hand, gain {gain})",
    "xavier": "xavier (nn.init.xavier_uniform_, gain {gain})",
    "kaiming_manual": "kaiming_manual (std √(2/n) by hand)",
    "kaiming": "kaiming (nn.init.kaiming_normal_)",
}
ACTIVATION_TITLE = {"none": "no activation", "tanh": "tanh", "relu": "ReLU"}

panels = [activation for activation in ACTIVATIONS if any(a == activation for _, a in combinations)]
fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 6), squeeze=False,
                         layout="constrained")
for ax, activation in zip(axes[0], panels):
    finite_stds = []
    for key, net in results.items():
        init, key_activation = key.split("+")
        if key_activation != activation:
            continue
        stds = net.stds[:net.nan_layer]  # the finite part of the curve
        finite_stds += stds
        gain_name = "5/3" if args.xavier_gain == "tanh" else f"{gain_for_xavier(activation):.3g}"
        label = INIT_LABEL[init].format(gain=gain_name)
        if net.nan_layer is None:
            label += f": {stds[-1]:.3g} at layer {len(stds) - 1}"
        else:
            label += f": nan at layer {net.nan_layer}"
        ax.plot(range(len(stds)), stds, label=label, **INIT_STYLE[init])
        if net.nan_layer is not None:  # mark where the curve ends: the next layer is nan
            color = INIT_STYLE[init]["color"]
            ax.plot(len(stds) - 1, stds[-1], "X", color=color, ms=11, mec="black")
            ax.axvline(net.nan_layer, color=color, lw=1, ls="--")
            ax.annotate(f"layer {net.nan_layer}: nan", (net.nan_layer, stds[-1]),
                        xytext=(6, 0), textcoords="offset points", va="center", color=color)
    ax.axhline(1, color="black", lw=0.8, ls=":", label="std = 1")
    ax.set_yscale("log")
    # Clip the y-axis to the data's decades (the stds span 1e-16 to 1e38), with 1 always in view.
    low, high = min(finite_stds + [1.0]), max(finite_stds + [1.0])
    ax.set_ylim(10.0 ** math.floor(math.log10(low) - 0.5), 10.0 ** math.ceil(math.log10(high) + 1))
    ax.set_xlim(-1, LAYERS)
    ax.set(xlabel="layer", ylabel="std of the layer's output (log scale)",
           title=f"{ACTIVATION_TITLE[activation]}: Linear({NEURAL_NUM}, {NEURAL_NUM}) × {LAYERS}")
    ax.grid(True, which="major", alpha=0.3)
    # Below the panel, so that no legend ever hides a curve.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=9, frameon=False)
fig.suptitle("Per-layer std: explode (up), vanish (down), or stay near 1", fontsize=13)
save_figure(fig, args.out_dir, "std_per_layer", show=args.show)


# %% Metrics and summary
EXPLODED_STD, VANISHED_STD = 5.0, 0.2  # the summary's verdict on the last layer's std
metrics = {}
for key, net in results.items():
    final_std = net.stds[-1] if net.nan_layer is None else None
    metrics[key] = {"nan_layer": net.nan_layer, "final_std": final_std}
metrics["layers"] = LAYERS
metrics["xavier_gain"] = args.xavier_gain
# Std of the initialised weights of each combination (pooled over the layers): √Var(w) of the formula.
metrics["weight_std"] = {key: torch.stack([m.weight.detach().var() for m in net.linears]).mean().sqrt()
                         for key, net in results.items()}
metrics["float32_nan_layer"] = {key: net.float32_nan_layer for key, net in results.items()}
write_metrics(args.out_dir, metrics)

print(f"\nSummary ({LAYERS} layers of Linear({NEURAL_NUM}, {NEURAL_NUM}), batch {BATCH_SIZE}, "
      f"seed {args.seed}; explodes: nan or std > {EXPLODED_STD}, vanishes: std < {VANISHED_STD}):")
for key, net in results.items():
    if net.nan_layer is not None:
        verdict, value = "explodes", f"nan at layer {net.nan_layer}"
    else:
        final = net.stds[-1]
        verdict = ("explodes" if final > EXPLODED_STD else
                   "vanishes" if final < VANISHED_STD else "stays near 1")
        per_layer = (final / net.stds[0]) ** (1 / max(len(net.stds) - 1, 1))
        value = f"std {final:.3g} at layer {len(net.stds) - 1} (×{per_layer:.3f} per layer)"
    print(f"  {key:22s} {verdict:13s} {value}")
print(f"Outputs in {args.out_dir}")
