"""The gain of an activation: how much it shrinks a signal, measured and from nn.init.calculate_gain.

Feed 10,000 standard-normal samples x through tanh and measure the notes' gain std(x)/std(tanh(x)):
tanh squashes, so its output is narrower and the next layer's weights must be that much wider.
Print it beside PyTorch's recommended nn.init.calculate_gain('tanh') = 5/3, then do the same for
sigmoid, relu and leaky_relu, where the std ratio and the library disagree, and see why (notes:
weight initialisation, the gain and nn.init.calculate_gain at the end of the lesson).

    python lesson_init/02_calculate_gain.py            # seed 1, as in the notes
    python lesson_init/02_calculate_gain.py --seed 3   # other samples: the ratios move by ~0.01

What the gain means. For one layer y = Σᵢ wᵢ·f(xᵢ) over n inputs, with the weights w zero-mean and
independent of x, Var(y) = n·Var(w)·E[f(x)²]: what passes to the next layer is the SECOND MOMENT
E[f(x)²] of the activation (its variance plus its squared mean), not its variance alone, because a
mean that the weights multiply still adds to Var(y). Keeping Var(y) = Var(x) asks for
Var(w) = gain²/n with gain² = Var(x)/E[f(x)²], i.e. gain = rms(x)/rms(f(x)). That is what the
library's table encodes, and it equals the notes' std ratio only when f(x) has mean 0:
  tanh        odd, output mean ≈ 0: std ratio ≈ rms ratio ≈ 1.598 at unit input variance. tanh is not
              scale-free (for small x it is x, and the ratio tends to 1), so there is no exact
              constant; PyTorch's table gives 5/3 ≈ 1.667, a fixed value a little above this one.
  relu        E[relu(x)²] = Var(x)/2 for any zero-mean symmetric x, so the rms ratio is exactly √2 at
              every scale: the library's √2 (Kaiming's 2/n). The std ratio is larger,
              1/√(1/2 − 1/(2π)) ≈ 1.713, because std(relu(x)) takes out relu's mean 1/√(2π) ≈ 0.40.
  leaky_relu  negative slope 0.01: rms ratio √(2/(1 + 0.01²)) ≈ 1.414, the library's value;
              std ratio ≈ 1.71.
  sigmoid     library gain 1, which neither ratio gives (std ratio ≈ 4.8, rms ratio ≈ 1.86):
              sigmoid's output has mean 1/2 and slope 1/4 at 0, so no weight scale alone makes a
              sigmoid net keep its variance; PyTorch's table simply does not correct it (gain 1).

Expect (seed 1): tanh 1.5982 (std ratio; the notes' "gain:1.5982...") beside 5/3 = 1.6667; the
rest as above, each ratio within about 0.02 of its theoretical value. --quick changes nothing
here: 10,000 samples already take under a millisecond.

Writes to outputs/lesson_init/02_calculate_gain/: gain.png (the four activations over their input's
histogram; the measured std ratio, rms ratio and library gain side by side) and metrics.json
(<activation>_std_ratio, <activation>_rms_ratio, <activation>_library_gain for each activation).

A good breakpoint: `gain = x.std() / out.std()`; compare out.mean() for tanh and for relu.
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
import torch.nn.functional as F

from tools.cli import lesson_parser, parse_lesson_args
from tools.figures import save_figure
from tools.metrics import write_metrics
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=1)
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)
device = args.device

SAMPLES = 10_000  # the notes' torch.randn(10000); --quick keeps it (it is already instant)
LEAKY_SLOPE = 0.01  # F.leaky_relu's and calculate_gain's default negative slope
ACTIVATIONS = {  # name as calculate_gain spells it -> the function
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, LEAKY_SLOPE),
}


def rms(t: torch.Tensor) -> torch.Tensor:
    """Root mean square √E[t²]: the second moment that a layer's weights pass on."""
    return t.pow(2).mean().sqrt()


# %% The notes: measure tanh's gain as a std ratio and compare with calculate_gain
x = torch.randn(SAMPLES).to(device)  # (10000,), drawn on the CPU: the same samples on every device
out = torch.tanh(x)  # (10000,)
gain = x.std() / out.std()
print("gain:{}".format(gain.item()))
tanh_gain = nn.init.calculate_gain("tanh")
print("tanh_gain in PyTorch:", tanh_gain)

# %% Every activation: std ratio (the notes' measure), rms ratio (what the gain keeps), library gain
results = {}
print(f"\n{'activation':<11} {'std ratio':>10} {'rms ratio':>10} {'calculate_gain':>15} {'mean of f(x)':>13}")
for name, activation in ACTIVATIONS.items():
    out = activation(x)  # (10000,)
    results[name] = {
        "std_ratio": (x.std() / out.std()).item(),
        "rms_ratio": (rms(x) / rms(out)).item(),
        "library_gain": float(nn.init.calculate_gain(name, LEAKY_SLOPE if name == "leaky_relu" else None)),
        "output_mean": out.mean().item(),
    }
    r = results[name]
    print(f"{name:<11} {r['std_ratio']:>10.4f} {r['rms_ratio']:>10.4f} {r['library_gain']:>15.4f} "
          f"{r['output_mean']:>13.4f}")
# The closed forms for relu at a standard-normal input (see the docstring).
relu_std_ratio_theory = 1 / math.sqrt(0.5 - 1 / (2 * math.pi))
print(f"relu in theory: std ratio 1/√(1/2 − 1/(2π)) = {relu_std_ratio_theory:.4f}, "
      f"rms ratio √2 = {math.sqrt(2):.4f}")

# %% Figure: the activations over the input's histogram; measured ratios beside the library gain
fig, (ax_curves, ax_bars) = plt.subplots(1, 2, figsize=(14, 5.2), layout="constrained")
x_cpu = x.cpu()
out_std = {name: x.std().item() / r["std_ratio"] for name, r in results.items()}
grid = torch.linspace(-4, 4, 401)  # (401,)
ax_hist = ax_curves.twinx()  # the input's histogram on its own y-axis, behind the curves
ax_hist.hist(x_cpu.numpy(), bins=80, range=(-4, 4), color="lightgray", density=True)
ax_hist.set_ylabel("density of the input x ~ N(0, 1)", color="gray")
ax_hist.set_ylim(0, 1.2)
ax_curves.set_zorder(ax_hist.get_zorder() + 1)  # curves in front of the histogram
ax_curves.patch.set_visible(False)
ax_curves.plot(grid, grid, color="black", lw=1, ls=":", label="identity (gain 1)")
CURVE_STYLE = {"tanh": dict(color="tab:blue", lw=2), "sigmoid": dict(color="tab:orange", lw=2),
               "relu": dict(color="tab:green", lw=5, alpha=0.5),  # wide: leaky_relu runs on top of it
               "leaky_relu": dict(color="tab:red", lw=1.8, ls="--")}
for name, activation in ACTIVATIONS.items():
    ax_curves.plot(grid, activation(grid), label=f"{name}: std of f(x) = {out_std[name]:.3f}",
                   **CURVE_STYLE[name])
ax_curves.set(xlim=(-4, 4), ylim=(-1.6, 2.6), xlabel="x", ylabel="f(x)",
              title=f"Activations over {SAMPLES:,} samples of N(0, 1)")
ax_curves.legend(loc="upper left", fontsize=9)
ax_curves.grid(True, alpha=0.3)

names = list(ACTIVATIONS)
positions = torch.arange(len(names), dtype=torch.float32)
bar_width = 0.26
series = [("std_ratio", "measured std(x)/std(f(x)) (the notes)", "tab:olive"),
          ("rms_ratio", "measured rms(x)/rms(f(x))", "tab:purple"),
          ("library_gain", "nn.init.calculate_gain", "tab:gray")]
for offset, (key, label, color) in zip((-bar_width, 0, bar_width), series):
    values = [results[name][key] for name in names]
    bars = ax_bars.bar(positions + offset, values, bar_width, label=label, color=color)
    ax_bars.bar_label(bars, fmt="%.2f", fontsize=8.5, padding=2)
ax_bars.set_xticks(positions.tolist(), names)
ax_bars.set(ylabel="gain", ylim=(0, 5.6),
            title="The library gain keeps the second moment (rms), not the std")
ax_bars.legend(loc="upper right", fontsize=9)
ax_bars.grid(True, axis="y", alpha=0.3)
save_figure(fig, args.out_dir, "gain", show=args.show)

# %% Metrics and summary
metrics = {"samples": SAMPLES}
for name, r in results.items():
    metrics[f"{name}_std_ratio"] = r["std_ratio"]
    metrics[f"{name}_rms_ratio"] = r["rms_ratio"]
    metrics[f"{name}_library_gain"] = r["library_gain"]
write_metrics(args.out_dir, metrics)
print(f"\nSummary: tanh's measured gain {results['tanh']['std_ratio']:.4f} vs calculate_gain 5/3 = "
      f"{tanh_gain:.4f}; relu's rms ratio {results['relu']['rms_ratio']:.4f} vs √2 = {math.sqrt(2):.4f} "
      f"(its std ratio {results['relu']['std_ratio']:.4f} counts relu's mean out). Outputs in {args.out_dir}")
