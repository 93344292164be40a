# %% [markdown]
"""Train LeNet on several processes at once: the five steps of 02_train_lenet with DistributedDataParallel.

分布式训练, 数据并行 (distributed data parallelism): each process trains on its slice of every batch, DDP
averages the gradients: N processes with batch 16/N take one process's step with batch 16 (proved first).

    torchrun --standalone --nproc_per_node 2 lesson_models/03_train_lenet_ddp.py    # 2 CPU processes
    torchrun --standalone --nproc_per_node 4 lesson_models/03_train_lenet_ddp.py --device cuda  # 4 GPUs
    python lesson_models/03_train_lenet_ddp.py          # a world of one: debugger, notebook

Two machines, --resume: lesson_models/README.md. Breakpoint: `dist.all_reduce(batch_sums)` (batch_sums
before: this process's sums; after: all processes').
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
import os

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.optim as optim
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler
from torchvision import transforms

from model.lenet import LeNet
from tools.cli import learning_rate, lesson_parser, positive_int
from tools.ddp import (add_ddp_flags, device_id_option, device_of_this_process, in_turns, read_checkpoint, restore,
                       save_checkpoint, split_batch, start_ddp_lesson)
from tools.errors import fail_run
from tools.figures import draw_ddp_proof, draw_ddp_training, save_figure
from tools.lenet_training import stop_if_diverged, train_epoch
from tools.metrics import record
from tools.rmb_dataset import NORM_MEAN, NORM_STD, RMBDataset
from tools.rmb_prepare import add_split_flags, prepare_split

LESSON = "lesson_models/03_train_lenet_ddp.py"
EPOCHS, QUICK_EPOCHS = 10, 5
GLOBAL_BATCH = 16  # the notes' batch size, now shared by all processes
ROUNDING_LIMIT = 1e-5  # DDP and one process may differ by float32 rounding only (README: how much)
LOG_INTERVAL = 10  # print the training line every 10 iterations, as the notes do

# %% Processes: torchrun starts them and tells each one who it is
# RANK: 0 … WORLD_SIZE−1 over every machine; LOCAL_RANK: 0 … on this machine. Without torchrun (plain
# `python`, a debugger, a notebook) there are none: a world of one process.
launched_by_torchrun = "RANK" in os.environ
rank = int(os.environ.get("RANK", 0))
local_rank = int(os.environ.get("LOCAL_RANK", 0))
world_size = int(os.environ.get("WORLD_SIZE", 1))
is_main = rank == 0  # rank 0 alone prints, draws, records metrics and writes checkpoints
processes = f"{world_size} process{'es' if world_size > 1 else ''}"

parser = lesson_parser(LESSON, __doc__, default_seed=1, quick=f"{QUICK_EPOCHS} epochs, 200 small photos")
add_split_flags(parser)  # --data-dir, --raw-dir, as in 02
parser.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                    help=f"epochs in all, resumed ones too (default: {EPOCHS}, quick {QUICK_EPOCHS})")
parser.add_argument("--batch-size", type=positive_int, default=GLOBAL_BATCH, metavar="N",
                    help=f"over all processes, split evenly (default: {GLOBAL_BATCH})")
parser.add_argument("--lr", type=learning_rate, default=0.01, metavar="LR", help="learning rate (default: 0.01)")
add_ddp_flags(parser)  # --resume FILE (a checkpoint.pt of this lesson), --timeout S (a timedelta)
args = start_ddp_lesson(parser, rank, local_rank)  # start_lesson; an error all processes meet is said once
MAX_EPOCH = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
# One process per GPU: under torchrun, process LOCAL_RANK drives cuda:LOCAL_RANK (mps has no backend: the CPU)
device = device_of_this_process(args.device, local_rank, launched_by_torchrun)
backend = "nccl" if device.type == "cuda" else "gloo"  # NVIDIA's collectives on GPUs, gloo on the CPU
per_process_batch = split_batch(args.batch_size, world_size)  # 16 // N (--batch-size must split evenly)
# A bad checkpoint is refused before the processes meet: every process reads it and stops at once.
checkpoint = read_checkpoint(args.resume, LESSON, MAX_EPOCH, device) if args.resume else None

if dist.is_initialized():
    dist.destroy_process_group()  # a notebook kernel that ran this lesson before
if launched_by_torchrun:  # meet the others at MASTER_ADDR:MASTER_PORT, as torchrun's environment says
    dist.init_process_group(backend, timeout=args.timeout, **device_id_option(device))  # device_id: this GPU
else:  # a world of one: an in-process store
    dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1, timeout=args.timeout)
if is_main:
    print(f"World: {processes}, backend {backend}, rank 0 on {device} (threads: {torch.get_num_threads()}); "
          f"batch {args.batch_size} = {world_size} × {per_process_batch} per process")
    record("world_size", world_size, headline=True)

# %% Step 1/5: data, prepared by one process while the others wait
# Two processes writing the same photos would collide: 02's prepare_split on rank 0 first, then the others
split_dir, source = in_turns(lambda: prepare_split(args), rank, local_rank)

train_transform = transforms.Compose([  # as in 02_train_lenet
    transforms.Resize((32, 32)),
    transforms.RandomCrop(32, padding=4),  # pad 4 pixels, crop 32×32 back: a random shift, new each epoch
    transforms.ToTensor(),  # (3, 32, 32) floats in [0, 1]
    transforms.Normalize(NORM_MEAN, NORM_STD),
])
valid_transform = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor(),
                                      transforms.Normalize(NORM_MEAN, NORM_STD)])
train_data, valid_data, test_data = (RMBDataset(split_dir / part, transform=valid_transform, resize_once=(32, 32))
                                     for part in ("train", "valid", "test"))  # photos decoded and shrunk once
plain_train_data = copy.copy(train_data)  # for the proof: the same photos, without the random crop
train_data.transform = train_transform

# Each process its own slice of one shuffle (seed + epoch): every world_size-th photo from its rank on
train_sampler = DistributedSampler(train_data, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
train_loader = DataLoader(train_data, batch_size=per_process_batch, sampler=train_sampler)
# Validation and test: every world_size-th photo, each once (DistributedSampler would pad with repeats)
valid_loader = DataLoader(Subset(valid_data, range(rank, len(valid_data), world_size)), batch_size=per_process_batch)
test_loader = DataLoader(Subset(test_data, range(rank, len(test_data), world_size)), batch_size=per_process_batch)
iterations_per_epoch = len(train_loader)
if is_main:
    print(f"Data: {split_dir} ({source} photos): train {len(train_data)}, valid {len(valid_data)}, test "
          f"{len(test_data)}; {len(train_sampler)} train photos, {iterations_per_epoch} iterations an epoch per process")

# %% Step 2/5: model
net = LeNet(classes=2)
net.initialize_weights()  # every process draws the same weights: start_lesson seeded them alike
net.to(device)
initial_weights = copy.deepcopy(net.state_dict())  # for the proof
# DDP sends rank 0's weights to every process now, and in every backward() averages the gradients
# over the processes (an all_reduce per bucket of gradients, overlapped with the backward pass).
device_ids = [device.index] if device.type == "cuda" else None  # the GPU this process drives
net = DistributedDataParallel(net, device_ids=device_ids)

# %% Step 3/5: loss function
criterion = nn.CrossEntropyLoss()  # the mean over this process's slice; DDP averages the slices

# %% Step 4/5: optimizer (with --resume, every process loads the same saved state: they stay in step)
optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)  # lr × 0.1 every 10 epochs
history = {"train_loss": [], "valid_loss": [], "train_acc": [], "valid_acc": []}
start_epoch = restore(checkpoint, args.resume, net.module, optimizer, scheduler, history) if checkpoint else 0
if is_main and checkpoint:
    print(f"Resumed from {args.resume}: epoch {start_epoch} of {MAX_EPOCH} is next")

# %% The proof, before training: N processes with batch 16/N take one process's steps with batch 16
# One epoch from the initial weights, without the random crop: only the order is random, and the sampler fixes it.
orders = [list(DistributedSampler(plain_train_data, num_replicas=world_size, rank=r, shuffle=True, seed=args.seed))
          for r in range(world_size)]  # epoch 0's slice of every process
single_net = LeNet(classes=2).to(device)
single_net.load_state_dict(initial_weights)
ddp_net = DistributedDataParallel(copy.deepcopy(single_net), device_ids=device_ids)  # Part 1: DDP, batch 16/N each
train_epoch(ddp_net, DataLoader(plain_train_data, batch_size=per_process_batch, sampler=orders[rank]), criterion,
            optim.SGD(ddp_net.parameters(), lr=args.lr, momentum=0.9), device, where="the proof, DDP")
# Part 2, on every process (each checks, rank 0 tells): one process, batch 16 = every process's k-th slice
global_batches = [[index for order in orders for index in order[k:k + per_process_batch]]
                  for k in range(0, len(orders[0]), per_process_batch)]
train_epoch(single_net, DataLoader(plain_train_data, batch_sampler=global_batches), criterion,
            optim.SGD(single_net.parameters(), lr=args.lr, momentum=0.9), device, where="the proof, one process")
names = [name for name, _ in single_net.named_parameters()]
differences = [(a - b).abs().max().item() for a, b in zip(ddp_net.module.parameters(), single_net.parameters())]
moved = [(w - initial_weights[name]).abs().max().item() for name, w in zip(names, single_net.parameters())]
difference = max(differences)  # float32 sums taken in another order (README: how far, and why)
if is_main:
    print(f"DDP on {processes}, batch {per_process_batch} each, against one process with batch {args.batch_size}, "
          f"{len(global_batches)} steps from the same weights: the largest weight difference is {difference:.2e} "
          f"(the weights moved up to {max(moved):.2e}; rounding limit {ROUNDING_LIMIT:.0e})")
    record("ddp_vs_single_max_abs_difference", difference, headline=True)
    record("cpu_threads", torch.get_num_threads())  # what float32 rounding may depend on
    save_figure(draw_ddp_proof(names, moved, differences, processes, per_process_batch, args.batch_size),
                args.out_dir, "ddp_vs_single", show=args.show, caption="Per weight tensor: how far one epoch "
                "moved it, and how far DDP and one process ended apart (a bar at the floor: identical).")
if difference > ROUNDING_LIMIT:
    fail_run(f"DDP and one process differ by {difference:.2e}, more than float32 rounding ({ROUNDING_LIMIT:.0e})")


# %% Step 5/5: iterate
def batch_sums_of(loss, outputs, labels) -> torch.Tensor:
    """[loss × photos, photos right, photos seen] of one batch (float64: exact counts)."""
    return torch.tensor([loss.item() * len(labels), (outputs.argmax(dim=1) == labels).sum().item(), len(labels)],
                        dtype=torch.float64, device=device)


def summed_over_processes(model, loader) -> list:
    """[loss sum, photos right, photos seen] of `model` over every process's share of `loader`."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    with torch.no_grad():
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            sums += batch_sums_of(criterion(outputs, labels), outputs, labels)
    dist.all_reduce(sums)  # one all_reduce per loader: the processes may hold different batch counts
    return sums.tolist()


for epoch in range(start_epoch, MAX_EPOCH):
    train_sampler.set_epoch(epoch)  # a new shuffle each epoch (the same on every process)
    # Each process's crops depend only on (seed, epoch, rank), as the order does: a resumed run draws the same
    torch.manual_seed(args.seed + 1000 * epoch + rank)
    net.train()
    correct, total = 0, 0
    for i, (inputs, labels) in enumerate(train_loader):
        inputs, labels = inputs.to(device), labels.to(device)  # (16/N, 3, 32, 32), (16/N,)
        outputs = net(inputs)  # (16/N, 2)

        optimizer.zero_grad()
        loss = criterion(outputs, labels)
        loss.backward()  # DDP: each gradient is now the average over the processes
        optimizer.step()  # the same step on every process: the weights stay equal

        batch_sums = batch_sums_of(loss, outputs, labels)  # this process's slice of the batch
        dist.all_reduce(batch_sums)  # summed over the processes: the whole batch, the same on each
        batch_loss = batch_sums[0].item() / batch_sums[2].item()
        stop_if_diverged(batch_loss, f"loss at epoch {epoch}, iteration {i + 1}", f"try a --lr below {args.lr:g}")
        correct, total = correct + int(batch_sums[1]), total + int(batch_sums[2])
        history["train_loss"].append(batch_loss)
        if is_main and ((i + 1) % LOG_INTERVAL == 0 or i + 1 == iterations_per_epoch):
            since_last_line = history["train_loss"][-(i % LOG_INTERVAL + 1):]  # the notes print their mean
            print(f"Training:Epoch[{epoch:0>3}/{MAX_EPOCH:0>3}] Iteration[{i + 1:0>3}/{iterations_per_epoch:0>3}] "
                  f"Loss: {sum(since_last_line) / len(since_last_line):.4f} Acc:{correct / total:.2%}")
    history["train_acc"].append(correct / total)  # all right / all seen, not a mean of the processes' accuracies
    scheduler.step()

    valid_loss_sum, valid_right, valid_seen = summed_over_processes(net, valid_loader)
    history["valid_loss"].append(valid_loss_sum / valid_seen)
    history["valid_acc"].append(valid_right / valid_seen)
    if is_main:
        print(f"Valid:\t Epoch[{epoch:0>3}/{MAX_EPOCH:0>3}] Loss: {history['valid_loss'][-1]:.4f} "
              f"Acc:{history['valid_acc'][-1]:.2%} ({valid_seen:.0f} photos over {processes})")
        # Rank 0 alone writes the checkpoint: the weights are the same on every process.
        save_checkpoint(args.out_dir / "checkpoint.pt", LESSON, epoch, net.module, optimizer, scheduler, history)

# %% Test: each process predicts its share of the test photos; the counts are summed
_, test_right, test_seen = summed_over_processes(net, test_loader)
test_acc = test_right / test_seen
if is_main:
    print(f"Test: {test_acc:.2%} of {test_seen:.0f} photos right")
    record("valid_acc", history["valid_acc"][-1], headline=True)
    record("test_acc", test_acc, headline=True)
    save_figure(draw_ddp_training(history, iterations_per_epoch, start_epoch, processes, per_process_batch),
                args.out_dir, "training_curves", show=args.show, caption=f"Training on {processes}: loss per "
                "step and accuracy per epoch, each summed over every process with all_reduce.")
    print(f"Summary: {processes}, {MAX_EPOCH} epochs: valid {history['valid_acc'][-1]:.2%}, test {test_acc:.2%}, "
          f"DDP vs one process {difference:.1e}. Outputs in {args.out_dir}")

# %% The end: every process leaves the group (DDP's work freed first: in Python's teardown it can abort)
del net, ddp_net
dist.destroy_process_group()

# %% [markdown]
# **Exercises** (作业): `ddp-sampler` (what DistributedSampler gives each process).
# Read one with `python tools/exercises.py show ddp-sampler`; hand in your answer with
# `python tools/exercises.py check ddp-sampler "..."`.
