"""AlexNet: torchvision's and ours (model/alexnet.py) side by side, and grouped convolutions.

The notes close the container lesson with AlexNet (Krizhevsky, Sutskever and Hinton, 2012), the
network that won ImageNet 2012: ReLU instead of saturating activations, dropout in the classifier,
overlapping max pooling, data augmentation, and training on two GPUs. torchvision builds it with
nn.Sequential and numbered layers; model/alexnet.py builds the same network from OrderedDicts so
that every layer has a name (features.conv1 … classifier.fc8), and loads torchvision's weights by
renaming them.

Two GPUs: in 2012 a GTX 580 had 3 GB, too little for the network, so the paper cut most layers in
two halves, one per GPU. conv2, conv4 and conv5 only saw the channels on their own GPU; conv3 and
the fully connected layers read both. A grouped convolution (`groups=2`) is that cut on one device:
each half of the output channels sees only half of the input channels, which halves the weights.

    python lesson_models/04_alexnet.py

Expect: both networks have 61,100,840 parameters (fc6 alone 37,752,832) and map a (1, 3, 224, 224)
image to (1, 1000) scores; after load_torchvision_state_dict the outputs are identical (largest
difference 0). conv2 (64 → 192, 5×5) has 307,392 parameters; with groups=2, 153,792.

Writes to outputs/lesson_models/04_alexnet/: alexnet_parameters.png (parameters per named layer,
and the shape after every stage) and metrics.json (counts, shapes, the output difference).

A good breakpoint: after `ours.load_torchvision_state_dict(...)`; compare
ours.features.conv1.weight with torchvision_net.features[0].weight.
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this repo's tools and model first

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torchvision

from model.alexnet import AlexNet
from tools.cli import lesson_parser, parse_lesson_args
from tools.figures import save_figure
from tools.metrics import write_metrics
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=1)
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)
device = args.device

IMAGE_SIZE = 224  # ImageNet crops; the adaptive pooling accepts any size from 63 up


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


# %% torchvision's AlexNet: numbered layers (random weights; nothing is downloaded)
torchvision_net = torchvision.models.AlexNet(num_classes=1000).to(device)
print(torchvision_net)
image = torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE).to(device)  # (1, 3, 224, 224)
torchvision_net.eval()  # dropout off: the same input gives the same output
with torch.no_grad():
    torchvision_output = torchvision_net(image)  # (1, 1000)
torchvision_parameters = count_parameters(torchvision_net)
print(f"torchvision AlexNet: {torchvision_parameters:,} parameters, {tuple(image.shape)} → "
      f"{tuple(torchvision_output.shape)}")

# %% Ours: the same layers, with names
ours = AlexNet(num_classes=1000).to(device)
print(ours)
our_parameters = count_parameters(ours)
layer_names = [name for name, _ in ours.named_children()] + \
              [f"features.{name}" for name, _ in ours.features.named_children()] + \
              [f"classifier.{name}" for name, _ in ours.classifier.named_children()]

# Load torchvision's weights into ours: the same tensors under other names.
ours.load_torchvision_state_dict(torchvision_net.state_dict())
ours.eval()
with torch.no_grad():
    our_output = ours(image)  # (1, 1000)
max_difference = (our_output - torchvision_output).abs().max().item()
print(f"Ours: {our_parameters:,} parameters; after loading torchvision's weights the largest output "
      f"difference is {max_difference}")

# %% The shape after every stage, and the parameters of every named layer
shapes = [("input", tuple(image.shape))]
with torch.no_grad():
    x = image
    for name, layer in ours.features.named_children():
        x = layer(x)
        shapes.append((name, tuple(x.shape)))
    x = torch.flatten(ours.avgpool(x), 1)  # (1, 9216)
    shapes.append(("avgpool+flatten", tuple(x.shape)))
    for name, layer in ours.classifier.named_children():
        x = layer(x)
        shapes.append((name, tuple(x.shape)))
for name, shape in shapes:
    print(f"  {name:>16}: {shape}")
layer_parameters = {name: count_parameters(layer) for name, layer in ours.named_modules()
                    if isinstance(layer, (nn.Conv2d, nn.Linear))}  # "features.conv1": 23,296 …

# %% Grouped convolution: the two-GPU cut on one device
conv2 = nn.Conv2d(64, 192, kernel_size=5, padding=2)
conv2_grouped = nn.Conv2d(64, 192, kernel_size=5, padding=2, groups=2)  # 2 × (32 → 96)
conv2_parameters, conv2_grouped_parameters = count_parameters(conv2), count_parameters(conv2_grouped)
feature_map = torch.randn(1, 64, 27, 27)  # what conv2 sees: (1, 64, 27, 27)
grouped_shape = tuple(conv2_grouped(feature_map).shape)  # the same (1, 192, 27, 27)
print(f"conv2 64→192, 5×5: {conv2_parameters:,} parameters; with groups=2: {conv2_grouped_parameters:,} "
      f"(weight {tuple(conv2_grouped.weight.shape)}: each output channel sees 32 input channels); "
      f"output {grouped_shape} either way")

# %% Figure: where the 61 million parameters are, and the shapes along the way
fig, (ax_params, ax_shapes) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1.2, 1]})
names = [name.split(".")[1] for name in layer_parameters]
counts = list(layer_parameters.values())
bars = ax_params.barh(names[::-1], counts[::-1], color=["tab:orange" if n.startswith("fc") else "tab:blue"
                                                        for n in names[::-1]])
ax_params.bar_label(bars, labels=[f"{c:,}" for c in counts[::-1]], padding=3, fontsize=8)
ax_params.set_xscale("log")
ax_params.set_xlim(1e4, 3e8)
ax_params.set(xlabel="parameters (log scale)",
              title=f"{our_parameters:,} parameters: {sum(counts[5:]) / our_parameters:.0%} in fc6–fc8")
ax_shapes.axis("off")
table = ax_shapes.table(cellText=[[name, str(shape)] for name, shape in shapes],
                        colLabels=["after", "shape"], cellLoc="left", bbox=[0, 0, 1, 0.95])
table.auto_set_font_size(False)
table.set_fontsize(8)
ax_shapes.set_title(f"A {IMAGE_SIZE}×{IMAGE_SIZE} image through AlexNet")
fig.suptitle("AlexNet with named layers (model/alexnet.py) = torchvision's AlexNet")
save_figure(fig, args.out_dir, "alexnet_parameters", show=args.show)

# %% Metrics and summary
metrics = {
    "torchvision_parameters": torchvision_parameters,
    "our_parameters": our_parameters,
    "output_shape": list(our_output.shape),
    "max_output_difference": max_difference,
    "layer_names": layer_names,
    "layer_parameters": list(layer_parameters.values()),
    "fc6_parameters": layer_parameters["classifier.fc6"],
    "conv2_parameters": conv2_parameters,
    "conv2_groups2_parameters": conv2_grouped_parameters,
    "conv2_groups2_output_shape": list(grouped_shape),
    "device": str(device),
}
write_metrics(args.out_dir, metrics)
print(f"Summary: both AlexNets have {our_parameters:,} parameters and give the same (1, 1000) output once "
      f"ours holds torchvision's weights; groups=2 halves conv2 to {conv2_grouped_parameters:,}. "
      f"Outputs in {args.out_dir}")
