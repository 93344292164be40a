# %% [markdown]
"""Model containers: nn.Sequential (numbered or named layers), nn.ModuleList, nn.ModuleDict, and the plain-list trap.

Goes with the notes' 模型容器与AlexNet构建. A module's parameters are found by walking its
submodules (lesson 05), so its layers must be held by the module itself or by a container module.
Sequential runs its layers in order, numbered 0, 1, 2 … or named by an OrderedDict; ModuleList
holds layers you loop over yourself; ModuleDict holds layers you pick by name. A plain Python list
looks the same in __init__, but it is not a Module: `__setattr__` puts it in `__dict__`, and its
layers are not in .parameters() (the optimizer never updates them), not in state_dict (never
saved), and not converted or moved by .to().

    python lesson_models/06_module_containers.py

A good breakpoint: in ModuleListNet.forward; step through the loop over self.linears.
"""
# %%
import sys
from pathlib import Path

# This repo's `tools` and `model` first on sys.path, from any working directory. A notebook kernel
# has no file name: it runs in the lesson's folder.
LESSON_DIR = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(LESSON_DIR.parent))
from tools.errors import install_error_hook  # noqa: E402
install_error_hook()  # from here on, Ctrl-C or a bad input is one line on stderr, never a traceback

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from model.lenet import LeNet, LeNetSequential, LeNetSequentialOrderDict
from tools.cli import lesson_parser, start_lesson
from tools.figures import BLUE, VERMILLION, save_figure
from tools.metrics import record

parser = lesson_parser("lesson_models/06_module_containers.py", __doc__, default_seed=1, quick=None)
args = start_lesson(parser)
device = args.device

LAYERS = 20  # the notes' ModuleList: 20 Linear(10, 10)

# %% nn.Sequential: LeNet as features + classifier, layers numbered 0, 1, 2 …
images = torch.randn(4, 3, 32, 32).to(device)  # (B, 3, 32, 32), drawn on the CPU
lenet_sequential = LeNetSequential(classes=2).to(device)
print(lenet_sequential)
sequential_output = lenet_sequential(images)  # (4, 2)
print(f"Sequential: {tuple(images.shape)} → {tuple(sequential_output.shape)}")

# %% Sequential from an OrderedDict: the same layers, with names that print(net) shows
lenet_named = LeNetSequentialOrderDict(classes=2).to(device)
print(lenet_named)
named_layers = [name for name, _ in lenet_named.features.named_children()] + \
               [name for name, _ in lenet_named.classifier.named_children()]
print(f"Named layers: {', '.join(named_layers)}")

# The three ways of writing LeNet compute the same function: give them the same weights (their
# parameters come in the same order) and compare the outputs.
lenet_module = LeNet(classes=2).to(device)
with torch.no_grad():
    for net in (lenet_module, lenet_named):
        for target, source in zip(net.parameters(), lenet_sequential.parameters()):
            target.copy_(source)
    outputs = [net(images) for net in (lenet_module, lenet_sequential, lenet_named)]  # 3 × (4, 2)
lenet_max_difference = max((output - outputs[0]).abs().max().item() for output in outputs[1:])
lenet_parameters = [sum(p.numel() for p in net.parameters())
                    for net in (lenet_module, lenet_sequential, lenet_named)]
print(f"LeNet parameters (nn.Module, Sequential, OrderedDict): {lenet_parameters}; "
      f"largest output difference with the same weights: {lenet_max_difference}")
record("lenet_parameters", lenet_parameters, headline=True)


# %% nn.ModuleList: layers you loop over yourself
class ModuleListNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linears = nn.ModuleList([nn.Linear(10, 10) for _ in range(LAYERS)])

    def forward(self, x):  # x: (B, 10)
        for linear in self.linears:
            x = linear(x)  # (B, 10)
        return x


module_list_net = ModuleListNet().to(device)
vectors = torch.randn(4, 10)  # (B, 10), on the CPU for now
module_list_output = module_list_net(vectors.to(device))  # (4, 10)
module_list_parameters = sum(p.numel() for p in module_list_net.parameters())  # 20 × (10·10 weights + 10 biases)
module_list_state_entries = len(module_list_net.state_dict())  # a weight and a bias per layer
print(f"ModuleList of {LAYERS} Linear(10, 10): {module_list_parameters:,} parameters, "
      f"{module_list_state_entries} state_dict entries, {tuple(vectors.shape)} → {tuple(module_list_output.shape)}")
record("module_list_parameters", module_list_parameters, headline=True)


# %% nn.ModuleDict: layers picked by name at run time
class ModuleDictNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.choices = nn.ModuleDict({
            "conv": nn.Conv2d(10, 10, 3),  # 3×3, no padding: 32 → 30
            "pool": nn.MaxPool2d(3),  # 3×3 windows, stride 3: 32 → 10
        })
        self.activations = nn.ModuleDict({
            "relu": nn.ReLU(),
            "prelu": nn.PReLU(),
        })

    def forward(self, x, choice: str, activation: str):
        return self.activations[activation](self.choices[choice](x))


module_dict_net = ModuleDictNet().to(device)
feature_maps = torch.randn(4, 10, 32, 32).to(device)  # (B, C, H, W)
conv_output = module_dict_net(feature_maps, "conv", "relu")  # (4, 10, 30, 30)
pool_output = module_dict_net(feature_maps, "pool", "prelu")  # (4, 10, 10, 10)
print(f"ModuleDict: {tuple(feature_maps.shape)} → conv+relu {tuple(conv_output.shape)}, "
      f"pool+prelu {tuple(pool_output.shape)}")


# %% The pitfall: a plain Python list of layers
class PlainListNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linears = [nn.Linear(10, 10) for _ in range(LAYERS)]  # a list, not an nn.ModuleList

    def forward(self, x):  # runs: the layers are there, PyTorch just cannot see them
        for linear in self.linears:
            x = linear(x)
        return x


plain_list_net = PlainListNet()
plain_list_output = plain_list_net(vectors)  # (4, 10) on the CPU: it works, which is the trap
# A list is neither a Parameter nor a Module, so __setattr__ put it in __dict__, not in _modules.
plain_list_home = "_modules" if "linears" in plain_list_net._modules else "__dict__"
plain_list_parameters = sum(p.numel() for p in plain_list_net.parameters())  # SGD(net.parameters()) would train nothing
plain_list_state_entries = len(plain_list_net.state_dict())  # torch.save(net.state_dict()) would save nothing
print(f"Plain list of {LAYERS} Linear(10, 10): self.linears lives in {plain_list_home}; "
      f"{plain_list_parameters} parameters, {plain_list_state_entries} state_dict entries")
record("plain_list_parameters", plain_list_parameters, headline=True)


def half_precision(device: torch.device) -> torch.dtype:
    """float16 where this torch can multiply it on `device` (not on the CPU before torch 2.1 or
    so: "addmm_impl_cpu_" not implemented for 'Half'), else bfloat16, the other 16-bit type."""
    try:
        nn.Linear(2, 2).to(device, torch.float16)(torch.ones(1, 2, device=device, dtype=torch.float16))
        return torch.float16
    except RuntimeError:
        return torch.bfloat16


# .to() converts and moves only what the module can see. A 16-bit type exists on every device, so the
# difference shows on a CPU-only computer too; on a GPU the plain list's layers also stay on the CPU.
half = half_precision(device)
if half != torch.float16:
    print(f"torch {torch.__version__} cannot multiply float16 on {device}: the demo uses {half}")
layers_converted = {}
for label, net in (("ModuleList", module_list_net), ("plain list", plain_list_net)):
    net.to(device, half)
    layers_converted[label] = sum(linear.weight.dtype == half for linear in net.linears)
print(f"Layers converted by .to(device, {half}): ModuleList {layers_converted['ModuleList']} of "
      f"{LAYERS}, plain list {layers_converted['plain list']} of {LAYERS}")
half_vectors = vectors.to(device, half)  # (4, 10)
print(f"ModuleList forward in {half}: {tuple(module_list_net(half_vectors).shape)}")
try:
    plain_list_net(half_vectors)
except RuntimeError as error:  # the error a GPU user meets after model.to("cuda")
    print(f"Plain list forward in {half} fails: {str(error).splitlines()[0]}")

# %% Figure: what PyTorch sees of the same 20 layers, in a ModuleList and in a plain list
seen = {  # title: (ModuleList, plain list)
    "parameters in .parameters()": (module_list_parameters, plain_list_parameters),
    "entries in state_dict()": (module_list_state_entries, plain_list_state_entries),
    "layers converted by .to()": (layers_converted["ModuleList"], layers_converted["plain list"]),
}
fig, axes = plt.subplots(1, 3, figsize=(11, 4.2))
for ax, (title, (in_module_list, in_plain_list)) in zip(axes, seen.items()):
    ax.bar(0, in_module_list, width=0.6, color=BLUE)
    ax.text(0, in_module_list, f"{in_module_list:,}", ha="center", va="bottom", color=BLUE, fontweight="bold")
    # The plain list's 0: an outline where the ModuleList's bar stands, so the missing layers show.
    ax.bar(1, in_module_list, width=0.6, fill=False, edgecolor=VERMILLION, linestyle="--", linewidth=1.5)
    ax.bar(1, in_plain_list, width=0.6, color=VERMILLION)
    ax.text(1, in_plain_list, f"{in_plain_list:,}", ha="center", va="bottom", color=VERMILLION,
            fontweight="bold", fontsize=14)
    ax.text(1, in_module_list / 2, f"missing:\n{in_module_list - in_plain_list:,}", ha="center", va="center",
            color=VERMILLION)
    ax.set_xticks([0, 1], ["ModuleList", "plain list"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_title(title)
    ax.set_xlim(-0.6, 1.6)
    ax.margins(y=0.12)
fig.suptitle(f"The same {LAYERS} Linear(10, 10) layers: a plain list hides them from PyTorch")
fig.tight_layout()
save_figure(fig, args.out_dir, "containers",
            caption=f"{LAYERS} Linear(10, 10) layers held by nn.ModuleList are seen by .parameters(), "
                    "state_dict() and .to(); held by a plain list, none of them is (dashed: what is missing).",
            show=args.show)

print(f"Summary: LeNet has {lenet_parameters[0]:,} parameters however it is written; a ModuleList of "
      f"{LAYERS} Linear(10, 10) has {module_list_parameters:,}, the same layers in a plain list 0. "
      f"Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `containers-count` (ModuleList or a plain list).
# Read one with `python tools/exercises.py show containers-count`; hand in your answer with
# `python tools/exercises.py check containers-count "..."`.
