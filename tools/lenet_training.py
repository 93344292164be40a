"""LeNet's training epoch as lesson_models/02_train_lenet.py writes it inline, for the lessons that
train it many times over (04_new_series trains six models), and the check that stops a diverging run.

    for epoch in range(MAX_EPOCH):
        train_loss, train_acc = train_epoch(net, train_loader, criterion, optimizer, device, where=f"seed {seed}")
        scheduler.step()

Read 02_train_lenet.py's "Step 5/5: iterate" for the same lines with the notes' progress printing.
"""
import math

import torch.nn as nn

from tools.errors import fail_run


def stop_if_diverged(loss_value: float, where: str, advice: str) -> None:
    """A loss of nan or inf means the weights blew up: every later step would be nan too, so stop
    now (exit status 1) and say where, and what to try."""
    if not math.isfinite(loss_value):
        fail_run(f"the {where} became {loss_value}: the steps overshoot; {advice}")


def train_epoch(net: nn.Module, train_loader, criterion, optimizer, device, where: str) -> tuple:
    """One pass over train_loader: forward, zero_grad, loss, backward, step for every batch.
    Returns (the mean loss per photo, the share of photos classified right)."""
    net.train()
    loss_sum, correct, total = 0.0, 0, 0
    for inputs, labels in train_loader:
        inputs, labels = inputs.to(device), labels.to(device)  # (B, 3, 32, 32), (B,)
        outputs = net(inputs)  # (B, 2)
        optimizer.zero_grad()
        loss = criterion(outputs, labels)
        stop_if_diverged(loss.item(), f"training loss ({where})", "a smaller learning rate")
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * labels.size(0)
        correct += (outputs.argmax(dim=1) == labels).sum().item()
        total += labels.size(0)
    return loss_sum / total, correct / total
