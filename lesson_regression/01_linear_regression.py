"""Linear regression with hand-written gradient steps.

Fit y = w·x + b to 20 noisy points of y = 2x + 5 by gradient descent, computing the gradients with
autograd and applying them by hand: the smallest complete training loop there is (notes: the
linear regression model at the end of the autograd lesson).

    python lesson_regression/01_linear_regression.py            # the course's run
    python lesson_regression/01_linear_regression.py --show     # watch the line move

Expect (seed 10): the course's stopping rule "loss < 1, checked every 20 iterations" stops at
iteration 80 with w ≈ 2.56, b ≈ 1.82. The loss is small, yet b is far from 5: the rule stops on a
small loss, not on a solved problem, and b moves slowly because x lies far from 0. Training on to
convergence (about 1,500 iterations) reaches the closed-form least-squares fit (torch.linalg.lstsq),
w ≈ 2.07 and b ≈ 4.80, which the second panel of fit.png shows.

Writes to outputs/lesson_regression/01_linear_regression/: training.gif (the fit every 20
iterations), fit.png (final line beside the least-squares line; w and b over the iterations) and
metrics.json (stop_iteration, final_loss, w, b, lstsq_w, lstsq_b, converged_*).

A good breakpoint: the `loss.backward()` line; look at w.grad and b.grad before and after it.
"""
# %%
import sys
from pathlib import Path

# The repo root goes first on sys.path so that `tools` and `model` are this collection's own,
# from any working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib.pyplot as plt
import torch

from tools.cli import lesson_parser, parse_lesson_args, positive_float, positive_int
from tools.figures import GifRecorder, save_figure
from tools.metrics import write_metrics
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=10)
parser.add_argument("--lr", type=positive_float, default=0.05, help="learning rate (default: 0.05)")
parser.add_argument("--iterations", type=positive_int, default=1000,
                    help="most iterations of the course's loop (default: 1000)")
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)
device = args.device

POINTS = 20
TRUE_W, TRUE_B = 2.0, 5.0
LOG_EVERY = 20  # the notes draw, print and test the stopping rule every 20 iterations
STOP_LOSS = 1.0  # the notes' stopping rule: loss < 1
# Beyond the notes: train on until the gradient has (nearly) vanished.
CONVERGED_GRAD_NORM = 1e-4
TRAIN_ON_ITERATIONS = 300 if args.quick else 5000

# %% Data: y = 2x + 5 + noise, 20 points with x in [0, 10)
# Drawn on the CPU and then moved, so every device sees the same numbers.
x = (torch.rand(POINTS, 1) * 10).to(device)  # (20, 1)
y = (TRUE_W * x.cpu() + (TRUE_B + torch.randn(POINTS, 1))).to(device)  # (20, 1)

# %% Model: two parameters that autograd tracks
w = torch.randn(1).to(device).requires_grad_()  # (1,)
b = torch.zeros(1).to(device).requires_grad_()  # (1,)


def mse_half(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The notes' loss: mean of ½(y − ŷ)²; the ½ makes the gradient plain (ŷ − y)."""
    return (0.5 * (target - prediction) ** 2).mean()


def gradient_step(learning_rate: float) -> torch.Tensor:
    """Forward, backward, and one hand-written step on w and b; returns the loss before the step."""
    y_pred = w * x + b  # (20, 1): broadcasting (1,) over (20, 1)
    loss = mse_half(y_pred, y)
    loss.backward()  # fills w.grad and b.grad
    with torch.no_grad():  # the update itself must not be recorded by autograd (the notes: .data)
        w.sub_(learning_rate * w.grad)
        b.sub_(learning_rate * b.grad)
    return loss.detach()


# %% Iterate: the course's loop, drawn every 20 iterations into a GIF
fig, ax = plt.subplots(figsize=(6, 4.5))
x_line = torch.linspace(0, 10, 2)
history = {"iteration": [], "w": [], "b": [], "loss": []}  # every iteration, for the second figure

with GifRecorder(fig, args.out_dir / "training.gif", fps=2, show=args.show) as gif:
    for iteration in range(args.iterations):
        loss = gradient_step(args.lr)
        history["iteration"].append(iteration)
        history["w"].append(w.item())
        history["b"].append(b.item())
        history["loss"].append(loss.item())

        if iteration % LOG_EVERY == 0:
            print(f"Iteration: {iteration:4d}  loss: {loss.item():8.4f}  "
                  f"w: {w.item():.4f}  b: {b.item():.4f}")
            ax.clear()
            ax.scatter(x.cpu(), y.cpu(), label="data")
            ax.plot(x_line, w.item() * x_line + b.item(), "r-", lw=3, label="w·x + b")
            ax.text(0.3, 26, f"Loss={loss.item():.4f}", fontdict={"size": 14, "color": "red"})
            ax.set(xlim=(0, 10), ylim=(0, 30), xlabel="x", ylabel="y",
                   title=f"Iteration: {iteration}\nw: {w.item():.4f} b: {b.item():.4f}")
            ax.legend(loc="lower right")
            gif.frame()
            if loss.item() < STOP_LOSS:
                break

        w.grad.zero_()  # gradients accumulate: clear them before the next backward()
        b.grad.zero_()

stop_iteration, stop_loss = iteration, loss.item()
stop_w, stop_b = w.item(), b.item()
plt.close(fig)
print(f"Stopped at iteration {stop_iteration} (loss {stop_loss:.4f} < {STOP_LOSS}): "
      f"w = {stop_w:.4f}, b = {stop_b:.4f}")

# %% Beyond the notes: the closed-form least-squares fit, and training on to convergence
# Solve [x 1]·[w b]ᵀ = y in one step. On the CPU: it is the authority we check against, and not
# every device implements lstsq.
design = torch.cat([x.cpu(), torch.ones(POINTS, 1)], dim=1)  # (20, 2)
solution = torch.linalg.lstsq(design, y.cpu()).solution  # (2, 1)
lstsq_w, lstsq_b = solution[0].item(), solution[1].item()

# The loss < 1 rule stopped on a small loss, not on a solved problem. Keep stepping until the
# gradient is ~0: b climbs slowly towards 5, because x is far from 0 and w and b compete.
converged_iteration = None
for iteration in range(stop_iteration + 1, stop_iteration + 1 + TRAIN_ON_ITERATIONS):
    w.grad.zero_()
    b.grad.zero_()
    loss = gradient_step(args.lr)
    history["iteration"].append(iteration)
    history["w"].append(w.item())
    history["b"].append(b.item())
    history["loss"].append(loss.item())
    if torch.hypot(w.grad, b.grad).item() < CONVERGED_GRAD_NORM:
        converged_iteration = iteration
        break

print(f"Least squares:  w = {lstsq_w:.4f}, b = {lstsq_b:.4f}")
print(f"Trained on:     w = {w.item():.4f}, b = {b.item():.4f} at iteration {iteration} "
      f"({'converged' if converged_iteration is not None else 'not yet converged'})")

# %% Figure: the stopped fit beside least squares, and w and b over the iterations
fig, (ax_fit, ax_params) = plt.subplots(1, 2, figsize=(12, 4.5))
ax_fit.scatter(x.cpu(), y.cpu(), color="tab:blue", label="data")
ax_fit.plot(x_line, stop_w * x_line + stop_b, "r-", lw=2,
            label=f"stopped at loss < 1: y = {stop_w:.2f}x + {stop_b:.2f}")
ax_fit.plot(x_line, lstsq_w * x_line + lstsq_b, "k--", lw=2,
            label=f"least squares: y = {lstsq_w:.2f}x + {lstsq_b:.2f}")
ax_fit.plot(x_line, TRUE_W * x_line + TRUE_B, ":", color="gray", label="truth: y = 2x + 5")
ax_fit.set(xlim=(0, 10), ylim=(0, 30), xlabel="x", ylabel="y",
           title="Where the loss < 1 rule stops, and the best line")
ax_fit.legend(loc="upper left", fontsize=9)

ax_params.plot(history["iteration"], history["w"], color="tab:red", label="w")
ax_params.plot(history["iteration"], history["b"], color="tab:green", label="b")
ax_params.axhline(lstsq_w, color="tab:red", ls="--", lw=1, label=f"least-squares w = {lstsq_w:.2f}")
ax_params.axhline(lstsq_b, color="tab:green", ls="--", lw=1, label=f"least-squares b = {lstsq_b:.2f}")
ax_params.axvline(stop_iteration, color="black", lw=1)
ax_params.annotate(f"loss < 1 stops here\n(b = {stop_b:.2f})", (stop_iteration, stop_b),
                   xytext=(stop_iteration + 40, stop_b - 1.5), arrowprops={"arrowstyle": "->"})
ax_params.set_xscale("symlog", linthresh=10)  # linear up to 10, logarithmic beyond
ax_params.set(xlim=(0, history["iteration"][-1]), xlabel="iteration (log scale past 10)", ylabel="value",
              title="b needs far more iterations than the rule gives it")
ax_params.legend(loc="upper left", fontsize=9)
save_figure(fig, args.out_dir, "fit", show=args.show)

# %% Metrics and summary
metrics = {
    "stop_iteration": stop_iteration,
    "final_loss": stop_loss,
    "w": stop_w,
    "b": stop_b,
    "lstsq_w": lstsq_w,
    "lstsq_b": lstsq_b,
    "converged_iteration": converged_iteration,
    "converged_w": w.item(),
    "converged_b": b.item(),
    "device": str(device),
}
write_metrics(args.out_dir, metrics)
print(f"Summary: the course's rule stopped at iteration {stop_iteration} with w = {stop_w:.2f}, "
      f"b = {stop_b:.2f}; least squares says w = {lstsq_w:.2f}, b = {lstsq_b:.2f}. "
      f"Outputs in {args.out_dir}")
