"""Logistic regression with nn.Module, BCELoss and SGD with momentum.

Two clouds of 100 points each, one per class, and a model that draws a straight line between them:
z = w0·x0 + w1·x1 + b, then p = sigmoid(z) is the probability of class 1. The same five steps as
every training script in the notes (data, model, loss, optimizer, iterate), here on the smallest
model there is (notes: logistic regression at the end of the autograd lesson).

    python lesson_regression/02_logistic_regression.py
    python lesson_regression/02_logistic_regression.py --show   # watch the line turn

Expect (seed 10): accuracy starts at 92 % (the untrained line already splits most points), sits at
exactly 99 % from iteration 260 (not > 0.99), and reaches 99.5 % (one point of 200 on the wrong
side) at iteration 380, where the notes' rule "accuracy > 0.99, checked every 20 iterations" stops
the loop; the loss falls from 0.39 to 0.049. The decision line is where p = 0.5, i.e. z = 0: x1 = −(w0·x0 + b)/w1.

Writes to outputs/lesson_regression/02_logistic_regression/: training.gif (the line every 20
iterations), decision_boundary.png (the final line over the probability map; loss and accuracy
curves) and metrics.json (stop_iteration, accuracy, loss, w0, w1, b).

A good breakpoint: `optimizer.step()`; compare net.features.weight before and after it, and look at
net.features.weight.grad.
"""
# %%
import sys
from pathlib import Path

# The repo root goes first on sys.path so that `tools` and `model` are this collection's own,
# from any working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from tools.cli import lesson_parser, parse_lesson_args, positive_float, positive_int
from tools.figures import GifRecorder, save_figure
from tools.metrics import write_metrics
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=10)
parser.add_argument("--lr", type=positive_float, default=0.01, help="learning rate (default: 0.01)")
parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
parser.add_argument("--iterations", type=positive_int, default=1000,
                    help="most iterations (default: 1000)")
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)
device = args.device

SAMPLES_PER_CLASS = 100
CLASS_MEAN = 1.7  # class 0 sits around (+1.7, +1.7), class 1 around (−1.7, −1.7) ...
SHIFT = 1.0  # ... and both clouds are shifted by +1, so the line must learn a bias too
LOG_EVERY = 20  # the notes print, draw and test the stopping rule every 20 iterations
STOP_ACCURACY = 0.99
THRESHOLD = 0.5  # predict class 1 when p >= 0.5
# --quick trains exactly the same (it is tiny) but records fewer GIF frames, which cost the most.
FRAME_EVERY = 100 if args.quick else LOG_EVERY

# %% Step 1, data: two Gaussian clouds with standard deviation 1
ones = torch.ones(SAMPLES_PER_CLASS, 2)  # (100, 2)
x0 = torch.normal(CLASS_MEAN * ones, 1) + SHIFT  # (100, 2), class 0
x1 = torch.normal(-CLASS_MEAN * ones, 1) + SHIFT  # (100, 2), class 1
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


def line_parameters() -> tuple:
    w0, w1 = net.features.weight[0].tolist()
    return w0, w1, net.features.bias.item()


def decision_line(x_values: torch.Tensor) -> torch.Tensor:
    """Where p = 0.5, i.e. z = 0: x1 = −(w0·x0 + b) / w1."""
    w0, w1, b = line_parameters()
    return -(w0 * x_values + b) / w1


def draw_classes(ax) -> None:
    ax.scatter(x0[:, 0], x0[:, 1], c="tab:red", s=18, edgecolors="white", linewidths=0.5, label="class 0")
    ax.scatter(x1[:, 0], x1[:, 1], c="tab:blue", s=18, edgecolors="white", linewidths=0.5, label="class 1")
    ax.set(xlim=(-5, 7), ylim=(-7, 7), xlabel="x0", ylabel="x1")


# %% Step 5, iterate: forward, loss, backward, step; every 20 iterations measure and draw
fig, ax = plt.subplots(figsize=(6, 5))
x_line = torch.linspace(-6, 6, 2)
curves = {"iteration": [], "loss": [], "accuracy": []}

with GifRecorder(fig, args.out_dir / "training.gif", fps=2, show=args.show) as gif:
    for iteration in range(args.iterations):
        y_pred = net(train_x)  # (200, 1)
        loss = loss_fn(y_pred.squeeze(1), train_y)  # BCELoss wants matching shapes: (200,) and (200,)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        if iteration % LOG_EVERY == 0:
            predicted = (y_pred.squeeze(1) >= THRESHOLD).float()  # (200,) of 0s and 1s
            # Count in integers: a float32 mean makes 198/200 into 0.99000001, which is "> 0.99".
            accuracy = (predicted == train_y).sum().item() / train_y.numel()
            curves["iteration"].append(iteration)
            curves["loss"].append(loss.item())
            curves["accuracy"].append(accuracy)
            w0, w1, b = line_parameters()
            print(f"Iteration: {iteration:4d}  loss: {loss.item():.4f}  accuracy: {accuracy:7.2%}  "
                  f"w0: {w0:.2f} w1: {w1:.2f} b: {b:.2f}")
            if iteration % FRAME_EVERY == 0 or accuracy > STOP_ACCURACY:
                ax.clear()
                draw_classes(ax)
                ax.plot(x_line, decision_line(x_line), "k-", lw=2, label="decision line (p = 0.5)")
                ax.text(-4.5, 5.5, f"Loss={loss.item():.4f}", fontdict={"size": 14, "color": "red"})
                ax.set_title(f"Iteration: {iteration}\n"
                             f"w0:{w0:.2f} w1:{w1:.2f} b: {b:.2f} accuracy:{accuracy:.2%}")
                ax.legend(loc="lower right")
                gif.frame()
            if accuracy > STOP_ACCURACY:
                break
plt.close(fig)

stop_iteration, final_accuracy, final_loss = iteration, accuracy, loss.item()
w0, w1, b = line_parameters()
print(f"Stopped at iteration {stop_iteration}: accuracy {final_accuracy:.2%}, loss {final_loss:.4f}, "
      f"line x1 = −({w0:.2f}·x0 + {b:.2f}) / {w1:.2f}")

# %% Figure: the final line over the model's probability map, and the training curves
fig, (ax_map, ax_curves) = plt.subplots(1, 2, figsize=(12, 5))
grid_x0, grid_x1 = torch.meshgrid(torch.linspace(-5, 7, 200), torch.linspace(-7, 7, 200), indexing="xy")
grid = torch.stack([grid_x0.flatten(), grid_x1.flatten()], dim=1).to(device)  # (40000, 2)
with torch.no_grad():
    probability = net(grid).reshape(grid_x0.shape).cpu()  # (200, 200): p(class 1) at each point
contour = ax_map.contourf(grid_x0, grid_x1, probability, levels=20, cmap="coolwarm_r", alpha=0.35)
fig.colorbar(contour, ax=ax_map, label="p(class 1)")
draw_classes(ax_map)
ax_map.plot(x_line, decision_line(x_line), "k-", lw=2, label="p = 0.5")
ax_map.set_title(f"Iteration {stop_iteration}: accuracy {final_accuracy:.1%}")
ax_map.legend(loc="lower right")

ax_curves.plot(curves["iteration"], curves["loss"], "o-", color="tab:red", label="BCE loss")
ax_curves.set(xlabel="iteration", ylabel="loss", title="Loss falls; accuracy passes 99 %")
ax_accuracy = ax_curves.twinx()
ax_accuracy.plot(curves["iteration"], curves["accuracy"], "s-", color="tab:green", label="accuracy")
ax_accuracy.axhline(STOP_ACCURACY, color="tab:green", ls=":", lw=1)
ax_accuracy.set(ylabel="accuracy", ylim=(0, 1.05))
ax_curves.legend(handles=ax_curves.get_lines() + ax_accuracy.get_lines()[:1], loc="center right")
save_figure(fig, args.out_dir, "decision_boundary", show=args.show)

# %% Metrics and summary
write_metrics(args.out_dir, {
    "stop_iteration": stop_iteration,
    "accuracy": final_accuracy,
    "loss": final_loss,
    "w0": w0,
    "w1": w1,
    "b": b,
    "device": str(device),
})
print(f"Summary: accuracy {final_accuracy:.1%} at iteration {stop_iteration}. Outputs in {args.out_dir}")
