# %% [markdown]
"""The gain of an activation: how much it shrinks a signal, measured and from nn.init.calculate_gain.

Goes with the end of the notes' 权值初始化: feed 10,000 standard-normal samples through tanh and
measure the notes' gain std(x)/std(tanh(x)) beside nn.init.calculate_gain('tanh'). The notes call
the gain a ratio of variances; their code and the library use a ratio of standard deviations (the
gain multiplies the weights' std: Var(w) = gain²/n). Then sigmoid, relu and leaky_relu, where the
std ratio and the library part ways: the library keeps the second moment E[f(x)²] that the next
layer passes on, i.e. the ratio of root mean squares, which is the std ratio only when f(x) has
mean 0. Last, calculate_gain's `param`: leaky_relu's negative slope a gives √(2/(1 + a²)).

    python lesson_init/03_calculate_gain.py            # seed 1, as in the notes
    python lesson_init/03_calculate_gain.py --seed 3   # other samples, slightly other ratios

A good breakpoint: `gain = x.std() / out.std()`; compare out.mean() for tanh and for relu.
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

from tools.cli import lesson_parser, start_lesson
from tools.figures import BLACK, BLUE, PURPLE, SKY, VERMILLION, draw_grouped_bars, histogram_behind, save_figure
from tools.metrics import record

parser = lesson_parser("lesson_init/03_calculate_gain.py", __doc__, default_seed=1, quick=None)
args = start_lesson(parser)
device = args.device

SAMPLES = 10_000  # the notes' torch.randn(10000)
LEAKY_SLOPE = 0.01  # F.leaky_relu's and calculate_gain's default negative slope
SLOPES = (0.01, 0.1, 0.2, 0.5, 1.0)  # leaky_relu slopes for calculate_gain's `param` (1: the identity)
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
record("tanh_std_ratio", gain, headline=True)
tanh_gain = nn.init.calculate_gain("tanh")
print("tanh_gain in PyTorch:", tanh_gain)
record("tanh_library_gain", tanh_gain, headline=True)
# A ratio of variances would be the square. The gain lives on the std scale: a weight init multiplies
# its std by it (xavier: std = gain·√(2/(n_in + n_out))), so std(x)/std(f(x)) is the matching measure.
variance_ratio = (x.var() / out.var()).item()
print(f"The notes call the gain a ratio of variances, but their code divides standard deviations: "
      f"Var(x)/Var(tanh(x)) = {variance_ratio:.4f} = gain², while calculate_gain's {tanh_gain:.4f} is on the "
      "std scale, the factor a weight's std is multiplied by.")

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
# The closed forms for relu at a standard-normal input: E[relu(x)²] = 1/2, E[relu(x)] = 1/√(2π).
relu_std_ratio_theory = 1 / math.sqrt(0.5 - 1 / (2 * math.pi))
print(f"relu in theory: std ratio 1/√(1/2 − 1/(2π)) = {relu_std_ratio_theory:.4f}, "
      f"rms ratio √2 = {math.sqrt(2):.4f}")

# %% calculate_gain's `param`: leaky_relu's negative slope a. Its output keeps (1 + a²)/2 of the
# second moment, so the gain is √(2/(1 + a²)); a = 1 is the identity, gain 1.
print(f"\n{'slope a':>8} {'calculate_gain':>15} {'√(2/(1+a²))':>12} {'measured rms ratio':>19}")
slope_gains = {}
for slope in SLOPES:
    library = nn.init.calculate_gain("leaky_relu", param=slope)
    measured = (rms(x) / rms(F.leaky_relu(x, slope))).item()
    slope_gains[slope] = {"library_gain": library, "formula": math.sqrt(2 / (1 + slope ** 2)), "rms_ratio": measured}
    print(f"{slope:>8g} {library:>15.4f} {math.sqrt(2 / (1 + slope ** 2)):>12.4f} {measured:>19.4f}")

# %% Figure: the activations over the input's histogram; measured ratios beside the library gain; the slope
fig, axes = plt.subplot_mosaic([["curves", "bars"], ["slope", "slope"]], figsize=(12, 9.5),
                               height_ratios=(1.2, 1), layout="constrained")
grid = torch.linspace(-4, 4, 401)  # (401,)
histogram_behind(axes["curves"], x.cpu(), bins=80, value_range=(-4, 4),
                 label="density of the input x ~ N(0, 1)").set_ylim(0, 1.2)  # low, under the curves
axes["curves"].plot(grid, grid, color=BLACK, lw=1, ls=":", label="identity (gain 1)")
for name, activation in ACTIVATIONS.items():  # relu wide and pale: leaky_relu runs dashed on top of it
    axes["curves"].plot(grid, activation(grid), label=name, lw=5 if name == "relu" else 2,
                        alpha=0.5 if name == "relu" else 1, ls="--" if name == "leaky_relu" else "-")
axes["curves"].set(xlim=(-4, 4), ylim=(-1.6, 2.6), xlabel="x", ylabel="f(x)",
                   title=f"Activations over {SAMPLES:,} samples of N(0, 1)")
# The point of the bars: the library gain follows the rms ratio, not the notes' std ratio.
draw_grouped_bars(axes["bars"], list(ACTIVATIONS), [
    ("std(x)/std(f(x)) (the notes)", [r["std_ratio"] for r in results.values()], PURPLE),
    ("rms(x)/rms(f(x))", [r["rms_ratio"] for r in results.values()], SKY),
    ("nn.init.calculate_gain", [r["library_gain"] for r in results.values()], BLACK)])
axes["bars"].set(ylabel="gain", ylim=(0, 6.5), title="The library gain keeps the rms, not the std")
slope_grid = torch.linspace(0, 1, 101)  # (101,)
axes["slope"].plot(slope_grid, torch.sqrt(2 / (1 + slope_grid ** 2)), color=BLACK, lw=1.5, label="√(2/(1 + a²))")
for key, marker, colour, label in (("library_gain", "o", BLUE, "calculate_gain('leaky_relu', param=a)"),
                                   ("rms_ratio", "x", VERMILLION, "measured rms(x)/rms(leaky_relu(x, a))")):
    axes["slope"].plot(SLOPES, [slope_gains[s][key] for s in SLOPES], marker, color=colour, ms=9, mew=2, label=label)
axes["slope"].set(xlabel="negative slope a of leaky_relu (a = 0: relu, a = 1: the identity)", ylabel="gain",
                  ylim=(0.95, 1.5), title="calculate_gain's param: leaky_relu's slope")
for ax in axes.values():
    ax.legend(loc="upper left" if ax is axes["curves"] else "upper right")
    ax.grid(True, axis="y" if ax is axes["bars"] else "both", alpha=0.3)
save_figure(fig, args.out_dir, "gain", show=args.show,
            caption="The four activations over the input's histogram; the measured std and rms ratios beside "
                    "calculate_gain; leaky_relu's gain as its slope changes.")

print(f"\nSummary: tanh's measured gain {results['tanh']['std_ratio']:.4f} vs calculate_gain 5/3 = "
      f"{tanh_gain:.4f}; relu's rms ratio {results['relu']['rms_ratio']:.4f} vs √2 = {math.sqrt(2):.4f} "
      f"(its std ratio {results['relu']['std_ratio']:.4f} counts relu's mean out). Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `init-tanh-gain` (measure tanh's gain).
# Read one with `python tools/exercises.py show init-tanh-gain`; hand in your answer with
# `python tools/exercises.py check init-tanh-gain "..."`.
