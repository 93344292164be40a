"""Pooling and unpooling: MaxPool2d, AvgPool2d, MaxUnpool2d, AdaptiveMaxPool2d, ceil_mode.

Pooling shrinks a feature map by summarising each window, here 2×2 with stride 2: max pooling
keeps the largest value of the four, average pooling their mean. It has no weights to learn; it
halves height and width, so the layers after it cost a quarter as much and see a wider region of
the input. Max unpooling puts each maximum back where it came from (the indices MaxPool2d can
return) and fills the rest with zeros (notes: nn.MaxPool2d, nn.AvgPool2d and nn.MaxUnpool2d in the
pooling, linear and activation layers lesson).

    python lesson_layers/02_pooling.py                       # the notes' photo: 512×512
    python lesson_layers/02_pooling.py --image my_photo.jpg  # any picture, not cropped

Output size: the convolution's, with the window as kernel (floor by default, ceil with ceil_mode):
    H_out = ⌊(H + 2p − d(k − 1) − 1) / s + 1⌋   (ceil_mode=True: ⌈…⌉, but a window must start
                                                  inside the input or its left padding)

Expect (seed 1, the built-in photo):
    MaxPool2d(2, 2) and AvgPool2d(2, 2): (1, 3, 512, 512) -> (1, 3, 256, 256)
    Does average pooling look darker? Measure it: the mean brightness of the average-pooled photo
    equals the original's (0.3310), because the mean of means of equal-sized windows is the mean;
    the max-pooled photo is brighter (0.3608), because it keeps the brightest of every four.
    So average pooling does not darken; next to max pooling it only looks darker.
    AvgPool2d(2, 2, divisor_override=3) on ones(1, 1, 4, 4): 4 / 3 = 1.3333 everywhere
    MaxUnpool2d with the indices of MaxPool2d(2, 2, return_indices=True) on randint(0, 5) 4×4:
        input [[0, 4, 4, 3], [3, 3, 1, 1], [4, 2, 3, 4], [1, 3, 3, 0]], pooled [[4, 4], [4, 4]],
        indices [[1, 2], [8, 11]] (flat positions in the 4×4 input), unpooled
        [[0, 4, 4, 0], [0, 0, 0, 0], [4, 0, 0, 4], [0, 0, 0, 0]]
    AdaptiveMaxPool2d((7, 7)): always 7×7, whatever the input; MaxPool2d(2, 2): always half
    ceil_mode on a 5×5 input, MaxPool2d(2, 2): 2×2 (the last row and column are dropped), with
    ceil_mode=True 3×3 (the last windows hang over the edge and take the max of what is inside)

Writes to outputs/lesson_layers/02_pooling/: pooling.png (the photo, max- and average-pooled, with
their mean brightness), unpooling.png (the 4×4 example: input, pooled with indices, unpooled),
windows.png (ceil_mode and adaptive windows drawn on a 5×5 input) and metrics.json (every shape,
the means, and the small tensors as nested lists).

A good breakpoint: the `img_pool, indices = maxpool_indices_layer(img_small)` line of the unpooling
cell; look at indices and find each one in img_small.flatten().

--quick changes nothing here: the whole lesson already takes about a second after the imports.
"""
# %%
import sys
from pathlib import Path

# The repo root goes first on sys.path so that `tools` is this collection's own, from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
from matplotlib.patches import Rectangle

from tools.cli import lesson_parser, parse_lesson_args
from tools.figures import save_figure
from tools.metrics import write_metrics
from tools.photo import add_image_flag, load_photo, photo_to_tensor, rgb_picture
from tools.seeding import set_seed

parser = lesson_parser(__file__, __doc__, default_seed=1)
add_image_flag(parser)
args = parse_lesson_args(parser)
set_seed(args.seed, args.deterministic)
device = args.device

ADAPTIVE_SIZE = (7, 7)  # what AlexNet's AdaptiveAvgPool2d uses before its classifier
# Nothing in this script draws a random number before the 4×4 randint of the unpooling cell, so the
# seed alone fixes it: with seed 1 it is the course's [[0, 4, 4, 3], [3, 3, 1, 1], ...].


def shape_list(tensor: torch.Tensor) -> list:
    return list(tensor.shape)


def small(tensor: torch.Tensor) -> list:
    """A (1, 1, h, w) tensor as the nested list [[...], ...] of its h×w values."""
    return tensor[0, 0].tolist()


# %% Data: the photo as a (1, 3, H, W) tensor
photo = load_photo(args.image, min_side=2)  # a 2×2 window needs at least 2×2 pixels
print(f"Photo: {photo.source}")
img_tensor = photo_to_tensor(photo.image).to(device)  # (1, 3, 512, 512) for the built-in photo

# %% MaxPool2d and AvgPool2d, 2×2 windows, stride 2
maxpool_layer = nn.MaxPool2d((2, 2), stride=(2, 2))
img_max = maxpool_layer(img_tensor)  # (1, 3, 256, 256): every window of four -> its largest
avgpool_layer = nn.AvgPool2d((2, 2), stride=(2, 2))
img_avg = avgpool_layer(img_tensor)  # (1, 3, 256, 256): every window of four -> its mean
print(f"MaxPool2d(2, 2): before {tuple(img_tensor.shape)}  after {tuple(img_max.shape)}")
print(f"AvgPool2d(2, 2): before {tuple(img_tensor.shape)}  after {tuple(img_avg.shape)}")

# Is the average-pooled photo darker? Compare mean brightness (all pixels, all channels, in [0, 1]).
photo_mean = img_tensor.mean().item()
max_mean = img_max.mean().item()
avg_mean = img_avg.mean().item()
print(f"Mean brightness: photo {photo_mean:.4f}, max-pooled {max_mean:.4f}, avg-pooled {avg_mean:.4f} "
      f"-> max pooling is brighter; average pooling keeps the photo's brightness")

# %% AvgPool2d with divisor_override: sum the window, divide by 3 instead of 4
img_ones = torch.ones((1, 1, 4, 4)).to(device)  # (1, 1, 4, 4)
avgpool_override = nn.AvgPool2d((2, 2), stride=(2, 2), divisor_override=3)
img_override = avgpool_override(img_ones)  # (1, 1, 2, 2): (1 + 1 + 1 + 1) / 3
print(f"AvgPool2d(2, 2, divisor_override=3) on ones(1, 1, 4, 4):\n{img_override[0, 0].cpu()}")

# %% MaxUnpool2d: put each maximum back where the indices say, zeros elsewhere
# The first random draw of the script: the course's 4×4 input (drawn on the CPU, then moved).
img_small = torch.randint(high=5, size=(1, 1, 4, 4), dtype=torch.float).to(device)  # (1, 1, 4, 4)
maxpool_indices_layer = nn.MaxPool2d((2, 2), stride=(2, 2), return_indices=True)
img_pool, indices = maxpool_indices_layer(img_small)  # both (1, 1, 2, 2); indices into the flat 4×4
maxunpool_layer = nn.MaxUnpool2d((2, 2), stride=(2, 2))
img_unpool = maxunpool_layer(img_pool, indices)  # (1, 1, 4, 4)
print(f"MaxUnpool2d:\ninput\n{img_small[0, 0].cpu()}\npooled\n{img_pool[0, 0].cpu()}\n"
      f"indices\n{indices[0, 0].cpu()}\nunpooled\n{img_unpool[0, 0].cpu()}")
# Unpooling is a partial inverse: the maxima come back in place, everything else is lost (zero).
unpool_keeps_maxima = bool(torch.equal(img_unpool.flatten()[indices.flatten()], img_pool.flatten()))

# %% AdaptiveMaxPool2d: give the output size, PyTorch picks the windows
adaptive_layer = nn.AdaptiveMaxPool2d(ADAPTIVE_SIZE)
img_adaptive = adaptive_layer(img_tensor)  # (1, 3, 7, 7) for any input size
# The same two layers on a smaller, non-square crop of the photo: MaxPool2d's output follows the
# input, AdaptiveMaxPool2d's does not.
crop_h, crop_w = max(img_tensor.shape[2] * 5 // 8, 2), max(img_tensor.shape[3] * 3 // 8, 2)
img_crop = img_tensor[:, :, :crop_h, :crop_w]  # (1, 3, 320, 192) for the built-in photo
print(f"AdaptiveMaxPool2d({ADAPTIVE_SIZE}): {tuple(img_tensor.shape)} -> {tuple(img_adaptive.shape)}, "
      f"{tuple(img_crop.shape)} -> {tuple(adaptive_layer(img_crop).shape)}")
print(f"MaxPool2d(2, 2):            {tuple(img_tensor.shape)} -> {tuple(img_max.shape)}, "
      f"{tuple(img_crop.shape)} -> {tuple(maxpool_layer(img_crop).shape)}")
# When the input divides evenly, adaptive pooling to half the size IS MaxPool2d(2, 2).
even_h, even_w = img_tensor.shape[2] // 2 * 2, img_tensor.shape[3] // 2 * 2
img_even = img_tensor[:, :, :even_h, :even_w]
adaptive_equals_maxpool = bool(torch.equal(nn.AdaptiveMaxPool2d((even_h // 2, even_w // 2))(img_even),
                                           maxpool_layer(img_even)))
print(f"AdaptiveMaxPool2d(({even_h // 2}, {even_w // 2})) equals MaxPool2d(2, 2) on "
      f"{even_h}×{even_w}: {adaptive_equals_maxpool}")

# %% ceil_mode: what happens to a row or column that a window only partly covers
img_five = torch.arange(25, dtype=torch.float).reshape(1, 1, 5, 5).to(device)  # (1, 1, 5, 5), 0 … 24
img_floor = nn.MaxPool2d(2, stride=2)(img_five)  # (1, 1, 2, 2): row 4 and column 4 never seen
img_ceil = nn.MaxPool2d(2, stride=2, ceil_mode=True)(img_five)  # (1, 1, 3, 3): edge windows are partial
img_adaptive_five = nn.AdaptiveMaxPool2d((2, 2))(img_five)  # (1, 1, 2, 2): overlapping 3×3 windows
print(f"5×5 input 0…24: MaxPool2d(2, 2) -> {small(img_floor)}; with ceil_mode=True -> {small(img_ceil)}; "
      f"AdaptiveMaxPool2d((2, 2)) -> {small(img_adaptive_five)}")

# %% Figure: the photo, max-pooled and average-pooled
fig, axes = plt.subplots(1, 3, figsize=(15, 6))
fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.8, wspace=0.04)
for ax, tensor, name, mean in [(axes[0], img_tensor, "photo", photo_mean),
                               (axes[1], img_max, "MaxPool2d(2, 2)", max_mean),
                               (axes[2], img_avg, "AvgPool2d(2, 2)", avg_mean)]:
    ax.imshow(rgb_picture(tensor))
    ax.set_title(f"{name}: {tuple(tensor.shape)}\nmean brightness {mean:.4f}")
    ax.axis("off")
fig.suptitle("Max pooling keeps the brightest of every 2×2 window: brighter.\n"
             "Average pooling keeps their mean: the photo's own brightness, smoother edges.")
save_figure(fig, args.out_dir, "pooling", show=args.show)


# %% Figure: the 4×4 unpooling example, every value written in its cell
def draw_grid(ax, values, title, highlight=None, labels=None, vmax=8):
    """A small matrix as a table of numbers; `highlight` cells are outlined, `labels` added below."""
    values = np.asarray(values)
    ax.imshow(values, cmap="Greys", vmin=0, vmax=vmax)  # pale shades: black numbers stay readable
    for (row, col), value in np.ndenumerate(values):
        text = f"{value:g}" if labels is None else f"{value:g}\n{labels[row][col]}"
        ax.text(col, row, text, ha="center", va="center", fontsize=13)
    for row, col in highlight or []:
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="tab:red", lw=3))
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.set_title(title)


small_width = img_small.shape[3]
maxima = [divmod(index, small_width) for index in indices.flatten().tolist()]  # (row, col) of each
fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), layout="constrained")
draw_grid(axes[0], small(img_small), "input (1, 1, 4, 4)\nred: the maximum of each 2×2 window",
          highlight=maxima)
draw_grid(axes[1], small(img_pool), "MaxPool2d(2, 2, return_indices=True)\npooled, with its indices",
          labels=[[f"index {index}" for index in row] for row in small(indices)])
draw_grid(axes[2], small(img_unpool), "MaxUnpool2d(2, 2)(pooled, indices)\nmaxima back in place, zeros elsewhere",
          highlight=maxima)
for ax in axes:
    ax.set(xlabel="column", ylabel="row")
save_figure(fig, args.out_dir, "unpooling", show=args.show)


# %% Figure: which input cells each window covers, on the 5×5 input
def draw_windows(ax, windows, output, title):
    """The 5×5 input with each pooling window drawn as a coloured rectangle (row0, row1, col0, col1)."""
    draw_grid(ax, small(img_five), title, vmax=80)
    ax.add_patch(Rectangle((-0.5, -0.5), 5, 5, fill=False, edgecolor="black", lw=1))  # the input's edge
    colours = plt.get_cmap("tab10").colors
    for number, (row0, row1, col0, col1) in enumerate(windows):
        inset = 0.08 * (number % 3)  # overlapping windows stay distinguishable
        ax.add_patch(Rectangle((col0 - 0.5 + inset, row0 - 0.5 + inset), col1 - col0 - 2 * inset,
                               row1 - row0 - 2 * inset, fill=False, lw=2.5, edgecolor=colours[number % 10]))
    ax.set(xlim=(-0.6, 5.6), ylim=(5.6, -0.6), xlabel="column", ylabel="row")
    ax.set_title(f"{title}\noutput {output}")


def pool_windows(out, kernel=2, stride=2):
    """Windows of MaxPool2d: start i·s, end i·s + k (the max is taken over the part inside the input)."""
    spans = [(i * stride, i * stride + kernel) for i in range(out)]
    return [(r0, r1, c0, c1) for r0, r1 in spans for c0, c1 in spans]


def adaptive_windows(size, out):
    """Windows of adaptive pooling: start ⌊i·H/out⌋, end ⌈(i + 1)·H/out⌉ (PyTorch's rule)."""
    spans = [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]
    return [(r0, r1, c0, c1) for r0, r1 in spans for c0, c1 in spans]


fig, axes = plt.subplots(1, 3, figsize=(15, 5.4), layout="constrained")
draw_windows(axes[0], pool_windows(img_floor.shape[-1]), small(img_floor),
             "MaxPool2d(2, 2): 2×2 output\nrow 4 and column 4 are never pooled")
draw_windows(axes[1], pool_windows(img_ceil.shape[-1]), small(img_ceil),
             "MaxPool2d(2, 2, ceil_mode=True): 3×3 output\nthe last windows hang over the edge")
draw_windows(axes[2], adaptive_windows(5, img_adaptive_five.shape[-1]), small(img_adaptive_five),
             "AdaptiveMaxPool2d((2, 2)): 2×2 output\n3×3 windows that overlap to cover 5")
save_figure(fig, args.out_dir, "windows", show=args.show)

# %% Metrics and summary
metrics = {
    "image_source": photo.source,
    "image_downscaled": photo.downscaled,
    "input_shape": shape_list(img_tensor),
    "maxpool_shape": shape_list(img_max),
    "avgpool_shape": shape_list(img_avg),
    "photo_mean": photo_mean,
    "maxpool_mean": max_mean,
    "avgpool_mean": avg_mean,
    "divisor_override_output": small(img_override),
    "unpool_input": small(img_small),
    "unpool_pooled": small(img_pool),
    "unpool_indices": small(indices),
    "unpool_output": small(img_unpool),
    "unpool_keeps_maxima": unpool_keeps_maxima,
    "adaptive_shape": shape_list(img_adaptive),
    "crop_shape": shape_list(img_crop),
    "adaptive_crop_shape": shape_list(adaptive_layer(img_crop)),
    "maxpool_crop_shape": shape_list(maxpool_layer(img_crop)),
    "adaptive_equals_maxpool_when_even": adaptive_equals_maxpool,
    "ceil_input": small(img_five),
    "ceil_false_output": small(img_floor),
    "ceil_true_output": small(img_ceil),
    "adaptive_5x5_output": small(img_adaptive_five),
    "device": str(device),
}
write_metrics(args.out_dir, metrics)
print(f"Summary: {tuple(img_tensor.shape)} -> max/avg pooled {tuple(img_max.shape)}; mean brightness "
      f"{max_mean:.4f} (max) vs {avg_mean:.4f} (avg) vs {photo_mean:.4f} (photo); unpooled "
      f"{small(img_unpool)}. Outputs in {args.out_dir}")
