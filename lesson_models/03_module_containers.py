"""Module containers: nn.Sequential, Sequential from an OrderedDict, nn.ModuleList, nn.ModuleDict,
and the pitfall of a plain Python list of layers.

The notes' lesson on model containers: a module's parameters are found by walking its
sub-modules, so layers must be held by the module itself or by a container module. Sequential
runs its layers in order (with positional names 0, 1, 2 … or your own from an OrderedDict),
ModuleList holds layers you iterate over yourself, ModuleDict holds layers you pick by name. A
plain list looks the same in __init__ but hides its layers from PyTorch: they are not in
.parameters() (the optimizer never updates them), not in the state_dict (never saved), and not
moved by .to().

    python lesson_models/03_module_containers.py

Expect: the three LeNets (model/lenet.py) with 61,326 parameters each and identical outputs once
given the same weights; print(net) shows conv1, relu1, pool1 … for the OrderedDict version; 20
Linear(10, 10) in a ModuleList: 2,200 parameters; ModuleDict: (4, 10, 32, 32) → (4, 10, 30, 30)
with "conv", (4, 10, 10, 10) with "pool"; the same 20 layers in a plain list: 0 parameters, 0
state_dict entries, and left behind by .to("meta").

Writes to outputs/lesson_models/03_module_containers/: containers.png (parameters and state_dict
entries each container exposes) and metrics.json (the shapes and counts above).

A good breakpoint: in ModuleListNet.forward; step through the loop over self.linears.
"""
# %%
import sys
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this repo's tools and model first

import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from model.lenet import LeNet, LeNetSequential, LeNetSequentialOrderDict
from tools.cli import lesson_parser, parse_lesson_args
from tools.figures import save_figure
from tools.metrics import write_metrics
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=1)
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)
device = args.device

LAYERS = 20  # the notes' ModuleList: 20 Linear(10, 10)


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


# %% nn.Sequential: LeNet as features + classifier, layers named 0, 1, 2 …
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

# The three ways of writing LeNet compute the same function: give them the same weights (their
# parameters come in the same order) and compare the outputs.
lenet_module = LeNet(classes=2).to(device)
with torch.no_grad():
    for net in (lenet_module, lenet_named):
        for target, source in zip(net.parameters(), lenet_sequential.parameters()):
            target.copy_(source)
    outputs = [net(images) for net in (lenet_module, lenet_sequential, lenet_named)]  # 3 × (4, 2)
lenet_max_difference = max((out - outputs[0]).abs().max().item() for out in outputs[1:])
lenet_parameters = [count_parameters(net) for net in (lenet_module, lenet_sequential, lenet_named)]
print(f"LeNet parameters (nn.Module, Sequential, OrderedDict): {lenet_parameters}; "
      f"largest output difference with the same weights: {lenet_max_difference}")


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
vectors = torch.randn(4, 10).to(device)  # (B, 10)
module_list_output = module_list_net(vectors)  # (4, 10)
module_list_parameters = count_parameters(module_list_net)  # 20 × (10·10 weights + 10 biases)
print(f"ModuleList of {LAYERS} Linear(10, 10): {module_list_parameters} parameters, "
      f"{tuple(vectors.shape)} → {tuple(module_list_output.shape)}")


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

    def forward(self, x):  # runs fine: the layers are there, PyTorch just cannot see them
        for linear in self.linears:
            x = linear(x)
        return x


plain_list_net = PlainListNet()
plain_list_output = plain_list_net(vectors.cpu())  # (4, 10): it works, which is the trap
plain_list_parameters = count_parameters(plain_list_net)  # 0: SGD(net.parameters()) would train nothing
plain_list_state_keys = len(plain_list_net.state_dict())  # 0: torch.save would save nothing
module_list_state_keys = len(module_list_net.state_dict())  # 40: a weight and a bias per layer

# .to() moves what the module can see. "meta" is a device that holds shapes but no numbers: it
# exists on every machine, so the move shows on a CPU-only computer too.
module_list_meta = ModuleListNet().to("meta")
plain_list_meta = PlainListNet().to("meta")
module_list_moved = all(p.device.type == "meta" for layer in module_list_meta.linears for p in layer.parameters())
plain_list_moved = any(p.device.type == "meta" for layer in plain_list_meta.linears for p in layer.parameters())
print(f"Plain list of {LAYERS} Linear(10, 10): {plain_list_parameters} parameters, {plain_list_state_keys} "
      f"state_dict entries (ModuleList: {module_list_state_keys}); moved by .to('meta'): {plain_list_moved} "
      f"(ModuleList: {module_list_moved})")

# %% Figure: what each container shows to PyTorch
names = ["LeNet\nnn.Module", "LeNet\nSequential", "LeNet\nOrderedDict", "20 Linear\nModuleList",
         "20 Linear\nplain list"]
parameter_counts = lenet_parameters + [module_list_parameters, plain_list_parameters]
state_counts = [len(net.state_dict()) for net in (lenet_module, lenet_sequential, lenet_named)] + \
               [module_list_state_keys, plain_list_state_keys]
fig, (ax_params, ax_state) = plt.subplots(1, 2, figsize=(12, 4.5))
colours = ["tab:blue"] * 3 + ["tab:green", "tab:red"]
bars = ax_params.bar(names, parameter_counts, color=colours)
ax_params.bar_label(bars, labels=[f"{count:,}" for count in parameter_counts])
ax_params.set_yscale("symlog", linthresh=10)  # 0 and 61,326 on one axis
ax_params.set(ylabel="parameters seen by .parameters() (log scale)", title="What the optimizer would train")
bars = ax_state.bar(names, state_counts, color=colours)
ax_state.bar_label(bars)
ax_state.set(ylabel="state_dict entries", title="What torch.save would save")
for ax in (ax_params, ax_state):
    ax.tick_params(axis="x", labelsize=8)
    ax.margins(y=0.15)
fig.suptitle("A plain list of layers is invisible to PyTorch")
save_figure(fig, args.out_dir, "containers", show=args.show)

# %% Metrics and summary
metrics = {
    "lenet_parameters": lenet_parameters,
    "lenet_max_output_difference": lenet_max_difference,
    "sequential_output_shape": list(sequential_output.shape),
    "ordered_dict_layer_names": named_layers,
    "module_list_parameters": module_list_parameters,
    "module_list_output_shape": list(module_list_output.shape),
    "module_list_state_dict_entries": module_list_state_keys,
    "module_dict_input_shape": list(feature_maps.shape),
    "module_dict_conv_shape": list(conv_output.shape),
    "module_dict_pool_shape": list(pool_output.shape),
    "plain_list_parameters": plain_list_parameters,
    "plain_list_state_dict_entries": plain_list_state_keys,
    "plain_list_output_shape": list(plain_list_output.shape),
    "module_list_moved_by_to": module_list_moved,
    "plain_list_moved_by_to": plain_list_moved,
    "device": str(device),
}
write_metrics(args.out_dir, metrics)
print(f"Summary: LeNet has {lenet_parameters[0]:,} parameters however it is written; a ModuleList of "
      f"{LAYERS} Linear(10, 10) has {module_list_parameters:,}, the same layers in a plain list 0. "
      f"Outputs in {args.out_dir}")
