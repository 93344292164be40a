# %% [markdown]
"""Logistic regression with nn.Module, BCELoss and SGD with momentum.

Two clouds of 100 points, one per class; the model z = w0·x0 + w1·x1 + b, p = sigmoid(z) learns a
straight line between them in the notes' five steps (data, model, loss, optimizer, iterate). Then
the log-odds form ln[p/(1−p)] = w·x + b, checked on the trained model, beside the log-linear
reading ln y = w·x + b (notes: logistic regression, 逻辑回归, end of the autograd lesson).

    python lesson_regression/02_logistic_regression.py --show --momentum 0   # plain SGD, watched
    python lesson_regression/02_logistic_regression.py --mean-value 1        # the course's homework

Figures: training.gif, decision_boundary.png; what it prints: lesson_regression/README.md.
A good breakpoint: `optimizer.step()`; compare net.features.weight before and after it.
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

import copy

import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from tools.cli import float_between, learning_rate, lesson_parser, momentum, positive_int, start_lesson
from tools.errors import fail_run
from tools.figures import (BLACK, BLUE, VERMILLION, GifRecorder, plot_checks, plot_probability_map,
                           save_figure)
from tools.metrics import record

COURSE_LR, COURSE_MOMENTUM, COURSE_ITERATIONS = 0.01, 0.9, 1000
COURSE_MEAN_VALUE = 1.7  # the notes' mean_value: class 0 around (+1.7, +1.7), class 1 around (−1.7, −1.7) ...
COURSE_BIAS = 1.0  # ... and the notes' bias: both clouds shifted by +1, so the line must learn a bias too
LOG_EVERY = 20  # the notes print, draw and test their stop rule every 20 iterations
QUICK_FRAME_EVERY = 100  # --quick draws fewer GIF frames, which cost the most time

parser = lesson_parser("lesson_regression/02_logistic_regression.py", __doc__, default_seed=10,
                       quick=f"a GIF frame every {QUICK_FRAME_EVERY} iterations instead of every {LOG_EVERY}; "
                             "the training is the same")
parser.add_argument("--lr", type=learning_rate, default=COURSE_LR, metavar="LR",
                    help=f"learning rate (default: {COURSE_LR}, as in the notes)")
parser.add_argument("--momentum", type=momentum, default=COURSE_MOMENTUM, metavar="M",
                    help=f"SGD momentum in [0, 1) (default: {COURSE_MOMENTUM}, as in the notes)")
parser.add_argument("--iterations", type=positive_int, default=COURSE_ITERATIONS, metavar="N",
                    help=f"the stop rule must hold within N (default: {COURSE_ITERATIONS})")
parser.add_argument("--mean-value", type=float_between(0, 100), default=COURSE_MEAN_VALUE, metavar="M",
                    help=f"the clouds' centres are ±(M, M) (default: {COURSE_MEAN_VALUE:g}, the notes' mean_value)")
parser.add_argument("--bias", type=float_between(-100, 100), default=COURSE_BIAS, metavar="B",
                    help=f"both clouds shifted by B (default: {COURSE_BIAS:g}, the notes' bias)")
args = start_lesson(parser)  # flags checked, generators seeded, device picked, out-dir made
device = args.device

SAMPLES_PER_CLASS = 100
STOP_ACCURACY = 0.99  # the notes' stop rule: accuracy > 0.99
THRESHOLD = 0.5  # predict class 1 when p >= 0.5
# A frame at every check (every 100th with --quick), more sparsely in a run longer than the
# course's, so that a million iterations still draw about fifty frames.
FRAME_EVERY = (QUICK_FRAME_EVERY if args.quick else LOG_EVERY) * max(1, args.iterations // COURSE_ITERATIONS)
# What the figures show of the plane, on both axes: both clouds, whatever --mean-value and --bias.
PLANE = (min(-7.0, args.bias - args.mean_value - 4), max(7.0, args.bias + args.mean_value + 4))
FLOAT64_RESOLVED_Z = 20  # the log-odds check in float64 holds to ~1e-16·e^|z|: tight below |z| = 20

# %% Step 1, data: two Gaussian clouds with standard deviation 1
ones = torch.ones(SAMPLES_PER_CLASS, 2)  # (100, 2)
x0 = torch.normal(args.mean_value * ones, 1) + args.bias  # (100, 2), class 0
x1 = torch.normal(-args.mean_value * ones, 1) + args.bias  # (100, 2), class 1
train_x = torch.cat([x0, x1]).to(device)  # (200, 2)
train_y = torch.cat([torch.zeros(SAMPLES_PER_CLASS), torch.ones(SAMPLES_PER_CLASS)]).to(device)  # (200,)


# %% Step 2, model: a linear layer and a sigmoid, as an nn.Module
class LR(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(2, 1)  # z = w0·x0 + w1·x1 + b
        self.sigmoid = nn.Sigmoid()  # p = 1 / (1 + e^(−z)), the probability of class 1

    def forward(self, x):  # x: (N, 2)
        return self.sigmoid(self.features(x))  # (N, 1)


net = LR().to(device)  # its weights are drawn on the CPU, after the data, as in the notes

# %% Step 3, loss: binary cross-entropy, −[y·log p + (1 − y)·log(1 − p)] averaged over the batch
# (nn.BCEWithLogitsLoss on z is the numerically safer twin; the notes use Sigmoid + BCELoss.)
loss_fn = nn.BCELoss()

# %% Step 4, optimizer: SGD with momentum
optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)


# %% Drawing: the two classes, and the decision line p = 0.5, i.e. z = 0
def line_parameters() -> tuple:
    w0, w1 = net.features.weight[0].tolist()
    return w0, w1, net.features.bias.item()


def draw_classes_and_line(ax) -> None:
    ax.scatter(x0[:, 0], x0[:, 1], color=VERMILLION, s=18, label="class 0")
    ax.scatter(x1[:, 0], x1[:, 1], color=BLUE, s=18, marker="s", label="class 1")
    w0, w1, b = line_parameters()
    if w0 or w1:  # the line w0·x0 + w1·x1 + b = 0 (with w = 0 there is none: p is the same everywhere)
        point = (-b * w0 / (w0 ** 2 + w1 ** 2), -b * w1 / (w0 ** 2 + w1 ** 2))  # its point nearest the origin
        ax.axline(point, (point[0] - w1, point[1] + w0), color=BLACK, lw=2, label="decision line p = 0.5")
    ax.set(xlim=PLANE, ylim=PLANE, xlabel="x0", ylabel="x1")


# %% Step 5, iterate: forward, loss, backward, step; every 20 iterations measure and draw
fig, ax = plt.subplots(figsize=(8, 5.2), layout="constrained")
checks = {"iteration": [], "loss": [], "accuracy": []}  # three floats per check, for the final figure
with GifRecorder(fig, args.out_dir / "training.gif", fps=2, show=args.show,
                 caption="The decision line turning as SGD trains, until the accuracy passes 0.99: "
                         "the line after each step, loss and accuracy measured before it.") as gif:
    for iteration in range(args.iterations):
        y_pred = net(train_x)  # (200, 1): p(class 1) for every point
        # BCELoss refuses a nan probability with a RuntimeError: say what happened before it can.
        if not torch.isfinite(y_pred).all():
            fail_run(f"the model diverged: its output became nan at iteration {iteration} (lr {args.lr:g}, "
                     f"momentum {args.momentum:g}): the weights ran away; try --lr {COURSE_LR:g}")
        loss = loss_fn(y_pred.squeeze(1), train_y)  # BCELoss wants matching shapes: (200,) and (200,)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()  # gradients add up over backward() calls: clear them for the next one

        if iteration % LOG_EVERY == 0:
            predicted = (y_pred.squeeze(1) >= THRESHOLD).float()  # (200,) of 0s and 1s
            # Count in integers: a float32 mean makes 198/200 into 0.99000001, which is "> 0.99".
            accuracy = (predicted == train_y).sum().item() / train_y.numel()
            for key, value in zip(checks, (iteration, loss.item(), accuracy)):
                checks[key].append(value)
            w0, w1, b = line_parameters()
            print(f"Iteration: {iteration:4d}  loss: {loss.item():.4f}  accuracy: {accuracy:7.2%}  "
                  f"w0: {w0:.2f} w1: {w1:.2f} b: {b:.2f}")
            if iteration % FRAME_EVERY == 0 or accuracy > STOP_ACCURACY:
                ax.clear()
                draw_classes_and_line(ax)
                # The text sits in the title and the legend outside the axes: the moving line never crosses them.
                ax.set_title(f"Iteration {iteration}: Loss={loss.item():.4f}, accuracy {accuracy:.1%} "
                             f"(before the step)\nline after the step: w0 {w0:.2f}, w1 {w1:.2f}, b {b:.2f}")
                ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1))
                gif.frame()
            if accuracy > STOP_ACCURACY:
                break
    if accuracy <= STOP_ACCURACY:  # the loop ran to its end: the stop rule never held
        first_loss = checks["loss"][0]
        hint = (f"the loss grew from {first_loss:.4f}: the steps are too large; try --lr {COURSE_LR:g}"
                if loss.item() > first_loss else f"try --iterations {max(COURSE_ITERATIONS, 2 * args.iterations)}")
        fail_run(f"ran out of iterations: the accuracy never passed {STOP_ACCURACY:g} in {args.iterations} "
                 f"iterations (last check: {accuracy:.2%} at iteration {checks['iteration'][-1]}, loss "
                 f"{checks['loss'][-1]:.4f}, lr {args.lr:g}, momentum {args.momentum:g}); {hint}")
plt.close(fig)

stop_iteration, w0, w1, b = iteration, *line_parameters()
print(f"Stopped at iteration {stop_iteration}: accuracy {accuracy:.2%}, loss {loss.item():.4f}, "
      f"line x1 = −({w0:.2f}·x0 + {b:.2f}) / {w1:.2f}")
record("stop_iteration", stop_iteration, headline=True)
record("accuracy", accuracy, headline=True)
record("loss", loss.item())

# %% The log-odds form: ln[p / (1 − p)] = w·x + b
# The notes write logistic regression as a linear model of the log-odds: the logit of the
# predicted probability is the linear layer's output z. Checked on the trained model in float64,
# on the CPU: in float32, 1 − p keeps only a few digits where p is near 1 (z = 10 leaves
# 1 − p = 4.5e-5, stored to about 6e-8), so the same check is off by about 1e-3 at the most
# confident points. That loss of digits is why nn.BCEWithLogitsLoss takes z rather than p.
with torch.no_grad():
    z = net.features(train_x).squeeze(1)  # (200,)
    p = net(train_x).squeeze(1)  # (200,)
    float32_difference = (torch.log(p / (1 - p)) - z).abs().max().item()
    net64 = copy.deepcopy(net).to("cpu", torch.float64)
    x64 = train_x.to("cpu", torch.float64)  # (200, 2)
    z64 = net64.features(x64).squeeze(1)  # (200,)
    p64 = net64(x64).squeeze(1)  # (200,)
    # p itself is rounded (by 1e-16 in float64), so 1 − p loses digits as p nears 1: the check
    # holds to about 1e-16·e^|z|, tight while |z| < 20; points beyond that are left out.
    resolved = z64.abs() < FLOAT64_RESOLVED_Z  # (200,) of True/False
    difference = (torch.log(p64 / (1 - p64)) - z64).abs()  # (200,)
    log_odds_difference = difference.where(resolved, 0).max().item()
print(f"Log-odds: max |ln[p/(1−p)] − z| over the {resolved.sum().item()} points with |z| < {FLOAT64_RESOLVED_Z} "
      f"= {log_odds_difference:.1e} in float64 ({float32_difference:.1e} in float32, where |z| reaches "
      f"{z.abs().max().item():.1f})")
record("log_odds_max_abs_difference", log_odds_difference, headline=True)

# %% Log-odds (对数几率) is not log-linear (对数回归) regression
# Log-linear regression reads the same linear output as ln y = w·x + b, so y = e^z: a positive
# number without an upper end, fit to a positive target. Read that way, the trained z is no
# probability: e^z passes 1 wherever the model says class 1. The log-odds reading
# p = 1 / (1 + e^(−z)) keeps every point inside (0, 1).
log_linear_y = z.exp()  # (200,)
above_one = (log_linear_y > 1).sum().item()
print(f"Log-linear reading of the same z: y = e^z spans {log_linear_y.min().item():.1e} to "
      f"{log_linear_y.max().item():.1e} and is > 1 at {above_one} of {z.numel()} points (no probability); "
      f"the log-odds reading p spans {p.min().item():.1e} to {p.max().item():.6f}")

# %% Figure: the final line over the model's probability map, and the loss and accuracy per check
fig = plt.figure(figsize=(12, 5.4), layout="constrained")
map_area, curve_area = fig.add_gridspec(1, 2, width_ratios=[1.25, 1], wspace=0.08)
ax_map = fig.add_subplot(map_area)
with torch.no_grad():
    plot_probability_map(ax_map, lambda points: net(points.to(device)).cpu(), PLANE, PLANE,
                         label="p(class 1)")
draw_classes_and_line(ax_map)
ax_map.set_title(f"Iteration {stop_iteration}: accuracy {accuracy:.1%}")
ax_map.legend(loc="lower left")
plot_checks(curve_area.subgridspec(2, 1).subplots(sharex=True), checks, stop_accuracy=STOP_ACCURACY,
            title="Loss falls; accuracy passes the stop rule")
save_figure(fig, args.out_dir, "decision_boundary", show=args.show,
            caption="The trained decision line over the model's probability map p(class 1), "
                    "and the loss and accuracy at every check until the accuracy passes 0.99.")

# %% Summary
print(f"Summary: accuracy {accuracy:.1%} at iteration {stop_iteration}; ln[p/(1−p)] = z to "
      f"{log_odds_difference:.0e}. Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `logistic-mean-value` and `logistic-bias` (the course's: why it classifies,
# mean_value smaller and larger, another bias), `logistic-switch` (where the answer switches).
# Read one with `python tools/exercises.py show logistic-mean-value`; hand in your answer with
# `python tools/exercises.py check logistic-mean-value "..."`.
