# %% [markdown]
"""Transposed convolution (转置卷积): a convolution as a matrix C, its transpose Cᵀ, and nn.ConvTranspose2d.

The notes' explanation, computed: a 3×3 kernel on a 4×4 input (padding 0, stride 1) is the 4×16
matrix C times the flattened input (16 values -> 4, reshaped 2×2). The transposed convolution is
Cᵀ (16×4): it takes a 2×2 back to 4×4, the input's shape but not its values, which is why the notes
ask not to call it 反卷积 (deconvolution). Both products are checked against F.conv2d and
F.conv_transpose2d with the same kernel. Then the notes' ConvTranspose2d(3, 1, 3, stride=2)
upsamples the photo, its output-size formula is checked over a sweep of real layers, and the
checkerboard pattern of its output is counted.

    python lesson_layers/02_transposed_convolution.py
    python lesson_layers/02_transposed_convolution.py --image my_photo.jpg

A good breakpoint: the line `conv_by_matrix = ...`; look at conv_matrix (4, 16) next to kernel:
each row is the kernel laid out at one output position, zeros elsewhere.
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
from tools.figures import BLACK, DIVERGING_CMAP, GREY, draw_value_grid, save_figure
from tools.metrics import record
from tools.photo import add_image_flag, draw_signed, feature_map, load_photo, signed_limit

SWEEP_FULL = dict(inputs=[(7, 10), (8, 8), (5, 13)], kernels=(1, 2, 3, 5), strides=(1, 2, 3),
                  paddings=(0, 1, 2), dilations=(1, 2))  # 468 configurations with their output paddings
SWEEP_QUICK = dict(inputs=[(7, 10), (5, 13)], kernels=(1, 3, 5), strides=(1, 2, 3), paddings=(0, 2),
                   dilations=(1, 2))  # 156 configurations

parser = lesson_parser("lesson_layers/02_transposed_convolution.py", __doc__, default_seed=3,
                       quick="156 instead of 468 layer configurations in the formula sweep")
MIN_SIDE = 2  # the close-up of the checkerboard needs one input pixel inside each border
add_image_flag(parser, min_side=MIN_SIDE)
args = start_lesson(parser)
device = args.device

INPUT_SIDE, KERNEL_SIDE = 4, 3  # the notes' example: 4×4 input, 3×3 kernel, padding 0, stride 1
OUTPUT_SIDE = INPUT_SIDE - KERNEL_SIDE + 1  # 2
CLOSE_UP_SIDE = 16  # input pixels per side of the checkerboard close-up (32 output pixels)
TOLERANCE = 1e-5  # float32 rounding of two ways of summing the same nine products


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                               dilation: int = 1, output_padding: int = 0) -> int:
    """(H − 1)s − 2p + d(k − 1) + output_padding + 1: the convolution's size formula run backwards."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


# %% The convolution as a matrix: C (4, 16) times the flattened 4×4 input
def conv_as_matrix(kernel: torch.Tensor, input_side: int) -> torch.Tensor:
    """The (out², in²) matrix C of a k×k kernel on an in×in input (padding 0, stride 1).

    Row r is output pixel r = (out_row, out_col); it holds kernel[k_row, k_col] at the column of
    input pixel (out_row + k_row, out_col + k_col), zeros elsewhere.
    """
    kernel_side = kernel.shape[0]
    output_side = input_side - kernel_side + 1
    matrix = torch.zeros(output_side ** 2, input_side ** 2, device=kernel.device)
    for out_row, out_col, k_row, k_col in itertools.product(range(output_side), range(output_side),
                                                            range(kernel_side), range(kernel_side)):
        matrix[out_row * output_side + out_col,
               (out_row + k_row) * input_side + (out_col + k_col)] = kernel[k_row, k_col]
    return matrix


image_small = torch.randn(INPUT_SIDE, INPUT_SIDE).to(device)  # (4, 4)
kernel = torch.randn(KERNEL_SIDE, KERNEL_SIDE).to(device)  # (3, 3)
conv_matrix = conv_as_matrix(kernel, INPUT_SIDE)  # (4, 16): one row per output pixel
conv_by_matrix = (conv_matrix @ image_small.flatten()).reshape(OUTPUT_SIDE, OUTPUT_SIDE)  # 16 -> 4 -> (2, 2)
conv_by_torch = F.conv2d(image_small.view(1, 1, INPUT_SIDE, INPUT_SIDE),
                         kernel.view(1, 1, KERNEL_SIDE, KERNEL_SIDE))[0, 0]  # (2, 2)
conv_difference = (conv_by_matrix - conv_by_torch).abs().max().item()
print(f"C {tuple(conv_matrix.shape)} @ input.flatten() {tuple(image_small.flatten().shape)} -> "
      f"{tuple(conv_by_matrix.flatten().shape)}, reshaped {tuple(conv_by_matrix.shape)}; "
      f"vs F.conv2d: max |difference| {conv_difference:.1e}")
record("conv_as_matrix_max_abs_difference", conv_difference, headline=True)

# %% The transposed convolution: Cᵀ (16, 4) takes a 2×2 back to 4×4
small_output = torch.randn(OUTPUT_SIDE, OUTPUT_SIDE).to(device)  # (2, 2)
transposed_by_matrix = (conv_matrix.T @ small_output.flatten()).reshape(INPUT_SIDE, INPUT_SIDE)  # 4 -> 16 -> (4, 4)
transposed_by_torch = F.conv_transpose2d(small_output.view(1, 1, OUTPUT_SIDE, OUTPUT_SIDE),
                                         kernel.view(1, 1, KERNEL_SIDE, KERNEL_SIDE))[0, 0]  # (4, 4)
transposed_difference = (transposed_by_matrix - transposed_by_torch).abs().max().item()
print(f"Cᵀ {tuple(conv_matrix.T.shape)} @ a 2×2 flattened {tuple(small_output.flatten().shape)} -> "
      f"{tuple(transposed_by_matrix.flatten().shape)}, reshaped {tuple(transposed_by_matrix.shape)}; "
      f"vs F.conv_transpose2d: max |difference| {transposed_difference:.1e}")
record("transposed_as_matrix_max_abs_difference", transposed_difference, headline=True)
# Cᵀ restores the shape, not the values: it is not the inverse of C (a 4×16 matrix has none).
round_trip = (conv_matrix.T @ (conv_matrix @ image_small.flatten())).reshape(INPUT_SIDE, INPUT_SIDE)
round_trip_difference = (round_trip - image_small).abs().max().item()
print(f"Cᵀ(C · input) has the input's shape {tuple(round_trip.shape)} but not its values "
      f"(max |difference| {round_trip_difference:.2f}): transposed, not inverse, so not 反卷积")
for name, difference in (("convolution", conv_difference), ("transposed convolution", transposed_difference)):
    if difference > TOLERANCE:
        print(f"  WARNING: the {name} as a matrix differs from PyTorch's by more than {TOLERANCE:g}")

# %% Data: the photo as a (1, 3, H, W) tensor, as the notes build it
photo = load_photo(args.image, min_side=MIN_SIDE)
print(f"Photo: {photo.source}")
record("image_source", photo.source)
img = photo.image  # an RGB PIL image, values 0 … 255
img_tensor = transforms.ToTensor()(img)  # (3, H, W) float32 in [0, 1]
img_tensor.unsqueeze_(dim=0)  # (1, 3, H, W): C×H×W to B×C×H×W
img_tensor = img_tensor.to(device)
_, _, height, width = img_tensor.shape

# %% nn.ConvTranspose2d: stride 2 makes the output about twice as large (the notes' upsampling)
conv_transpose_layer = nn.ConvTranspose2d(3, 1, 3, stride=2)  # weight (in, out, kH, kW) = (3, 1, 3, 3)
nn.init.xavier_normal_(conv_transpose_layer.weight)
conv_transpose_layer.to(device)
img_conv_transpose = conv_transpose_layer(img_tensor)  # (1, 1, 1025, 1025): (512 − 1)·2 + 3
print(f"卷积前尺寸:{img_tensor.shape}\n卷积后尺寸:{img_conv_transpose.shape}")  # the notes' print
transpose_predicted = [conv_transpose_output_size(size, 3, stride=2) for size in (height, width)]
print(f"  formula (H − 1)s − 2p + d(k − 1) + output_padding + 1 with k=3, s=2: "
      f"{transpose_predicted[0]}×{transpose_predicted[1]}")
print(f"  weight shape {tuple(conv_transpose_layer.weight.shape)}: (in_channels, out_channels, kH, kW), "
      "the transpose of Conv2d's (out, in, kH, kW)")
record("conv_transpose_shape", list(img_conv_transpose.shape), headline=True)

# %% Beyond the notes: check the size formula against real ConvTranspose2d layers over a sweep
sweep = SWEEP_QUICK if args.quick else SWEEP_FULL
formula_cases = formula_matches = 0
for (sweep_h, sweep_w), kernel_size, stride, padding, dilation in itertools.product(
        sweep["inputs"], sweep["kernels"], sweep["strides"], sweep["paddings"], sweep["dilations"]):
    for output_padding in range(max(stride, dilation)):  # PyTorch requires output_padding < max(s, d)
        sweep_layer = nn.ConvTranspose2d(1, 1, kernel_size, stride, padding, output_padding,
                                         dilation=dilation).to(device)
        predicted = [conv_transpose_output_size(size, kernel_size, stride, padding, dilation, output_padding)
                     for size in (sweep_h, sweep_w)]
        with torch.no_grad():
            actual = list(sweep_layer(torch.zeros(1, 1, sweep_h, sweep_w, device=device)).shape[-2:])
        formula_cases += 1
        formula_matches += actual == predicted
        if actual != predicted:
            print(f"  MISMATCH {sweep_layer} on {sweep_h}×{sweep_w}: formula {predicted}, layer {actual}")
print(f"Formula sweep: {formula_matches}/{formula_cases} ConvTranspose2d configurations match the formula")

# %% The checkerboard: count how many kernel patches reach each output pixel
# Each input pixel paints a k×k patch of the output, the patches laid every s pixels. A
# ConvTranspose2d with every weight 1 on an input of ones outputs exactly that count.
overlap_patterns = {}
for kernel_size in (3, 4):
    overlap_layer = nn.ConvTranspose2d(1, 1, kernel_size, stride=2, bias=False).to(device)
    nn.init.ones_(overlap_layer.weight)
    with torch.no_grad():
        overlap_patterns[kernel_size] = overlap_layer(torch.ones(1, 1, 6, 6, device=device))[0, 0].cpu()
interior_pattern = overlap_patterns[3][2:4, 2:4]  # one 2×2 period away from the border
interior_pattern_even = overlap_patterns[4][2:4, 2:4]
print(f"Patches per output pixel, stride 2, one period inside: kernel 3 {interior_pattern.int().tolist()} "
      f"(uneven: a checkerboard), kernel 4 {interior_pattern_even.int().tolist()} (even)")

# %% Figure: C built from the kernel, and both products
# Every cell the same size in the bottom row: a 2×2 is drawn half as wide as a 4×4.
fig, axes = plt.subplot_mosaic([["C"] * 17, list("kkkxxxx.ccyy.tttt")], figsize=(12, 6.8), layout="constrained",
                               height_ratios=[1, 1])
kernel_cpu = kernel.cpu()
weight_limit = 1.6 * kernel_cpu.abs().max().item()  # the darkest cells stay light enough for black text
matrix_cpu = conv_matrix.cpu().numpy()
axes["C"].imshow(matrix_cpu, cmap=DIVERGING_CMAP, vmin=-weight_limit, vmax=weight_limit)
# The same construction on a kernel of tap numbers 1 … 9 says which tap sits in each cell of C.
taps = conv_as_matrix(torch.arange(1, KERNEL_SIDE ** 2 + 1, dtype=torch.float).view(KERNEL_SIDE, KERNEL_SIDE),
                      INPUT_SIDE).int() - 1  # (4, 16): tap index, −1 where C is 0
for (row, col), tap in np.ndenumerate(taps.numpy()):
    if tap >= 0:
        axes["C"].text(col, row, f"w{tap // KERNEL_SIDE}{tap % KERNEL_SIDE}", ha="center", va="center",
                       fontsize=9)
    else:
        axes["C"].text(col, row, "0", ha="center", va="center", fontsize=9, color=GREY)
axes["C"].set_xticks(range(INPUT_SIDE ** 2))
axes["C"].set_yticks(range(OUTPUT_SIDE ** 2))
axes["C"].set(xlabel="input pixel (flattened 4×4: row·4 + column)", ylabel="output pixel")
axes["C"].set_title(f"C {tuple(conv_matrix.shape)}: each row is the 3×3 kernel laid over the flattened "
                    "input at one output position")
panels = [("k", kernel_cpu, "kernel w", True),
          ("x", image_small.cpu(), "input (4×4)", False),
          ("c", conv_by_matrix.cpu(), f"C · input\n= conv2d\n|diff| {conv_difference:.0e}", False),
          ("y", small_output.cpu(), "a 2×2", False),
          ("t", transposed_by_matrix.cpu(), f"Cᵀ · (2×2) = conv_transpose2d\n|diff| {transposed_difference:.0e}",
           False)]
for key, values, title, label_taps in panels:
    values = values.numpy()
    limit = 1.6 * np.abs(values).max()
    axes[key].imshow(values, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
    for (row, col), value in np.ndenumerate(values):
        text = f"w{row}{col}\n{value:.2f}" if label_taps else f"{value:.2f}"
        axes[key].text(col, row, text, ha="center", va="center", fontsize=9, color=BLACK)
    axes[key].set_title(title, fontsize=10)
    axes[key].axis("off")
fig.suptitle("A convolution is a matrix product; the transposed convolution multiplies by its transpose")
save_figure(fig, args.out_dir, "conv_matrix", show=args.show,
            caption="The 4×16 matrix C of a 3×3 kernel on a 4×4 input: C times the flattened input is the "
                    "convolution (2×2), Cᵀ times a 2×2 is the transposed convolution (4×4).")

# %% Figure: the transposed convolution's output on the photo, and a close-up of its checkerboard
side = min(CLOSE_UP_SIDE, height - 1, width - 1)  # input pixels per side of the close-up
top, left = (height - side) // 2, (width - side) // 2
transpose_crop = img_conv_transpose[0, 0, 2 * top:2 * (top + side), 2 * left:2 * (left + side)]
output_limit = signed_limit(feature_map(img_conv_transpose))
fig, axes = plt.subplots(1, 2, figsize=(12, 5.8), layout="constrained")
draw_signed(fig, axes[0], img_conv_transpose,
            f"ConvTranspose2d(3, 1, 3, stride=2)\n{tuple(img_tensor.shape)} -> {tuple(img_conv_transpose.shape)}",
            limit=output_limit)
draw_signed(fig, axes[1], transpose_crop, f"close-up: {2 * side}×{2 * side} output pixels at the centre\n"
                                          "rows and columns alternate: the checkerboard",
            limit=output_limit, interpolation="nearest")
fig.suptitle(f"The notes' upsampling, as raw floats (purple < 0 < orange, limits ±{output_limit:.2f}: "
             "the 99th percentile of |output|)")
save_figure(fig, args.out_dir, "conv_transpose", photo=True, show=args.show,
            caption="The notes' ConvTranspose2d doubles the photo's size; the close-up shows the "
                    "checkerboard that uneven patch overlaps leave.")

# %% Figure: why the checkerboard: patches per output pixel, kernel 3 vs kernel 4, stride 2
fig, axes = plt.subplots(1, 2, figsize=(12, 7), layout="constrained")
for ax, (kernel_size, counts) in zip(axes, overlap_patterns.items()):
    draw_value_grid(ax, counts, f"kernel {kernel_size}, stride 2: "
                    f"{'4, 2, 2, 1 repeating' if kernel_size == 3 else 'all 4 inside'}",
                    cmap="Blues", vmax=2 * counts.max().item(), fontsize=9)
    ax.set(xlabel="output column", ylabel="output row")
fig.suptitle("How many 3×3 (left) or 4×4 (right) patches reach each output pixel (6×6 input of ones):\n"
             "a kernel not divisible by the stride overlaps unevenly, and the output alternates")
save_figure(fig, args.out_dir, "checkerboard", show=args.show,
            caption="Patches per output pixel of a stride-2 transposed convolution: uneven with kernel 3 "
                    "(the checkerboard), even with kernel 4.")

print(f"Summary: C {tuple(conv_matrix.shape)} and Cᵀ match F.conv2d / F.conv_transpose2d to "
      f"{max(conv_difference, transposed_difference):.0e}; ConvTranspose2d {tuple(img_tensor.shape)} -> "
      f"{tuple(img_conv_transpose.shape)}; the size formula matches {formula_matches}/{formula_cases} real "
      f"layers. Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `transposed-size` (the size after a transposed convolution).
# Read one with `python tools/exercises.py show transposed-size`; hand in your answer with
# `python tools/exercises.py check transposed-size "..."`.
