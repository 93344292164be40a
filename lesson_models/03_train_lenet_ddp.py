# %% [markdown]
"""Train LeNet on several processes at once: the five steps of 02_train_lenet with DistributedDataParallel.

The notes' five steps on several processes (分布式训练, 数据并行: distributed training by data
parallelism): each process trains on its slice of every batch and DDP averages the gradients, so N
processes with batch 16/N take one process's step with batch 16; the lesson proves it at the end.

    torchrun --standalone --nproc_per_node 2 lesson_models/03_train_lenet_ddp.py    # 2 CPU processes
    torchrun --standalone --nproc_per_node 4 lesson_models/03_train_lenet_ddp.py --device cuda  # 4 GPUs
    python lesson_models/03_train_lenet_ddp.py          # a world of one: debugger, notebook

Two machines, --resume, what it prints: lesson_models/README.md. A good breakpoint:
`dist.all_reduce(batch_sums)`; look at batch_sums before (this process) and after (all processes).
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
import datetime
import math
import os
import pickle
import time

import matplotlib.pyplot as plt
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.optim as optim
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler
from torchvision import transforms

from model.lenet import LeNet
from tools.cli import folder_path, int_between, learning_rate, lesson_parser, positive_int, start_lesson
from tools.errors import RUN_FAILED_EXIT_CODE, USAGE_EXIT_CODE, fail_run, program_name
from tools.figures import BLUE, GREY, ORANGE, VERMILLION, save_figure
from tools.metrics import record
from tools.rmb import RMBDataset, default_rmb_dirs, ensure_rmb_split, split_data_source

LESSON = "lesson_models/03_train_lenet_ddp.py"
EPOCHS, QUICK_EPOCHS = 10, 5
GLOBAL_BATCH = 16  # the notes' batch size, now shared by all processes
TIMEOUT_S = 30  # how long a collective waits for the other processes before it fails
PREPARE_TIMEOUT = datetime.timedelta(minutes=10)  # drawing and splitting the photos takes longer

parser = lesson_parser(LESSON, __doc__, default_seed=1,
                       quick=f"{QUICK_EPOCHS} epochs, 200 small photos in the out-dir")
parser.add_argument("--data-dir", type=folder_path, default=None, metavar="DIR",
                    help="a split: train/, valid/, test/ (default: data/rmb_split)")
parser.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                    help=f"epochs in all, resumed ones too (default: {EPOCHS}, quick {QUICK_EPOCHS})")
parser.add_argument("--batch-size", type=positive_int, default=GLOBAL_BATCH, metavar="N",
                    help=f"over all processes, split evenly (default: {GLOBAL_BATCH})")
parser.add_argument("--lr", type=learning_rate, default=0.01, metavar="LR", help="learning rate (default: 0.01)")
parser.add_argument("--resume", type=Path, default=None, metavar="FILE",
                    help="continue from a checkpoint.pt this lesson wrote")
parser.add_argument("--timeout", type=int_between(1, 3600), default=TIMEOUT_S, metavar="S",
                    help=f"give up on a silent process after S seconds (default: {TIMEOUT_S})")
args = start_lesson(parser)  # flags checked, generators seeded, device picked, out-dir made
device = args.device

MAX_EPOCH = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
LOG_INTERVAL = 10  # print the training line every 10 iterations, as the notes do
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

# %% Processes: torchrun starts them and tells each one who it is
# torchrun sets RANK (0 … WORLD_SIZE−1 over every machine), LOCAL_RANK (0 … on this machine) and
# WORLD_SIZE. A plain `python` run, a debugger or a notebook has none of them: a world of one process.
launched_by_torchrun = "RANK" in os.environ
rank = int(os.environ.get("RANK", 0))
local_rank = int(os.environ.get("LOCAL_RANK", 0))
world_size = int(os.environ.get("WORLD_SIZE", 1))
is_main = rank == 0  # rank 0 alone prints, draws, records metrics and writes checkpoints
processes = f"{world_size} process{'es' if world_size > 1 else ''}"


def everyone_stops(message: str, run_failed: bool = False):
    """For a condition that every process meets at the same point: the first process of each
    machine says why (one line, not one per process), the others leave quietly."""
    status = RUN_FAILED_EXIT_CODE if run_failed else USAGE_EXIT_CODE
    if local_rank == 0:
        print(f"{program_name()}: {'failed' if run_failed else 'error'}: {message}", file=sys.stderr, flush=True)
    if world_size > 1 and dist.is_initialized():
        os._exit(status)  # at once: Python's teardown while DDP's gloo work is alive can abort the process
    raise SystemExit(status)


if device.type == "cuda":  # one process per GPU: process LOCAL_RANK uses cuda:LOCAL_RANK
    processes_here, gpus = int(os.environ.get("LOCAL_WORLD_SIZE", 1)), torch.cuda.device_count()
    if processes_here > gpus:
        everyone_stops(f"--device cuda: {processes_here} processes on this machine but {gpus} GPU(s); "
                       f"start one process per GPU (torchrun --nproc_per_node {gpus})")
    device = torch.device("cuda", local_rank if launched_by_torchrun else device.index or 0)
    torch.cuda.set_device(device)
elif device.type == "mps":
    print("Apple's mps device has no torch.distributed backend: this lesson trains on the CPU.")
    device = torch.device("cpu")
backend = "nccl" if device.type == "cuda" else "gloo"  # NVIDIA's collectives on GPUs, gloo on the CPU

if args.batch_size % world_size:
    everyone_stops(f"--batch-size {args.batch_size} does not split evenly over {world_size} processes; "
                   f"give a multiple of {world_size}")
per_process_batch = args.batch_size // world_size

# Flags that name files are checked before the processes meet: a bad one stops every process at once.
if args.data_dir is not None and not args.data_dir.is_dir():
    everyone_stops(f"--data-dir {args.data_dir}: no such folder (expected {args.data_dir}/train, valid and test)")
checkpoint = None
if args.resume is not None:
    if not args.resume.is_file():
        everyone_stops(f"--resume {args.resume}: no such file")
    try:
        checkpoint = torch.load(args.resume, map_location=device, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError):
        everyone_stops(f"--resume {args.resume}: not a checkpoint (torch.load cannot read it as one)")
    if not isinstance(checkpoint, dict) or checkpoint.get("lesson") != LESSON:
        everyone_stops(f"--resume {args.resume}: not a checkpoint of {LESSON}")
    if checkpoint["epoch"] + 1 >= MAX_EPOCH:
        everyone_stops(f"--resume {args.resume}: all {checkpoint['epoch'] + 1} epochs are done already; "
                       "ask for more with --epochs")

if dist.is_initialized():
    dist.destroy_process_group()  # a notebook kernel that ran this lesson before
lesson_excepthook = sys.excepthook  # one line for Ctrl-C and OSError (installed by start_lesson)
timeout = datetime.timedelta(seconds=args.timeout)
try:
    if launched_by_torchrun:  # meet the others at MASTER_ADDR:MASTER_PORT, as torchrun's environment says
        dist.init_process_group(backend, timeout=timeout, device_id=device if device.type == "cuda" else None)
    else:
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1, timeout=timeout)
except dist.DistError as error:  # the others never came, or MASTER_ADDR cannot be reached
    fail_run(f"rank {rank} could not meet the other processes at {os.environ.get('MASTER_ADDR')}:"
             f"{os.environ.get('MASTER_PORT')} within {args.timeout} s: {str(error).splitlines()[0]}")


def stop_when_a_process_is_lost(error_type, error, traceback):
    """A process that died or hangs makes the others' next collective fail (at once, or after
    --timeout): one line and exit status 1, instead of a traceback from every process."""
    from_a_collective = issubclass(error_type, dist.DistError) or "gloo" in str(error) or "NCCL" in str(error)
    if world_size > 1 and from_a_collective:
        cause = str(error).splitlines()[0].split("] ", 1)[-1].split(". ")[0]  # without gloo's [file.cc:line]
        print(f"{program_name()}: failed: rank {rank} lost contact with another process (it stopped, or did "
              f"not answer within {args.timeout} s): {cause}", file=sys.stderr, flush=True)
        os._exit(RUN_FAILED_EXIT_CODE)  # no clean-up: it would wait for the lost process again
    lesson_excepthook(error_type, error, traceback)


sys.excepthook = stop_when_a_process_is_lost
if is_main:
    print(f"World: {processes}, backend {backend}, rank 0 on {device}; "
          f"batch {args.batch_size} = {world_size} × {per_process_batch} per process")
    record("world_size", world_size, headline=True)

# %% Step 1/5: data, prepared by one process while the others wait
if args.data_dir is not None:
    split_dir = args.data_dir
else:
    raw_dir, split_dir = default_rmb_dirs(args.quick, args.out_dir)
    # Two processes writing the same photos at once would collide: rank 0 prepares them while the
    # others wait at the barrier (a group of its own, with a longer timeout); then the first process
    # of every other machine finds them (a shared disk) or makes its own copy (the same photos).
    preparing = dist.new_group(backend="gloo", timeout=PREPARE_TIMEOUT)
    if rank == 0:
        ensure_rmb_split(split_dir, raw_dir, may_generate=True, quick=args.quick)
    dist.barrier(group=preparing)
    if local_rank == 0 and rank != 0:
        ensure_rmb_split(split_dir, raw_dir, may_generate=True, quick=args.quick)
    dist.barrier(group=preparing)
source = split_data_source(split_dir)

train_transform = transforms.Compose([  # as in 02_train_lenet
    transforms.Resize((32, 32)),
    transforms.RandomCrop(32, padding=4),  # pad 4 pixels, crop 32×32 back: a random shift, new each epoch
    transforms.ToTensor(),  # (3, 32, 32) floats in [0, 1]
    transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
])
valid_transform = transforms.Compose([
    transforms.Resize((32, 32)),
    transforms.ToTensor(),
    transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
])
# Every photo is opened and resized to 32×32 once, in the constructor (the transforms' Resize then
# has nothing left to do); RandomCrop still draws anew on every __getitem__.
train_data = RMBDataset(split_dir / "train", transform=train_transform, resize_once=(32, 32))
valid_data = RMBDataset(split_dir / "valid", transform=valid_transform, resize_once=(32, 32))
test_data = RMBDataset(split_dir / "test", transform=valid_transform, resize_once=(32, 32))

# The sampler deals each process its own slice: the photos shuffled (the same order on every
# process: seed + epoch), then every world_size-th one, starting at this process's rank.
train_sampler = DistributedSampler(train_data, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
train_loader = DataLoader(train_data, batch_size=per_process_batch, sampler=train_sampler, num_workers=0)
# Validation and test: every world_size-th photo, each photo exactly once (DistributedSampler would
# pad with repeats to give every process as many).
valid_loader = DataLoader(Subset(valid_data, range(rank, len(valid_data), world_size)), batch_size=per_process_batch)
test_loader = DataLoader(Subset(test_data, range(rank, len(test_data), world_size)), batch_size=per_process_batch)
iterations_per_epoch = len(train_loader)
if is_main:
    print(f"Data: {split_dir} ({source} photos): train {len(train_data)}, valid {len(valid_data)}, "
          f"test {len(test_data)}; {len(train_sampler)} train photos and {iterations_per_epoch} "
          "iterations per epoch on each process")

# %% Step 2/5: model
net = LeNet(classes=2)
net.initialize_weights()  # every process draws the same weights: start_lesson seeded them alike
net.to(device)
initial_weights = copy.deepcopy(net.state_dict())  # for the proof at the end
# DDP sends rank 0's weights to every process now, and in every backward() averages the gradients
# over the processes (an all_reduce per bucket of gradients, overlapped with the backward pass).
net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

# %% Step 3/5: loss function
criterion = nn.CrossEntropyLoss()  # the mean over this process's slice; DDP averages the slices

# %% Step 4/5: optimizer
optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)  # lr × 0.1 every 10 epochs
history = {"train_loss": [], "valid_loss": [], "train_acc": [], "valid_acc": []}
start_epoch = 0
if checkpoint is not None:  # every process loads the same state: they stay in step
    net.module.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    history, start_epoch = checkpoint["history"], checkpoint["epoch"] + 1
    if is_main:
        print(f"Resumed from {args.resume}: epoch {start_epoch} of {MAX_EPOCH} is next")
checkpoint_path = args.out_dir / "checkpoint.pt"

# %% Step 5/5: iterate
images_seen = 0  # by all processes together
start = time.perf_counter()
for epoch in range(start_epoch, MAX_EPOCH):
    train_sampler.set_epoch(epoch)  # a new shuffle each epoch (the same on every process)
    # Each process draws its own random crops, and an epoch's crops depend only on (seed, epoch,
    # rank), like the sampler's order: a resumed run draws what an uninterrupted one would.
    torch.manual_seed(args.seed + 1000 * epoch + rank)
    net.train()
    loss_mean, correct, total = 0.0, 0, 0
    for i, (inputs, labels) in enumerate(train_loader):
        inputs, labels = inputs.to(device), labels.to(device)  # (16/N, 3, 32, 32), (16/N,)
        outputs = net(inputs)  # (16/N, 2)

        optimizer.zero_grad()
        loss = criterion(outputs, labels)
        loss.backward()  # DDP: each gradient is now the average over the processes
        optimizer.step()  # the same step on every process: the weights stay equal

        # This batch over all processes: loss sum, photos right, photos seen (float64: exact counts)
        batch_sums = torch.tensor([loss.item() * len(labels), (outputs.argmax(dim=1) == labels).sum().item(),
                                   len(labels)], dtype=torch.float64, device=device)
        dist.all_reduce(batch_sums)  # summed over the processes, the same result on each
        batch_loss = batch_sums[0].item() / batch_sums[2].item()
        if not math.isfinite(batch_loss):
            everyone_stops(f"the loss became {batch_loss} at epoch {epoch}, iteration {i + 1} (lr {args.lr}): "
                           "the steps overshoot; try a smaller --lr, e.g. 0.01", run_failed=True)
        correct, total = correct + int(batch_sums[1]), total + int(batch_sums[2])
        images_seen += int(batch_sums[2])
        history["train_loss"].append(batch_loss)
        loss_mean += batch_loss
        if is_main and ((i + 1) % LOG_INTERVAL == 0 or i + 1 == iterations_per_epoch):
            loss_mean /= (i % LOG_INTERVAL) + 1  # the mean over the iterations since the last line
            print(f"Training:Epoch[{epoch:0>3}/{MAX_EPOCH:0>3}] Iteration[{i + 1:0>3}/{iterations_per_epoch:0>3}] "
                  f"Loss: {loss_mean:.4f} Acc:{correct / total:.2%}")
        if (i + 1) % LOG_INTERVAL == 0:
            loss_mean = 0.0
    history["train_acc"].append(correct / total)  # all right / all seen, not a mean of the processes' accuracies
    scheduler.step()

    net.eval()
    valid_sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, right, seen
    with torch.no_grad():
        for inputs, labels in valid_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = net(inputs)
            valid_sums += torch.tensor([criterion(outputs, labels).item() * len(labels),
                                        (outputs.argmax(dim=1) == labels).sum().item(), len(labels)],
                                       dtype=torch.float64, device=device)
    dist.all_reduce(valid_sums)
    images_seen += int(valid_sums[2])
    history["valid_loss"].append(valid_sums[0].item() / valid_sums[2].item())
    history["valid_acc"].append(valid_sums[1].item() / valid_sums[2].item())
    if is_main:
        print(f"Valid:\t Epoch[{epoch:0>3}/{MAX_EPOCH:0>3}] Loss: {history['valid_loss'][-1]:.4f} "
              f"Acc:{history['valid_acc'][-1]:.2%} ({int(valid_sums[2])} photos over {processes})")
        # Rank 0 alone writes the checkpoint (the weights are the same on every process); written
        # beside and renamed, so that a run stopped while saving leaves the previous one whole.
        torch.save({"lesson": LESSON, "epoch": epoch, "model": net.module.state_dict(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "history": history}, checkpoint_path.with_suffix(".partial"))
        os.replace(checkpoint_path.with_suffix(".partial"), checkpoint_path)

seconds = time.perf_counter() - start
images_per_second = images_seen / seconds
if is_main:
    print(f"{MAX_EPOCH - start_epoch} epochs in {seconds:.2f} s: {images_per_second:.0f} images/s "
          f"over {processes}; checkpoint {checkpoint_path.name} in the out-dir")
    record("train_acc", history["train_acc"][-1])
    record("valid_acc", history["valid_acc"][-1], headline=True)
    record("images_per_second", images_per_second)
    record("seconds", seconds)

# %% Test: each process predicts its share of the test photos; the counts are summed
net.eval()
test_sums = torch.zeros(2, dtype=torch.float64, device=device)  # right, seen
with torch.no_grad():
    for inputs, labels in test_loader:
        inputs, labels = inputs.to(device), labels.to(device)
        test_sums += torch.tensor([(net(inputs).argmax(dim=1) == labels).sum().item(), len(labels)],
                                  dtype=torch.float64, device=device)
dist.all_reduce(test_sums)
test_acc = test_sums[0].item() / test_sums[1].item()
if is_main:
    print(f"Test: {test_acc:.2%} of {int(test_sums[1])} photos right")
    record("test_acc", test_acc, headline=True)

# %% The proof, part 1 (every process): one epoch under DDP, augmentation off, from the initial weights
# The photos through the validation transform: no random crop, so that the only randomness left is
# the order, which the sampler fixes. Epoch 0's order, batch 16/N on each process.
plain_train_data = copy.copy(train_data)  # the same photos, already 32×32 ...
plain_train_data.transform = valid_transform  # ... without the random crop
proof_sampler = DistributedSampler(plain_train_data, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)


def train_one_epoch(model, loader):
    """The five steps' inner loop once over `loader`, with a fresh SGD (momentum 0.9)."""
    sgd = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        sgd.zero_grad()
        criterion(model(inputs), labels).backward()
        sgd.step()


ddp_net = LeNet(classes=2).to(device)
ddp_net.load_state_dict(initial_weights)
ddp_net = DistributedDataParallel(ddp_net, device_ids=[device.index] if device.type == "cuda" else None)
train_one_epoch(ddp_net, DataLoader(plain_train_data, batch_size=per_process_batch, sampler=proof_sampler))

# %% The proof, part 2 (rank 0 alone): the same epoch as one process, batch 16, the same photos per step
if is_main:
    # Step k of the DDP epoch saw batch k of every process: rank 0's slice, rank 1's, ... Their union,
    # in that order, is the one batch a single process takes at step k.
    orders = [list(DistributedSampler(plain_train_data, num_replicas=world_size, rank=r, shuffle=True,
                                      seed=args.seed)) for r in range(world_size)]
    global_batches = [[index for order in orders for index in order[k:k + per_process_batch]]
                      for k in range(0, len(orders[0]), per_process_batch)]
    single_net = LeNet(classes=2).to(device)
    single_net.load_state_dict(initial_weights)
    train_one_epoch(single_net, DataLoader(plain_train_data, batch_sampler=global_batches))

    names = [name for name, _ in single_net.named_parameters()]
    ddp_weights, single_weights = list(ddp_net.module.parameters()), list(single_net.parameters())
    differences = [(a - b).abs().max().item() for a, b in zip(ddp_weights, single_weights)]
    moved = [(a - initial_weights[name]).abs().max().item() for name, a in zip(names, single_weights)]
    # float32 sums taken in another order differ by ~1e-7 per step; a ReLU or max-pool decision that
    # such a difference tips the other way can leave ~1e-6 by the epoch's end (in float64: ~1e-16).
    difference = max(differences)
    print(f"DDP on {processes}, batch {per_process_batch} each, against one process with batch "
          f"{args.batch_size}, {len(global_batches)} steps from the same weights: the largest weight "
          f"difference is {difference:.2e} (the weights moved up to {max(moved):.2e})")
    record("ddp_vs_single_max_abs_difference", difference, headline=True)

# %% Curves (rank 0): the loss of every step over all processes, and the accuracies per epoch
if is_main:
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(10, 7.5), layout="constrained")
    train_x = range(1, len(history["train_loss"]) + 1)
    valid_x = [(epoch + 1) * iterations_per_epoch for epoch in range(len(history["valid_loss"]))]
    ax_loss.plot(train_x, history["train_loss"], color=BLUE, label="train (each step, all processes)")
    ax_loss.plot(valid_x, history["valid_loss"], "o-", color=VERMILLION, label="valid (after each epoch)")
    if start_epoch:
        ax_loss.axvline(start_epoch * iterations_per_epoch, color=GREY, ls="--", label="resumed here")
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy loss",
                title=f"LeNet on {processes}: each step {world_size} × {per_process_batch} photos")
    ax_loss.legend(loc="upper right")
    epochs_x = range(len(history["train_acc"]))
    ax_acc.plot(epochs_x, [100 * a for a in history["train_acc"]], "o-", color=BLUE, label="train (random crops)")
    ax_acc.plot(epochs_x, [100 * a for a in history["valid_acc"]], "s-", color=VERMILLION, label="valid")
    ax_acc.axhline(50, color=GREY, ls=":", label="chance")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 102), xticks=list(epochs_x),
               title="Accuracy: all photos right / all photos seen, summed over the processes")
    ax_acc.legend(loc="lower right")
    save_figure(fig, args.out_dir, "training_curves", show=args.show,
                caption=f"Training on {processes}: loss per step and accuracy per epoch, "
                        "each summed over every process with all_reduce.")

# %% The proof, drawn (rank 0): how far each weight tensor moved, and how far DDP and one process differ
if is_main:
    FLOOR = 1e-10  # a log axis has no 0: an identical tensor is drawn here
    fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
    x = range(len(names))
    moved_bars = ax.bar([i - 0.2 for i in x], moved, width=0.4, color=BLUE,
                        label="moved in the epoch: max |w_end − w_start|")
    eps_line = ax.axhline(torch.finfo(torch.float32).eps, color=GREY, ls=":", label="float32 rounding (eps)")
    difference_bars = ax.bar([i + 0.2 for i in x], [max(d, FLOOR) for d in differences], width=0.4, color=ORANGE,
                             label="DDP against one process: max |w_ddp − w_single|")
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 3, 1)
    ax.set_xticks(list(x), names, rotation=30, ha="right")
    title = f"One epoch on {processes} × batch {per_process_batch} against 1 × batch {args.batch_size}: "
    title += ("the same steps up to rounding" if world_size > 1 else
              "identical\n(a world of one process: start two with torchrun to compare)")
    ax.set(ylabel="largest absolute change", title=title)
    fig.legend(handles=[moved_bars, eps_line, difference_bars], loc="outside lower center", ncol=2)
    save_figure(fig, args.out_dir, "ddp_vs_single", show=args.show,
                caption="Per weight tensor: how far one epoch moved it, and how far DDP and a single process "
                        "ended apart (rounding only; a bar at 1e-10 means identical).")

# %% The end: every process leaves the group
if is_main:
    print(f"Summary: {processes}, {MAX_EPOCH} epochs: valid {history['valid_acc'][-1]:.2%}, "
          f"test {test_acc:.2%}, DDP vs one process {difference:.1e}. Outputs in {args.out_dir}")
# DDP holds work on the group: free it first, while Python is whole (freed during Python's own
# teardown, gloo's threads can abort the process), then leave.
del net, ddp_net
dist.destroy_process_group()
