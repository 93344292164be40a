"""Convolution on a real photo: Conv2d, ConvTranspose2d (transposed convolution) and Conv3d.

A convolution slides a small kernel over the input and sums the products at every position: each
output pixel sees only a k×k neighbourhood (local connections), and the same kernel is used
everywhere (shared weights). Here the notes' three layers run on a 512×512 photo, each shape is
printed before and after, the outputs are drawn as they really are (floats, in their own range),
and the output-size formulas are checked against real PyTorch layers over a sweep of kernel, stride,
padding and dilation (notes: nn.Conv2d and nn.ConvTranspose2d in the convolution layers
lesson).

    python lesson_layers/01_convolution.py                      # the notes' photo: 512×512
    python lesson_layers/01_convolution.py --image my_photo.jpg # any picture, not cropped

Output size (per spatial axis; k kernel, s stride, p padding, d dilation):
    Conv:       H_out = ⌊(H + 2p − d(k − 1) − 1) / s⌋ + 1
    Transposed: H_out = (H − 1)s − 2p + d(k − 1) + output_padding + 1,  output_padding < max(s, d)

Expect (seed 3, the built-in photo):
    input                                         (1, 3, 512, 512)
    Conv2d(3, 1, 3), xavier_normal weights     -> (1, 1, 510, 510)
    ConvTranspose2d(3, 1, 3, stride=2)         -> (1, 1, 1025, 1025)
    Conv3d(3, 1, (1, 3, 3), padding=(1, 0, 0)) on (1, 3, 1, 512, 512) -> (1, 1, 3, 510, 510)
The Conv3d's depth padding adds an empty slice before and after the photo; its kernel is one slice
deep, so output slices 0 and 2 see only padding and hold nothing but the bias. The formula sweep
checks 684 layer configurations, 66 with --quick (and whether the layer refuses those the formula
says are impossible): all match.

Why the transposed convolution draws a checkerboard: each input pixel paints a 3×3 patch of the
output, and the patches are laid every 2 pixels (stride 2). 3 is not a multiple of 2, so
neighbouring patches overlap by one row and one column: an even output row receives two patches,
an odd row one. In 2-D that gives 4, 2, 2 and 1 contributions in a repeating 2×2 pattern, and with
any kernel whose taps differ the output's brightness alternates pixel by pixel. checkerboard.png
shows a close-up of the photo's output next to the count of patches that reach each pixel.
(A kernel size divisible by the stride, e.g. 4 with stride 2, overlaps evenly.)

Writes to outputs/lesson_layers/01_convolution/: convolution.png (input, Conv2d and ConvTranspose2d
outputs, the three Conv3d depth slices, each raw output scaled to its own range with a colour bar),
checkerboard.png (the close-up) and metrics.json (every printed shape, the formula sweep's
formula_cases and formula_matches, the Conv3d bias slices).

A good breakpoint: the `img_conv = conv_layer(img_tensor)` line; step over it and compare
img_tensor.shape with img_conv.shape, and look at conv_layer.weight.shape: (out, in, k, k).
"""
# %%
import sys
from pathlib import Path

# The repo root goes first on sys.path so that `tools` is this collection's own, from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from tools.cli import lesson_parser, parse_lesson_args
from tools.figures import save_figure
from tools.metrics import write_metrics
from tools.photo import add_image_flag, feature_map, load_photo, photo_to_tensor
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=3)
add_image_flag(parser)
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)
device = args.device

FEATURE_CMAP = "gray"  # raw outputs: a colour map scaled to the output's own min and max
CLOSE_UP_SIDE = 16  # input pixels per side in the checkerboard close-up (32 output pixels)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """⌊(H + 2p − d(k − 1) − 1) / s⌋ + 1: how many positions the dilated kernel fits in."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                               dilation: int = 1, output_padding: int = 0) -> int:
    """(H − 1)s − 2p + d(k − 1) + output_padding + 1: the convolution's size formula run backwards."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def shape_list(tensor: torch.Tensor) -> list:
    return list(tensor.shape)


# %% Data: the photo as a (1, 3, H, W) tensor, as the notes build it
photo = load_photo(args.image, min_side=3)  # a 3×3 kernel needs at least 3×3 pixels
print(f"Photo: {photo.source}")
img_tensor = photo_to_tensor(photo.image).to(device)  # (1, 3, 512, 512) for the built-in photo
_, _, height, width = img_tensor.shape

# %% Conv2d: 3 input channels -> 1 output channel, 3×3 kernel, stride 1, no padding
# Layers are built and initialised on the CPU, then moved: every device gets the same weights.
conv_layer = nn.Conv2d(3, 1, 3)  # weight (1, 3, 3, 3): (out, in, kH, kW)
nn.init.xavier_normal_(conv_layer.weight.data)
conv_layer.to(device)
img_conv = conv_layer(img_tensor)  # (1, 1, 510, 510): 512 − 3 + 1
conv_predicted = [conv_output_size(height, 3), conv_output_size(width, 3)]
print(f"Conv2d(3, 1, 3):                 before {tuple(img_tensor.shape)}  after {tuple(img_conv.shape)}"
      f"  (formula: {conv_predicted[0]}×{conv_predicted[1]})")
outside_unit = ((img_conv < 0) | (img_conv > 1)).float().mean().item()
print(f"  its values lie in [{img_conv.min().item():.3f}, {img_conv.max().item():.3f}]; "
      f"{outside_unit:.1%} of them are outside [0, 1], which a uint8 picture would clip")

# %% ConvTranspose2d: stride 2 makes the output about twice as large (the notes' "upsampling")
conv_transpose_layer = nn.ConvTranspose2d(3, 1, 3, stride=2)  # weight (in, out, kH, kW) = (3, 1, 3, 3)
nn.init.xavier_normal_(conv_transpose_layer.weight.data)
conv_transpose_layer.to(device)
img_conv_transpose = conv_transpose_layer(img_tensor)  # (1, 1, 1025, 1025): (512 − 1)·2 + 3
transpose_predicted = [conv_transpose_output_size(height, 3, stride=2),
                       conv_transpose_output_size(width, 3, stride=2)]
print(f"ConvTranspose2d(3, 1, 3, s=2):   before {tuple(img_tensor.shape)}  after "
      f"{tuple(img_conv_transpose.shape)}  (formula: {transpose_predicted[0]}×{transpose_predicted[1]})")

# %% Conv3d: add a depth axis, then a kernel 1 deep and 3×3 wide, padding 1 along depth only
img_tensor_3d = img_tensor.unsqueeze(dim=2)  # (1, 3, 1, 512, 512): (N, C, D, H, W)
conv3d_layer = nn.Conv3d(3, 1, (1, 3, 3), padding=(1, 0, 0))  # weight (1, 3, 1, 3, 3)
nn.init.xavier_normal_(conv3d_layer.weight.data)
conv3d_layer.to(device)
img_conv3d = conv3d_layer(img_tensor_3d)  # (1, 1, 3, 510, 510): depth 1 + 2·1 − 1 + 1 = 3
conv3d_predicted = [conv_output_size(1, 1, padding=1), conv_output_size(height, 3), conv_output_size(width, 3)]
print(f"Conv3d(3, 1, (1, 3, 3), p=(1, 0, 0)): before {tuple(img_tensor_3d.shape)}  after "
      f"{tuple(img_conv3d.shape)}  (formula: {'×'.join(map(str, conv3d_predicted))})")
# The kernel is one slice deep: output slices 0 and 2 see only the zero padding, so they are the bias.
conv3d_bias = conv3d_layer.bias.item()
padding_slices_are_bias = all(
    (img_conv3d[0, 0, depth] - conv3d_bias).abs().max().item() < 1e-6 for depth in (0, 2))
print(f"  depth slices 0 and 2 are the bias {conv3d_bias:.4f} everywhere: {padding_slices_are_bias}")

# %% Beyond the notes: check both size formulas against real layers over a sweep
# Small non-square inputs keep this fast and test height and width separately. A configuration the
# formula says is impossible (size < 1) counts as a match only if the real layer refuses it too.
if args.quick:
    sweep_inputs, kernels, strides, paddings, dilations = [(7, 10)], (1, 3, 5), (1, 2), (0, 1), (1, 2)
else:
    sweep_inputs, kernels, strides, paddings, dilations = [(7, 10), (8, 8), (5, 13)], (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)


def real_output_size(layer: nn.Module, sweep_input: torch.Tensor):
    """The layer's (H_out, W_out), or None if PyTorch refuses the configuration."""
    try:
        with torch.no_grad():
            return list(layer(sweep_input).shape[-2:])
    except RuntimeError:
        return None


formula_cases = formula_matches = impossible_cases = 0
mismatches = []
for (sweep_h, sweep_w), kernel, stride, padding, dilation in itertools.product(
        sweep_inputs, kernels, strides, paddings, dilations):
    sweep_input = torch.zeros(1, 1, sweep_h, sweep_w, device=device)  # (1, 1, H, W)
    layers_and_predictions = [(
        nn.Conv2d(1, 1, kernel, stride, padding, dilation),
        [conv_output_size(size, kernel, stride, padding, dilation) for size in (sweep_h, sweep_w)],
    )]
    for output_padding in range(max(stride, dilation)):  # PyTorch requires output_padding < max(s, d)
        layers_and_predictions.append((
            nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding, dilation=dilation),
            [conv_transpose_output_size(size, kernel, stride, padding, dilation, output_padding)
             for size in (sweep_h, sweep_w)],
        ))
    for layer, predicted in layers_and_predictions:
        actual = real_output_size(layer.to(device), sweep_input)
        possible = min(predicted) >= 1
        impossible_cases += not possible
        matched = actual == predicted if possible else actual is None
        formula_cases += 1
        formula_matches += matched
        if not matched:
            mismatches.append(f"{layer} on {sweep_h}×{sweep_w}: formula {predicted}, layer {actual}")

print(f"Formula sweep: {formula_matches}/{formula_cases} layer configurations match the formulas "
      f"({impossible_cases} of them impossible, and refused by PyTorch as the formula says)")
for mismatch in mismatches[:5]:
    print(f"  MISMATCH {mismatch}")

# %% The checkerboard: count how many kernel patches reach each output pixel
# A ConvTranspose2d with every weight 1 on an input of ones outputs exactly that count.
overlap_layer = nn.ConvTranspose2d(1, 1, 3, stride=2, bias=False).to(device)
nn.init.ones_(overlap_layer.weight)
with torch.no_grad():
    overlap_counts = overlap_layer(torch.ones(1, 1, 6, 6, device=device))  # (1, 1, 13, 13)
interior_pattern = overlap_counts[0, 0, 2:4, 2:4]  # one 2×2 period away from the border
print(f"Patches per output pixel (stride 2, kernel 3), one period inside: {interior_pattern.tolist()}")

# %% Figure: the input and every output, drawn as raw floats in their own range
plt.rcParams.update({"axes.titlesize": 10})


def draw_feature(ax, tensor, title, vmin=None, vmax=None):
    """imshow of a 1-channel output with its colour bar: the real values, not a clipped uint8."""
    values = feature_map(tensor)
    image = ax.imshow(values, cmap=FEATURE_CMAP, vmin=vmin, vmax=vmax)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    ax.set_title(title)
    ax.axis("off")


# Margins set by hand rather than by layout="constrained": the same look, a second faster to draw.
fig, axes = plt.subplots(2, 3, figsize=(13, 9.4))
fig.subplots_adjust(left=0.01, right=0.97, bottom=0.01, top=0.88, wspace=0.15, hspace=0.22)
axes[0, 0].imshow(photo.image)
axes[0, 0].set_title(f"input {tuple(img_tensor.shape)}")
axes[0, 0].axis("off")
draw_feature(axes[0, 1], img_conv, f"Conv2d(3, 1, 3) → {tuple(img_conv.shape)}")
draw_feature(axes[0, 2], img_conv_transpose,
             f"ConvTranspose2d(3, 1, 3, stride=2)\n→ {tuple(img_conv_transpose.shape)}")
# The three Conv3d depth slices share one colour scale (the photo slice's), so the bias-only
# slices show as one flat colour at the bias value.
photo_slice = img_conv3d[0, 0, 1]
low, high = min(photo_slice.min().item(), conv3d_bias), max(photo_slice.max().item(), conv3d_bias)
for depth in range(img_conv3d.shape[2]):
    what = "the photo" if depth == 1 else f"only padding: bias {conv3d_bias:.3f}"
    draw_feature(axes[1, depth], img_conv3d[0, 0, depth],
                 f"Conv3d output {tuple(img_conv3d.shape)}\ndepth slice {depth}: {what}", low, high)
    if depth != 1:
        axes[1, depth].text(0.5, 0.5, f"every pixel = bias\n{conv3d_bias:.4f}", ha="center", va="center",
                            fontsize=12, bbox={"facecolor": "white", "alpha": 0.8},
                            transform=axes[1, depth].transAxes)
fig.suptitle("Layer outputs as raw floats: each grey scale runs from the output's own min to max "
             "(colour bars), not through uint8")
save_figure(fig, args.out_dir, "convolution", show=args.show)

# %% Figure: a close-up of the transposed convolution's checkerboard
side = min(CLOSE_UP_SIDE, height - 2, width - 2)  # input pixels per side of the close-up
top, left = (height - side) // 2, (width - side) // 2
conv_crop = img_conv[0, 0, top:top + side, left:left + side]  # Conv2d: one output pixel per input pixel
transpose_crop = img_conv_transpose[0, 0, 2 * top:2 * (top + side), 2 * left:2 * (left + side)]

fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
fig.subplots_adjust(left=0.04, right=0.99, bottom=0.1, top=0.86, wspace=0.35)
for ax, crop, title in [
        (axes[0], conv_crop, f"Conv2d output, {side}×{side} close-up at the centre\n(no pattern: one kernel, same at every pixel)"),
        (axes[1], transpose_crop, f"ConvTranspose2d output, same region ({2 * side}×{2 * side})\n"
                                  "(checkerboard artifact: rows and columns alternate)")]:
    image = ax.imshow(feature_map(crop), cmap=FEATURE_CMAP, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    ax.set_title(title)
    ax.set(xlabel="column", ylabel="row")
counts = feature_map(overlap_counts)  # (13, 13) NumPy array
axes[2].imshow(counts, cmap="Blues", vmin=0, vmax=5, interpolation="nearest")
for row, col in itertools.product(range(counts.shape[0]), range(counts.shape[1])):
    axes[2].text(col, row, f"{counts[row, col]:.0f}", ha="center", va="center", fontsize=8)
axes[2].set_title("3×3 patches reaching each output pixel\n(stride 2, 6×6 input of ones: 4, 2, 2, 1 repeating)")
axes[2].set(xlabel="column", ylabel="row")
save_figure(fig, args.out_dir, "checkerboard", show=args.show)

# %% Metrics and summary
metrics = {
    "image_source": photo.source,
    "image_downscaled": photo.downscaled,
    "input_shape": shape_list(img_tensor),
    "conv2d_shape": shape_list(img_conv),
    "conv2d_predicted_hw": conv_predicted,
    "conv2d_weight_shape": shape_list(conv_layer.weight),
    "conv2d_fraction_outside_0_1": outside_unit,
    "conv_transpose_shape": shape_list(img_conv_transpose),
    "conv_transpose_predicted_hw": transpose_predicted,
    "conv_transpose_weight_shape": shape_list(conv_transpose_layer.weight),
    "conv3d_input_shape": shape_list(img_tensor_3d),
    "conv3d_shape": shape_list(img_conv3d),
    "conv3d_predicted_dhw": conv3d_predicted,
    "conv3d_bias": conv3d_bias,
    "conv3d_padding_slices_are_bias": padding_slices_are_bias,
    "formula_cases": formula_cases,
    "formula_matches": formula_matches,
    "formula_impossible_cases": impossible_cases,
    "overlap_interior_pattern": interior_pattern,
    "device": str(device),
}
write_metrics(args.out_dir, metrics)
print(f"Summary: {tuple(img_tensor.shape)} -> Conv2d {tuple(img_conv.shape)}, ConvTranspose2d "
      f"{tuple(img_conv_transpose.shape)}, Conv3d {tuple(img_conv3d.shape)}; size formulas match "
      f"{formula_matches}/{formula_cases} real layers. Outputs in {args.out_dir}")
