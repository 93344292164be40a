# %% [markdown]
"""Convolution on a photo: nn.Conv2d, its parameters one by one, and nn.Conv3d.

The notes' lesson on convolution layers (卷积层). A kernel slides over the input and sums the
products: each output pixel sees a small neighbourhood (local connections) through the same weights
everywhere (weight sharing). The notes' Conv2d(3, 1, 3) runs on a 512×512 photo; then the lesson
checks that a 3-channel convolution is one 2-D convolution per input channel, summed, plus the bias,
and varies Conv2d's parameters one at a time (padding, stride, dilation, bias, groups,
padding_mode). The notes' Conv3d follows, with the input it refuses. Finally the output-size formula
is checked against real layers over a sweep of configurations. Transposed convolution is next
(02_transposed_convolution.py).

    python lesson_layers/01_convolution.py                       # matplotlib's photo, 512×512
    python lesson_layers/01_convolution.py --image my_photo.jpg  # your own picture, not cropped

A good breakpoint: `img_conv = conv_layer(img_tensor)`. Step over it, compare img_tensor.shape with
img_conv.shape, and look at conv_layer.weight.shape: (out_channels, in_channels, kH, kW).
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

import itertools

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import transforms

from tools.cli import lesson_parser, start_lesson
from tools.figures import BLACK, BLUE, GREY, ORANGE, draw_value_grid, save_figure
from tools.metrics import record
from tools.photo import add_image_flag, draw_signed, feature_map, load_photo, signed_limit

SWEEP_FULL = dict(inputs=[(7, 10), (8, 8), (5, 13)], kernels=(1, 2, 3, 5), strides=(1, 2, 3),
                  paddings=(0, 1, 2), dilations=(1, 2))  # 216 configurations
SWEEP_QUICK = dict(inputs=[(7, 10), (5, 13)], kernels=(1, 3, 5), strides=(1, 2, 3), paddings=(0, 2),
                   dilations=(1, 2))  # 72 configurations

parser = lesson_parser("lesson_layers/01_convolution.py", __doc__, default_seed=3,
                       quick="72 instead of 216 layer configurations in the formula sweep")
MIN_SIDE = 5  # the dilated 3×3 kernel spans 5×5: a smaller picture has no valid position for it
add_image_flag(parser, min_side=MIN_SIDE)
args = start_lesson(parser)
device = args.device

PADDING_DEMO = torch.arange(16, dtype=torch.float).reshape(1, 1, 4, 4)  # (1, 1, 4, 4): 0 … 15
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PROBE_SIDE = 11  # input side for measuring a receptive field


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """⌊(H + 2p − d(k − 1) − 1) / s⌋ + 1: how many positions the dilated kernel fits in."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def parameter_count(layer: nn.Module) -> int:
    return sum(parameter.numel() for parameter in layer.parameters())


# %% Data: the photo as a (1, 3, H, W) tensor, as the notes build it
photo = load_photo(args.image, min_side=MIN_SIDE)
print(f"Photo: {photo.source}")
record("image_source", photo.source)
record("image_downscaled", photo.downscaled)
img = photo.image  # an RGB PIL image, values 0 … 255
img_tensor = transforms.ToTensor()(img)  # (3, H, W) float32 in [0, 1]
img_tensor.unsqueeze_(dim=0)  # (1, 3, H, W): C×H×W to B×C×H×W, layers take a batch
img_tensor = img_tensor.to(device)
_, _, height, width = img_tensor.shape

# %% Conv2d: 3 input channels -> 1 output channel, a 3×3 kernel, stride 1, no padding
# Layers are built and initialised on the CPU, then moved: every device gets the same weights.
conv_layer = nn.Conv2d(3, 1, 3)  # input: (in_channels, out_channels, kernel_size)
nn.init.xavier_normal_(conv_layer.weight)  # init functions work under no_grad already: no `.data`
conv_layer.to(device)
img_conv = conv_layer(img_tensor)  # (1, 1, 510, 510): 512 − 3 + 1
print(f"卷积前尺寸:{img_tensor.shape}\n卷积后尺寸:{img_conv.shape}")  # the notes' print: before / after
conv_predicted = [conv_output_size(height, 3), conv_output_size(width, 3)]
print(f"  formula ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1 with k=3, s=1, p=0, d=1: {conv_predicted[0]}×{conv_predicted[1]}")
record("conv2d_shape", list(img_conv.shape), headline=True)
# A convolution's output is not a picture: it has negative values and values above 1.
outside_unit = ((img_conv < 0) | (img_conv > 1)).float().mean().item()
print(f"  its values lie in [{img_conv.min().item():.3f}, {img_conv.max().item():.3f}]; "
      f"{outside_unit:.1%} are outside [0, 1], which a uint8 picture would clip")

# %% Conv2d's weight: one 3×3 kernel per (output channel, input channel)
print(f"conv_layer.weight.shape: {conv_layer.weight.shape}  (out_channels, in_channels, kH, kW)")
# A 3-channel convolution is three 2-D convolutions, one per input channel with its own 3×3 slice
# of the weight, summed, plus the bias.
with torch.no_grad():
    per_channel = [F.conv2d(img_tensor[:, c:c + 1], conv_layer.weight[:, c:c + 1])  # 3 × (1, 1, 510, 510)
                   for c in range(img_tensor.shape[1])]
    img_conv_by_channel = sum(per_channel) + conv_layer.bias.view(1, -1, 1, 1)
channel_sum_difference = (img_conv_by_channel - img_conv).abs().max().item()
print(f"Σ over R, G, B of conv2d(channel, its 3×3 kernel) + bias vs Conv2d: max |difference| "
      f"{channel_sum_difference:.1e}")
record("channel_sum_max_abs_difference", channel_sum_difference, headline=True)

# %% Conv2d's parameters, one at a time (each variant differs from Conv2d(3, 1, 3) in one argument)
variants = {
    "padding=1": nn.Conv2d(3, 1, 3, padding=1),  # p = (k − 1)/2 keeps the size
    "stride=2": nn.Conv2d(3, 1, 3, stride=2),  # every second position: about half the size
    "dilation=2": nn.Conv2d(3, 1, 3, dilation=2),  # the 3×3 taps spread over 5×5
    "bias=False": nn.Conv2d(3, 1, 3, bias=False),  # layer.bias is None: 27 parameters, not 28
    "out_channels=3, groups=3": nn.Conv2d(3, 3, 3, groups=3),  # each output sees one input channel
    "padding=1, padding_mode='reflect'": nn.Conv2d(3, 1, 3, padding=1, padding_mode="reflect"),
}
variant_results = {}
print(f"{'Conv2d(3, 1, 3, ...)':<36} {'output':<18} {'formula':<10} {'weight':<16} parameters")
for name, layer in variants.items():
    with torch.no_grad():
        output = layer.to(device)(img_tensor)
    predicted = [conv_output_size(size, layer.kernel_size[0], layer.stride[0], layer.padding[0],
                                  layer.dilation[0]) for size in (height, width)]
    result = variant_results[name] = {"shape": tuple(output.shape), "predicted_hw": predicted,
                                      "weight_shape": tuple(layer.weight.shape), "parameters": parameter_count(layer)}
    print(f"{name:<36} {str(result['shape']):<18} {predicted[0]}×{predicted[1]:<6} "
          f"{str(result['weight_shape']):<16} {result['parameters']}")
print("  groups splits the channels into groups that do not see each other: the weight is "
      "(out, in/groups, k, k).\n  AlexNet's conv2 uses groups=2 (the AlexNet lesson in lesson_models).")

# dilation: measure the receptive field of one output pixel with autograd. The gradient of that
# pixel with respect to the input is non-zero exactly where the input can change it.
receptive_fields = {}
for dilation in (1, 2):
    probe = torch.zeros(1, 1, PROBE_SIDE, PROBE_SIDE, device=device, requires_grad=True)
    dilated = nn.Conv2d(1, 1, 3, dilation=dilation, bias=False)
    nn.init.ones_(dilated.weight)
    probe_output = dilated.to(device)(probe)  # (1, 1, 11 − 2d, 11 − 2d)
    centre = probe_output.shape[-1] // 2
    probe_output[0, 0, centre, centre].backward()
    seen = (probe.grad[0, 0] != 0).cpu()  # (11, 11): the input pixels this output depends on
    rows, cols = seen.nonzero(as_tuple=True)
    receptive_fields[dilation] = {"span": int(rows.max() - rows.min() + 1), "pixels": int(seen.sum()),
                                  "map": seen.int().tolist()}
    print(f"dilation={dilation}: one output pixel depends on {receptive_fields[dilation]['pixels']} input "
          f"pixels spread over {receptive_fields[dilation]['span']}×{receptive_fields[dilation]['span']} "
          f"(d(k − 1) + 1 = {dilation * 2 + 1})")

# padding_mode: what fills the border ring. With a kernel of ones, each output pixel is the sum of its
# padded 3×3 neighbourhood; the corner shows the difference, the interior is the same in every mode.
padding_corner = {}
for mode in PADDING_MODES:
    summing = nn.Conv2d(1, 1, 3, padding=1, padding_mode=mode, bias=False)
    nn.init.ones_(summing.weight)
    with torch.no_grad():
        summed = summing.to(device)(PADDING_DEMO.to(device))  # (1, 1, 4, 4)
    padding_corner[mode] = summed[0, 0, 0, 0].item()
print("padding_mode on 0 … 15 (4×4), kernel of ones, padding 1: top-left output "
      + ", ".join(f"{mode} {value:g}" for mode, value in padding_corner.items()))

# %% Conv3d, as the notes wrote it: a depth axis of 1, a kernel 3 deep, padding 1 along depth only
img_tensor_3d = img_tensor.unsqueeze(dim=2)  # (1, 3, 1, 512, 512): B×C×D×H×W (the notes: unsqueeze_)
conv3d_layer = nn.Conv3d(3, 1, (3, 3, 3), padding=(1, 0, 0), bias=False)  # weight (1, 3, 3, 3, 3)
nn.init.xavier_normal_(conv3d_layer.weight)
conv3d_layer.to(device)
img_conv3d = conv3d_layer(img_tensor_3d)  # (1, 1, 1, 510, 510): depth 1 + 2·1 − 3 + 1 = 1
print(f"Conv3d(3, 1, (3, 3, 3), padding=(1, 0, 0), bias=False): before {tuple(img_tensor_3d.shape)}  "
      f"after {tuple(img_conv3d.shape)}")
record("conv3d_shape", list(img_conv3d.shape), headline=True)
# The input is one slice deep, so only the kernel's middle depth slice ever meets the photo; the
# other two meet the zero padding. The Conv3d is a Conv2d with that middle slice as its kernel.
with torch.no_grad():
    middle_slice_conv = F.conv2d(img_tensor, conv3d_layer.weight[:, :, 1])  # (1, 1, 510, 510)
conv3d_middle_difference = (img_conv3d[:, :, 0] - middle_slice_conv).abs().max().item()
print(f"  = Conv2d with the kernel's middle depth slice: max |difference| {conv3d_middle_difference:.1e}")
# Without the depth padding the kernel (3 deep) is deeper than the input (1 deep): PyTorch refuses.
unpadded_conv3d = nn.Conv3d(3, 1, (3, 3, 3), bias=False).to(device)
try:
    unpadded_conv3d(img_tensor_3d)
    conv3d_refusal = None
    print("  without padding=(1, 0, 0): PyTorch accepted it (this version no longer refuses)")
except RuntimeError as error:
    conv3d_refusal = str(error).splitlines()[0]
    print(f"  without padding=(1, 0, 0), PyTorch refuses (caught, the lesson goes on):\n    {conv3d_refusal}\n"
          "    a kernel 3 deep has no position inside an input 1 deep; padding 1 on each side makes it 3")

# %% Beyond the notes: check the size formula against real Conv2d layers over a sweep
# Small non-square inputs keep this fast and test height and width separately. A configuration the
# formula says is impossible (size < 1) counts as a match only if the real layer refuses it too.
sweep = SWEEP_QUICK if args.quick else SWEEP_FULL
formula_cases = formula_matches = impossible_cases = 0
for (sweep_h, sweep_w), kernel, stride, padding, dilation in itertools.product(
        sweep["inputs"], sweep["kernels"], sweep["strides"], sweep["paddings"], sweep["dilations"]):
    sweep_layer = nn.Conv2d(1, 1, kernel, stride, padding, dilation).to(device)
    predicted = [conv_output_size(size, kernel, stride, padding, dilation) for size in (sweep_h, sweep_w)]
    try:
        with torch.no_grad():
            actual = list(sweep_layer(torch.zeros(1, 1, sweep_h, sweep_w, device=device)).shape[-2:])
    except RuntimeError:
        actual = None  # PyTorch refused: no position for the kernel
    possible = min(predicted) >= 1
    impossible_cases += not possible
    formula_cases += 1
    matched = actual == predicted if possible else actual is None
    formula_matches += matched
    if not matched:
        print(f"  MISMATCH {sweep_layer} on {sweep_h}×{sweep_w}: formula {predicted}, layer {actual}")
print(f"Formula sweep: {formula_matches}/{formula_cases} Conv2d configurations match the formula "
      f"({impossible_cases} impossible ones refused by PyTorch, as the formula says)")
record("formula_matches", formula_matches, headline=True)

# %% Figure: the Conv2d as three 2-D convolutions, one per colour channel, summed, plus the bias
channel_outputs = [feature_map(output) for output in per_channel]
output_limit = signed_limit(*channel_outputs, feature_map(img_conv))  # one scale for the whole row
kernel_values = conv_layer.weight.detach().cpu()[0].numpy()  # (3, 3, 3): one 3×3 kernel per input channel
kernel_limit = 1.6 * np.abs(kernel_values).max()  # the darkest cells stay light enough for black text
fig, axes = plt.subplots(3, 4, figsize=(12, 9.6), layout="constrained")
for channel, channel_name in enumerate(("R", "G", "B")):
    axes[0, channel].imshow(img_tensor[0, channel].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0, channel].set_title(f"input channel {channel_name}")
    draw_value_grid(axes[1, channel], kernel_values[channel], f"its 3×3 kernel: weight[0, {channel}]",
                    decimals=2, vmax=kernel_limit, signed=True, fontsize=11)
    draw_signed(fig, axes[2, channel], per_channel[channel], f"conv2d({channel_name}, kernel)",
                limit=output_limit, colorbar=False)
axes[0, 3].imshow(img)
axes[0, 3].set_title(f"input {tuple(img_tensor.shape)}")
axes[1, 3].text(0.5, 0.5, f"sum of the three,\nplus the bias\nb = {conv_layer.bias.item():.3f}",
                ha="center", va="center", fontsize=13, transform=axes[1, 3].transAxes)
output_image = draw_signed(fig, axes[2, 3], img_conv, f"= Conv2d(3, 1, 3) output\n{tuple(img_conv.shape)}",
                           limit=output_limit, colorbar=False)
fig.colorbar(output_image, ax=axes[2, :].tolist(), fraction=0.015, pad=0.02)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("A 3-channel convolution = one 2-D convolution per channel, summed, plus the bias\n"
             f"(purple < 0 < orange; colour limits ±{output_limit:.2f}, the 99th percentile of |output|)")
save_figure(fig, args.out_dir, "convolution", photo=True, show=args.show,
            caption="The notes' Conv2d(3, 1, 3) on the photo, taken apart: each colour channel convolved "
                    "with its own 3×3 kernel, the three results summed plus the bias give the layer's output.")

# %% Figure: padding_mode and dilation on small grids, every value visible
padded = {mode: (F.pad(PADDING_DEMO, (1, 1, 1, 1)) if mode == "zeros"
                 else F.pad(PADDING_DEMO, (1, 1, 1, 1), mode=mode))[0, 0] for mode in PADDING_MODES}
fig, axes = plt.subplot_mosaic([list("zzzrrrpppccc"), list("aaaaaabbbbbb")], figsize=(12, 8), layout="constrained")
for key, mode in zip("zrpc", PADDING_MODES):
    ax = axes[key]
    ax.imshow(np.zeros((6, 6)), cmap="Greys", vmin=0, vmax=1)
    ax.add_patch(plt.Rectangle((0.5, 0.5), 4, 4, fill=False, lw=2.5, edgecolor=ORANGE))  # the real input
    for (row, col), value in np.ndenumerate(padded[mode].numpy()):
        inside = 1 <= row <= 4 and 1 <= col <= 4
        ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=10,
                color=BLACK if inside else GREY, fontweight="normal" if inside else "bold")
    ax.add_patch(plt.Rectangle((-0.45, -0.45), 2.9, 2.9, fill=False, lw=2, ls="--", edgecolor=BLUE))
    ax.set_title(f"padding_mode='{mode}'\ncorner output {padding_corner[mode]:g}")
    ax.axis("off")
for key, dilation in zip("ab", (1, 2)):
    field = receptive_fields[dilation]
    axes[key].imshow(np.array(field["map"]), cmap="Oranges", vmin=0, vmax=1.5)
    axes[key].set_title(f"Conv2d(1, 1, 3, dilation={dilation}): one output pixel sees\n"
                        f"{field['pixels']} input pixels spread over {field['span']}×{field['span']}")
    axes[key].set_xticks(range(PROBE_SIDE))
    axes[key].set_yticks(range(PROBE_SIDE))
    axes[key].set_xticks(np.arange(PROBE_SIDE + 1) - 0.5, minor=True)  # a line between pixels
    axes[key].set_yticks(np.arange(PROBE_SIDE + 1) - 0.5, minor=True)
    axes[key].grid(which="minor", color=GREY, lw=0.5)
    axes[key].tick_params(which="minor", length=0)
    axes[key].set(xlabel="input column", ylabel="input row")
fig.suptitle("Top: the 4×4 input 0 … 15 (orange frame) padded by 1 in each padding_mode (grey ring);\n"
             "blue dashes: the window summed into the corner output by a 3×3 kernel of ones.\n"
             "Bottom: where one output pixel looks (gradient ≠ 0), without and with dilation")
save_figure(fig, args.out_dir, "conv_parameters", show=args.show,
            caption="padding_mode decides what fills the border ring; dilation spreads the same 9 kernel "
                    "taps over a wider field, measured by autograd.")

print(f"Summary: {tuple(img_tensor.shape)} -> Conv2d {tuple(img_conv.shape)}, Conv3d {tuple(img_conv3d.shape)}; "
      f"per-channel sum matches to {channel_sum_difference:.0e}; the size formula matches "
      f"{formula_matches}/{formula_cases} real layers. Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `conv-by-hand` (the course's: a convolution by hand, without and with padding),
# `conv3d-shape` (the course's: Conv3d over the photo and its depth padding).
# Read one with `python tools/exercises.py show conv-by-hand`; hand in your answer with
# `python tools/exercises.py check conv-by-hand "..."`.
