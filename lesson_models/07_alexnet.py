# %% [markdown]
"""AlexNet: torchvision's and ours (model/alexnet.py) side by side, where its parameters sit, and grouped convolutions.

Goes with the end of the notes' 模型容器与AlexNet构建: AlexNet (Krizhevsky, Sutskever and Hinton,
2012) won ImageNet 2012 with ReLU, dropout, overlapping max pooling, data augmentation and two GPUs.
torchvision builds it with nn.Sequential and numbered layers; model/alexnet.py builds the same
network from OrderedDicts, so every layer has a name (features.conv1 … classifier.fc8), and loads
torchvision's weights by renaming them. The fully connected layers hold most of the parameters.
In 2012 a GTX 580 had 3 GB, so the paper cut most layers into two halves, one per GPU: a grouped
convolution (`groups=2`) is that cut on one device, each half of the output channels seeing half of
the input channels, which halves the weights. Nothing is downloaded: the weights are random.

    python lesson_models/07_alexnet.py

A good breakpoint: after `ours.load_torchvision_state_dict(...)`; compare
ours.features.conv1.weight with torchvision_net.features[0].weight.
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
import torchvision

from model.alexnet import AlexNet
from tools.cli import lesson_parser, start_lesson
from tools.figures import BLUE, VERMILLION, save_figure
from tools.metrics import record

parser = lesson_parser("lesson_models/07_alexnet.py", __doc__, default_seed=1, quick=None)
args = start_lesson(parser)
device = args.device

IMAGE_SIZE = 224  # ImageNet crops; the adaptive pooling accepts any size from 63 up
MILLION = 1e6

# %% torchvision's AlexNet: numbered layers (random weights; nothing is downloaded)
torchvision_net = torchvision.models.AlexNet(num_classes=1000).to(device)
print(torchvision_net)
image = torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE).to(device)  # (1, 3, 224, 224)
torchvision_net.eval()  # dropout off: the same input gives the same output
with torch.no_grad():
    torchvision_output = torchvision_net(image)  # (1, 1000)
torchvision_parameters = sum(p.numel() for p in torchvision_net.parameters())
print(f"torchvision AlexNet: {torchvision_parameters:,} parameters, {tuple(image.shape)} → "
      f"{tuple(torchvision_output.shape)}")

# %% Ours: the same layers, with names
ours = AlexNet(num_classes=1000).to(device)
print(ours)
our_parameters = sum(p.numel() for p in ours.parameters())

# Load torchvision's weights into ours: the same tensors under other names.
ours.load_torchvision_state_dict(torchvision_net.state_dict())
ours.eval()
with torch.no_grad():
    our_output = ours(image)  # (1, 1000)
max_difference = (our_output - torchvision_output).abs().max().item()
print(f"Ours: {our_parameters:,} parameters, {tuple(image.shape)} → {tuple(our_output.shape)}; after loading "
      f"torchvision's weights the largest output difference is {max_difference}")
record("our_parameters", our_parameters, headline=True)
record("max_output_difference", max_difference, headline=True)

# %% The shape after every stage
print(f"A {IMAGE_SIZE}×{IMAGE_SIZE} image through AlexNet, the shape after every layer:")
print(f"  {'input':>19}: {tuple(image.shape)}")
with torch.no_grad():
    x = image
    for name, layer in ours.features.named_children():
        x = layer(x)
        print(f"  {'features.' + name:>19}: {tuple(x.shape)}")
    x = torch.flatten(ours.avgpool(x), 1)  # (1, 9216)
    print(f"  {'avgpool+flatten':>19}: {tuple(x.shape)}")
    for name, layer in ours.classifier.named_children():
        x = layer(x)
        print(f"  {'classifier.' + name:>19}: {tuple(x.shape)}")

# %% Where the parameters sit: the three fully connected layers hold most of them
layer_parameters = {name: sum(p.numel() for p in layer.parameters()) for name, layer in ours.named_modules()
                    if isinstance(layer, (nn.Conv2d, nn.Linear))}  # "features.conv1": 23,296 …
fully_connected_parameters = sum(count for name, count in layer_parameters.items() if name.startswith("classifier."))
fully_connected_share = fully_connected_parameters / our_parameters
for name, count in layer_parameters.items():
    print(f"  {name:>19}: {count:>10,} parameters ({count / our_parameters:6.2%})")
print(f"fc6–fc8 hold {fully_connected_parameters:,} of {our_parameters:,} parameters: {fully_connected_share:.1%}")
record("fully_connected_share", fully_connected_share, headline=True)

# %% Grouped convolution: the two-GPU cut on one device
conv2 = nn.Conv2d(64, 192, kernel_size=5, padding=2).to(device)  # 192·64·5·5 weights + 192 biases
conv2_grouped = nn.Conv2d(64, 192, kernel_size=5, padding=2, groups=2).to(device)  # 2 × (32 → 96)
conv2_parameters = sum(p.numel() for p in conv2.parameters())
conv2_grouped_parameters = sum(p.numel() for p in conv2_grouped.parameters())
feature_map = torch.randn(1, 64, 27, 27).to(device)  # what conv2 sees: (1, 64, 27, 27)
grouped_shape = tuple(conv2_grouped(feature_map).shape)  # the same (1, 192, 27, 27)
print(f"conv2 64→192, 5×5: {conv2_parameters:,} parameters, weight {tuple(conv2.weight.shape)}; with groups=2: "
      f"{conv2_grouped_parameters:,}, weight {tuple(conv2_grouped.weight.shape)} (each output channel sees 32 "
      f"input channels); output {grouped_shape} either way")
record("conv2_groups2_parameters", conv2_grouped_parameters, headline=True)

# %% Figure: the parameters per layer on a linear axis, and what groups=2 saves in conv2
fig, (ax_layers, ax_groups) = plt.subplots(2, 1, figsize=(10, 7.5), gridspec_kw={"height_ratios": [3, 1.3]})
names = [name.split(".")[1] for name in layer_parameters][::-1]  # conv1 at the top
counts = list(layer_parameters.values())[::-1]
colours = [VERMILLION if name.startswith("classifier.") else BLUE for name in layer_parameters][::-1]
bars = ax_layers.barh(names, [count / MILLION for count in counts], color=colours)
ax_layers.bar_label(bars, labels=[f"{count:,}" for count in counts], padding=4)
ax_layers.set_xlim(0, max(counts) / MILLION * 1.3)  # room for the labels
ax_layers.set(xlabel="parameters (millions)",
              title=f"{our_parameters:,} parameters: {fully_connected_share:.0%} in fc6–fc8 (vermillion)")
conv_parameters = our_parameters - fully_connected_parameters
ax_layers.text(0.97, 0.8, f"conv1–conv5: {conv_parameters:,} ({conv_parameters / our_parameters:.0%})\n"
               f"fc6–fc8: {fully_connected_parameters:,} ({fully_connected_share:.0%})",
               transform=ax_layers.transAxes, ha="right", va="center", linespacing=1.6)
group_labels = [f"conv2, groups=1\nweight {tuple(conv2.weight.shape)}",
                f"conv2, groups=2\nweight {tuple(conv2_grouped.weight.shape)}"]
bars = ax_groups.barh(group_labels[::-1], [conv2_grouped_parameters, conv2_parameters], color=BLUE)
ax_groups.bar_label(bars, labels=[f"{conv2_grouped_parameters:,}", f"{conv2_parameters:,}"], padding=4)
ax_groups.set_xlim(0, conv2_parameters * 1.3)
ax_groups.xaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
ax_groups.set(xlabel="parameters", title="groups=2, the two-GPU cut on one device, halves conv2's weights")
fig.tight_layout()
save_figure(fig, args.out_dir, "alexnet_parameters",
            caption="AlexNet's parameters per layer on a linear axis: the three fully connected layers hold "
                    "almost all of them; groups=2 halves conv2's weights.",
            show=args.show)

print(f"Summary: both AlexNets have {our_parameters:,} parameters ({fully_connected_share:.0%} in fc6–fc8) and give "
      f"the same (1, 1000) output once ours holds torchvision's weights; groups=2 halves conv2 to "
      f"{conv2_grouped_parameters:,}. Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `alexnet-named` (the course's: AlexNet with named layers).
# Read it with `python tools/exercises.py show alexnet-named`; hand in your file with
# `python tools/exercises.py check alexnet-named --file my_alexnet.py`.
