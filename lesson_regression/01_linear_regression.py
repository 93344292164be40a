# %% [markdown]
"""Linear regression with hand-written gradient steps.

Fit y = w·x + b to 20 noisy points of y = 2x + 5 by gradient descent: autograd computes the
gradients, the update w ← w − lr·∂L/∂w is written by hand (notes: linear regression, 线性回归, at
the end of the autograd lesson). The notes stop when the loss falls below 1; beyond the notes, the
loop keeps stepping until the gradient vanishes and meets the closed-form least-squares fit.

    python lesson_regression/01_linear_regression.py --show                    # watch the line move
    python lesson_regression/01_linear_regression.py --slope 3 --stop-loss 0.5  # the course's homework

Figures: training.gif, fit.png; what it prints: lesson_regression/README.md.
A good breakpoint: the `loss.backward()` line; look at w.grad and b.grad before and after it.
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

from tools.cli import float_between, learning_rate, lesson_parser, positive_float, positive_int, start_lesson
from tools.errors import fail_run
from tools.figures import BLACK, BLUE, GREY, VERMILLION, GifRecorder, plot_parameter_paths, save_figure
from tools.metrics import record

COURSE_LR = 0.05
COURSE_ITERATIONS = 1000
COURSE_SLOPE = 2.0  # the notes' y = 2*x + (5 + torch.randn(20, 1))
COURSE_STOP_LOSS = 1.0  # the notes' stop rule: loss < 1

# No smaller mode: the lesson is fast already, and its GIF and convergence are what it teaches.
parser = lesson_parser("lesson_regression/01_linear_regression.py", __doc__, default_seed=10, quick=None)
parser.add_argument("--lr", type=learning_rate, default=COURSE_LR, metavar="LR",
                    help=f"learning rate (default: {COURSE_LR}, as in the notes)")
parser.add_argument("--iterations", type=positive_int, default=COURSE_ITERATIONS, metavar="N",
                    help=f"the stop rule must hold within N (default: {COURSE_ITERATIONS})")
parser.add_argument("--slope", type=float_between(-100, 100), default=COURSE_SLOPE, metavar="W",
                    help=f"the slope of the data, y = W·x + 5 + noise (default: {COURSE_SLOPE:g}, as in the notes)")
parser.add_argument("--stop-loss", type=positive_float, default=COURSE_STOP_LOSS, metavar="L",
                    help=f"stop when the loss is below L (default: {COURSE_STOP_LOSS:g}, as in the notes)")
args = start_lesson(parser)  # flags checked, generators seeded, device picked, out-dir made
device = args.device

POINTS = 20
TRUE_B = 5.0
LOG_EVERY = 20  # the notes print and test their stop rule every 20 iterations ...
# ... and draw then; the GIF draws twice as often, to show the line move (more sparsely in a run
# longer than the course's, so that a million iterations still draw about a hundred frames).
FRAME_EVERY = 10 * max(1, args.iterations // COURSE_ITERATIONS)
CONVERGED_GRADIENT_NORM = 1e-4  # beyond the notes: stop when ‖(∂L/∂w, ∂L/∂b)‖ is about 0 ...
TRAIN_ON_ITERATIONS = 5000  # ... or after at most this many steps past the notes' stop

# %% Data: y = 2x + 5 + noise, 20 points with x in [0, 10)
# Drawn on the CPU, then moved, so that every device sees the same numbers.
x = torch.rand(POINTS, 1) * 10  # (20, 1)
y = args.slope * x + (TRUE_B + torch.randn(POINTS, 1))  # (20, 1)
x, y = x.to(device), y.to(device)

# %% Model: two parameters that autograd tracks
w = torch.randn(1).to(device).requires_grad_()  # (1,)
b = torch.zeros(1).to(device).requires_grad_()  # (1,)

# %% Iterate: forward, loss, backward, update, in the notes' order
# The notes stop at the first check where the loss is below 1. Beyond the notes, the same loop
# then keeps stepping (at most TRAIN_ON_ITERATIONS more) until the gradient has vanished.
stop_iteration = None  # where the notes' rule fired
history = {"w": [], "b": []}  # a float per iteration, after its step: the right panel of fit.png
fig, ax = plt.subplots(figsize=(6, 4.5))
x_line = torch.tensor([0.0, 10.0])
y_limits = (min(0.0, y.min().item() - 1), max(30.0, y.max().item() + 1))
with GifRecorder(fig, args.out_dir / "training.gif", fps=2, show=args.show,
                 caption=f"The course's loop every {FRAME_EVERY} iterations, until the loss < {args.stop_loss:g} "
                         "rule stops it: the line after each step, the loss measured before it.") as gif:
    for iteration in range(args.iterations + TRAIN_ON_ITERATIONS):
        y_pred = w * x + b  # (20, 1): w and b, (1,), broadcast over the 20 points
        loss = (0.5 * (y - y_pred) ** 2).mean()  # MSE with a ½, so that ∂L/∂ŷ is plainly (ŷ − y)/20
        loss_value = loss.item()  # one copy to Python per iteration (on a GPU, one synchronisation)
        if not math.isfinite(loss_value):
            fail_run(f"the loss diverged: it became {loss_value} at iteration {iteration} (lr {args.lr:g}): "
                     "each step overshoots the minimum by more than it corrects, so w and b swing ever "
                     f"wider; try --lr {COURSE_LR if args.lr > COURSE_LR else args.lr / 10:g}")
        loss.backward()  # fills w.grad and b.grad
        with torch.no_grad():  # the update is not part of the model: autograd must not record it
            w -= args.lr * w.grad  # (the notes write w.data.sub_(lr * w.grad), the same step)
            b -= args.lr * b.grad
        if stop_iteration is not None:  # beyond the notes: is the gradient gone?
            gradient_norm = torch.hypot(w.grad, b.grad).item()
        w.grad.zero_()  # gradients add up over backward() calls: clear them for the next one
        b.grad.zero_()
        history["w"].append(w.item())
        history["b"].append(b.item())

        if stop_iteration is None:  # the notes' loop: draw, print, and test their rule
            if iteration % FRAME_EVERY == 0:
                ax.clear()
                ax.scatter(x.cpu(), y.cpu(), color=BLUE, label="data")
                ax.plot(x_line, w.item() * x_line + b.item(), color=VERMILLION, lw=3, label="w·x + b")
                ax.set(xlim=(0, 10), ylim=y_limits, xlabel="x", ylabel="y",
                       title=f"Iteration {iteration}: w {w.item():.4f}, b {b.item():.4f} (after the step)\n"
                             f"Loss={loss_value:.4f} (measured before the step)")
                ax.legend(loc="upper left")
                gif.frame()
            if iteration % LOG_EVERY == 0:
                print(f"Iteration: {iteration:4d}  loss: {loss_value:8.4f}  w: {w.item():.4f}  b: {b.item():.4f}")
                if loss_value < args.stop_loss:
                    stop_iteration, stop_loss, stop_w, stop_b = iteration, loss_value, w.item(), b.item()
                    print(f"Stopped at iteration {stop_iteration} (loss {stop_loss:.4f} < {args.stop_loss:g}): "
                          f"w = {stop_w:.4f}, b = {stop_b:.4f}")
                    record("stop_iteration", stop_iteration, headline=True)
                    record("w", stop_w, headline=True)
                    record("b", stop_b, headline=True)
            if stop_iteration is None and iteration + 1 == args.iterations:  # the notes' range(1000) is over
                fail_run(f"ran out of iterations: the notes' stop rule (loss < {args.stop_loss:g}, checked every "
                         f"{LOG_EVERY} iterations) never held in {args.iterations} iterations (the last loss "
                         f"was {loss_value:.4f}); try --iterations {max(COURSE_ITERATIONS, 2 * args.iterations)}")
        elif gradient_norm < CONVERGED_GRADIENT_NORM or iteration == stop_iteration + TRAIN_ON_ITERATIONS:
            break  # beyond the notes: trained on until the gradient vanished (or for long enough)
plt.close(fig)

converged = gradient_norm < CONVERGED_GRADIENT_NORM
print(f"Trained on:     w = {w.item():.4f}, b = {b.item():.4f} at iteration {iteration} "
      f"({f'converged: gradient norm < {CONVERGED_GRADIENT_NORM:g}' if converged else 'not yet converged'})")

# %% Beyond the notes: the closed-form least-squares fit
# Solve [x 1]·[w b]ᵀ ≈ y in one step. On the CPU: it is the authority we compare with, and not
# every device implements lstsq.
design = torch.cat([x, torch.ones_like(x)], dim=1).cpu()  # (20, 2): one row [x_i, 1] per point
solution = torch.linalg.lstsq(design, y.cpu()).solution  # (2, 1): [w, b]
lstsq_w, lstsq_b = solution[0].item(), solution[1].item()
print(f"Least squares:  w = {lstsq_w:.4f}, b = {lstsq_b:.4f}  (the notes' rule left b at {stop_b:.4f}: "
      "x lies far from 0, so b moves slowly)")
record("lstsq_w", lstsq_w)
record("lstsq_b", lstsq_b, headline=True)

# %% Figure: the stopped fit beside least squares, and w and b over the iterations
fig, (ax_fit, ax_params) = plt.subplots(1, 2, figsize=(12, 4.8))
ax_fit.scatter(x.cpu(), y.cpu(), color=BLUE, label="data")
for (slope, intercept), style, colour, label in (
        ((stop_w, stop_b), "-", VERMILLION, f"stopped at loss < {args.stop_loss:g}"),
        ((lstsq_w, lstsq_b), "--", BLACK, "least squares"),
        ((args.slope, TRUE_B), ":", GREY, "truth")):
    ax_fit.plot(x_line, slope * x_line + intercept, style, color=colour, lw=2,
                label=f"{label}: y = {slope:.2f}x + {intercept:.2f}")
ax_fit.set(xlim=(0, 10), ylim=y_limits, xlabel="x", ylabel="y",
           title=f"Where the loss < {args.stop_loss:g} rule stops, and the best line")
ax_fit.legend(loc="upper left")
plot_parameter_paths(ax_params, {"w": (history["w"], lstsq_w), "b": (history["b"], lstsq_b)},
                     stop_iteration, f"the notes' rule\nstops here\n(b = {stop_b:.2f})",
                     title="b needs far more iterations than the rule gives it")
save_figure(fig, args.out_dir, "fit", show=args.show,
            caption="Left: the line where the notes' loss rule stops, beside the least-squares line; "
                    "right: w and b over every iteration, b still far from least squares at the stop.")

# %% Summary
print(f"Summary: the course's rule stopped at iteration {stop_iteration} with w = {stop_w:.2f}, "
      f"b = {stop_b:.2f}; least squares says w = {lstsq_w:.2f}, b = {lstsq_b:.2f}. "
      f"Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `linear-slope-stop` (the course's: another slope and stop rule),
# `linear-gradient` (one gradient by hand), `linear-diverge` (a learning rate too large).
# Read one with `python tools/exercises.py show linear-slope-stop`; hand in your answer with
# `python tools/exercises.py check linear-slope-stop "..."`.
