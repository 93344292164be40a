# %% [markdown]
"""Pooling and unpooling: MaxPool2d, AvgPool2d, MaxUnpool2d, AdaptiveMaxPool2d and ceil_mode.

The notes' lesson on pooling layers (池化层). Pooling summarises each window, here 2×2 with stride
2: max pooling keeps the largest of the four values, average pooling their mean. It has no weights;
it halves height and width, so later layers cost a quarter as much and see a wider region. The
notes' AvgPool2d with divisor_override comes with count_include_pad, which decides whether padding
counts in the mean. Max unpooling (反池化) puts values back where the pooling indices say, zeros
elsewhere: the notes' 4×4 randint example, unpooling random values. Beyond the notes: adaptive
pooling and ceil_mode, drawn as the windows they use.

    python lesson_layers/03_pooling.py
    python lesson_layers/03_pooling.py --image my_photo.jpg

A good breakpoint: `img_pool, indices = maxpool_layer(img_tensor)` in the unpooling cell; look at
indices and find each one in img_tensor.flatten().
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

import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
from matplotlib.patches import Rectangle
from torchvision import transforms

from tools.cli import lesson_parser, start_lesson
from tools.figures import BLACK, GREY, ORANGE, PALETTE, save_figure
from tools.metrics import record
from tools.photo import add_image_flag, load_photo, rgb_picture

parser = lesson_parser("lesson_layers/03_pooling.py", __doc__, default_seed=1, quick=None)
add_image_flag(parser)
args = start_lesson(parser)
device = args.device

ADAPTIVE_SIZE = (7, 7)  # VGG's AdaptiveAvgPool2d size; AlexNet's is (6, 6). Any size works.
ZOOM_SIDE = 48  # input pixels per side of the zoomed region (24 after pooling)


def small(tensor: torch.Tensor) -> list:
    """A (1, 1, h, w) tensor as the nested list [[...], ...] of its h×w values."""
    return tensor[0, 0].tolist()


# %% Data: the photo as a (1, 3, H, W) tensor, as the notes build it
photo = load_photo(args.image, min_side=2)  # a 2×2 window needs at least 2×2 pixels
print(f"Photo: {photo.source}")
record("image_source", photo.source)
img = photo.image  # an RGB PIL image, values 0 … 255
img_tensor = transforms.ToTensor()(img)  # (3, H, W) float32 in [0, 1]
img_tensor.unsqueeze_(dim=0)  # (1, 3, H, W): C×H×W to B×C×H×W
img_photo = img_tensor.to(device)  # a name of its own: the notes reuse img_tensor for small examples
record("input_shape", list(img_photo.shape))

# %% MaxPool2d and AvgPool2d: 2×2 windows, stride 2
maxpool_layer = nn.MaxPool2d((2, 2), stride=(2, 2))  # input: (i, o, size) weights: none
img_max = maxpool_layer(img_photo)  # (1, 3, 256, 256): every window of four -> its largest
avgpool_layer = nn.AvgPool2d((2, 2), stride=(2, 2))
img_avg = avgpool_layer(img_photo)  # (1, 3, 256, 256): every window of four -> its mean
print(f"池化前尺寸:{img_photo.shape}\n池化后尺寸:{img_max.shape}")  # the notes' print: before / after
print(f"MaxPool2d(2, 2) -> {tuple(img_max.shape)}, AvgPool2d(2, 2) -> {tuple(img_avg.shape)}")
record("maxpool_shape", list(img_max.shape))
record("avgpool_shape", list(img_avg.shape))
# Does average pooling look darker? Measure mean brightness (all pixels, all channels, in [0, 1]):
# the mean of equal windows' means is the mean, so average pooling keeps it; max pooling raises it.
photo_mean, max_mean, avg_mean = img_photo.mean().item(), img_max.mean().item(), img_avg.mean().item()
print(f"Mean brightness: photo {photo_mean:.4f}, max-pooled {max_mean:.4f}, avg-pooled {avg_mean:.4f}")
record("photo_mean", photo_mean)
record("maxpool_mean", max_mean, headline=True)
record("avgpool_mean", avg_mean, headline=True)

# %% AvgPool2d: divisor_override, and count_include_pad when there is padding
img_tensor = torch.ones((1, 1, 4, 4)).to(device)  # (1, 1, 4, 4), the notes' input
avgpool_layer = nn.AvgPool2d((2, 2), stride=(2, 2), divisor_override=3)
img_pool = avgpool_layer(img_tensor)  # (1, 1, 2, 2): (1 + 1 + 1 + 1) / 3, not / 4
print(f"raw_img:\n{img_tensor}\npooling_img:\n{img_pool}")  # the notes' print
record("divisor_override_output", small(img_pool))
# With padding=1 the corner windows hold 1 real pixel and 3 of padding. count_include_pad=True
# (the default) divides by all 4; False divides by the real pixels only.
padded_mean = {include: small(nn.AvgPool2d(2, stride=2, padding=1, count_include_pad=include)(img_tensor))
               for include in (True, False)}  # each (3, 3)
print(f"AvgPool2d(2, 2, padding=1) on the same ones: count_include_pad=True -> {padded_mean[True]} "
      f"(padding counted), False -> {padded_mean[False]}")
record("count_include_pad_true", padded_mean[True])
record("count_include_pad_false", padded_mean[False])

# %% MaxUnpool2d, as the notes: pool a random 4×4, then unpool random values to the recorded indices
# The lesson's first random draws, so --seed 1 gives the notes' numbers.
img_tensor = torch.randint(high=5, size=(1, 1, 4, 4), dtype=torch.float).to(device)  # (1, 1, 4, 4)
maxpool_layer = nn.MaxPool2d((2, 2), stride=(2, 2), return_indices=True)
img_pool, indices = maxpool_layer(img_tensor)  # both (1, 1, 2, 2); indices into the flat 4×4
img_reconstruct = torch.randn_like(img_pool, dtype=torch.float)  # (1, 1, 2, 2): values to put back
maxunpool_layer = nn.MaxUnpool2d((2, 2), stride=(2, 2))
# PyTorch has no deterministic kernel for max unpooling, so --deterministic would refuse it. Each
# index appears once here (the windows do not overlap), so the result cannot vary: allow this op.
if args.deterministic:
    torch.use_deterministic_algorithms(True, warn_only=True)
    print("--deterministic: MaxUnpool2d has no deterministic kernel in PyTorch; it runs with "
          "warn_only for this one op (every index is distinct, so the result is exact)")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*does not have a deterministic implementation")
    img_unpool = maxunpool_layer(img_reconstruct, indices)  # (1, 1, 4, 4)
torch.use_deterministic_algorithms(args.deterministic)
print(f"raw_img:\n{img_tensor}\nimg_pool:\n{img_pool}")  # the notes' prints
print(f"img_reconstruct:\n{img_reconstruct}\nimg_unpool:\n{img_unpool}")
print(f"indices:\n{indices}")
record("unpool_input", small(img_tensor))
record("unpool_pooled", small(img_pool))
record("unpool_indices", small(indices), headline=True)
record("unpool_reconstruct", small(img_reconstruct))
record("unpool_output", small(img_unpool))

# %% Beyond the notes: AdaptiveMaxPool2d, give the output size and PyTorch picks the windows
adaptive_layer = nn.AdaptiveMaxPool2d(ADAPTIVE_SIZE)
img_adaptive = adaptive_layer(img_photo)  # (1, 3, 7, 7) for any input size
# The same two layers on a smaller, non-square crop: MaxPool2d's output follows the input, adaptive's does not.
crop_h, crop_w = max(img_photo.shape[2] * 5 // 8, 2), max(img_photo.shape[3] * 3 // 8, 2)
img_crop = img_photo[:, :, :crop_h, :crop_w]  # (1, 3, 320, 192) for the built-in photo
maxpool_2x2 = nn.MaxPool2d(2, stride=2)
img_adaptive_crop, img_max_crop = adaptive_layer(img_crop), maxpool_2x2(img_crop)
print(f"AdaptiveMaxPool2d({ADAPTIVE_SIZE}): {tuple(img_photo.shape)} -> {tuple(img_adaptive.shape)}, "
      f"{tuple(img_crop.shape)} -> {tuple(img_adaptive_crop.shape)}")
print(f"MaxPool2d(2, 2):            {tuple(img_photo.shape)} -> {tuple(img_max.shape)}, "
      f"{tuple(img_crop.shape)} -> {tuple(img_max_crop.shape)}")
record("adaptive_shape", list(img_adaptive.shape))
record("crop_shape", list(img_crop.shape))
record("adaptive_crop_shape", list(img_adaptive_crop.shape))
record("maxpool_crop_shape", list(img_max_crop.shape))
# When the input divides evenly, adaptive pooling to half the size IS MaxPool2d(2, 2).
even_h, even_w = img_photo.shape[2] // 2 * 2, img_photo.shape[3] // 2 * 2
img_even = img_photo[:, :, :even_h, :even_w]
adaptive_equals_maxpool = torch.equal(nn.AdaptiveMaxPool2d((even_h // 2, even_w // 2))(img_even),
                                      maxpool_2x2(img_even))
print(f"AdaptiveMaxPool2d(({even_h // 2}, {even_w // 2})) equals MaxPool2d(2, 2) on {even_h}×{even_w}: "
      f"{adaptive_equals_maxpool}")
record("adaptive_equals_maxpool_when_even", adaptive_equals_maxpool)

# %% Beyond the notes: ceil_mode, what happens to a row or column a window only partly covers
img_five = torch.arange(25, dtype=torch.float).reshape(1, 1, 5, 5).to(device)  # (1, 1, 5, 5), 0 … 24
img_floor = nn.MaxPool2d(2, stride=2)(img_five)  # (1, 1, 2, 2): row 4 and column 4 never seen
img_ceil = nn.MaxPool2d(2, stride=2, ceil_mode=True)(img_five)  # (1, 1, 3, 3): edge windows are partial
img_adaptive_five = nn.AdaptiveMaxPool2d((2, 2))(img_five)  # (1, 1, 2, 2): overlapping 3×3 windows
print(f"5×5 input 0…24: MaxPool2d(2, 2) -> {img_floor[0, 0].int().tolist()}; with ceil_mode=True -> "
      f"{img_ceil[0, 0].int().tolist()}; AdaptiveMaxPool2d((2, 2)) -> {img_adaptive_five[0, 0].int().tolist()}")
record("ceil_false_output", small(img_floor))
record("ceil_true_output", small(img_ceil))
record("adaptive_5x5_output", small(img_adaptive_five))

# %% Figure: the photo and its pooled versions at true relative size, and a zoom of one region
height, width = img_photo.shape[2:]
zoom = min(ZOOM_SIDE, height // 2 * 2, width // 2 * 2)  # an even side, so it pools exactly
zoom_top, zoom_left = (height * 9 // 32) // 2 * 2, (width * 13 // 32) // 2 * 2  # the left lens; even: window-aligned
zoom_top, zoom_left = min(zoom_top, height - zoom), min(zoom_left, width - zoom)
fig = plt.figure(figsize=(12, 10))
# Top row: width ratios 2 : 1 : 1, so each image, filling its panel's width, is drawn at true relative
# size. Bottom row: three equal panels, so a pooled pixel shows twice as large as a photo pixel.
top_row = fig.add_gridspec(1, 3, width_ratios=[2, 1, 1], left=0.02, right=0.98, top=0.88, bottom=0.42, wspace=0.08)
zoom_row = fig.add_gridspec(1, 3, left=0.02, right=0.98, top=0.36, bottom=0.02, wspace=0.08)
panels = [(img_photo, "photo", photo_mean, 1), (img_max, "MaxPool2d(2, 2)", max_mean, 2),
          (img_avg, "AvgPool2d(2, 2)", avg_mean, 2)]
for column, (tensor, name, mean, shrink) in enumerate(panels):
    ax = fig.add_subplot(top_row[0, column])
    ax.imshow(rgb_picture(tensor))
    ax.add_patch(Rectangle((zoom_left / shrink - 0.5, zoom_top / shrink - 0.5), zoom / shrink, zoom / shrink,
                           fill=False, edgecolor=ORANGE, lw=2))
    ax.set_title(f"{name}\n{tuple(tensor.shape)}, mean {mean:.4f}", fontsize=10)
    ax.set_anchor("N")
    ax.axis("off")
    zoom_ax = fig.add_subplot(zoom_row[0, column])
    region = tensor[0, :, zoom_top // shrink:(zoom_top + zoom) // shrink,
                    zoom_left // shrink:(zoom_left + zoom) // shrink]  # (3, 48, 48) or (3, 24, 24)
    zoom_ax.imshow(rgb_picture(region), interpolation="nearest")
    zoom_ax.set_title(f"the orange box, {region.shape[1]}×{region.shape[2]} pixels", fontsize=10)
    zoom_ax.axis("off")
fig.suptitle("Pooling halves height and width (top, drawn at true relative size; bottom, one region "
             "pixel by pixel).\nMax pooling keeps the brightest of each 2×2 window: brighter. "
             "Average pooling keeps the mean brightness.")
save_figure(fig, args.out_dir, "pooling", photo=True, show=args.show,
            caption="The photo and its 2×2 max- and average-pooled versions at true relative size, with "
                    "a pixel-by-pixel zoom of one region.")


# %% Figure: the notes' unpooling, every value in its cell, each window in its own colour
def draw_grid(ax, values, title, outlines=(), vmax=8, decimals=None):
    """A small matrix as a table of numbers; `outlines` = [(row, col, colour)] drawn as frames."""
    values = np.asarray(values)
    ax.imshow(np.abs(values), cmap="Greys", vmin=0, vmax=vmax)  # pale shades: black numbers stay readable
    for (row, col), value in np.ndenumerate(values):
        text = f"{value:g}" if decimals is None or value == 0 else f"{value:.{decimals}f}"
        ax.text(col, row, text, ha="center", va="center", fontsize=10, color=BLACK)
    for row, col, colour in outlines:
        ax.add_patch(Rectangle((col - 0.45, row - 0.45), 0.9, 0.9, fill=False, edgecolor=colour, lw=3))
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.set_title(title, fontsize=10)


small_width = img_tensor.shape[3]
flat_indices = indices.flatten().tolist()
window_colours = PALETTE[:len(flat_indices)]  # one colour per pooling window, followed through every panel
maxima = [(*divmod(index, small_width), colour) for index, colour in zip(flat_indices, window_colours)]
pooled_cells = [(row, col, colour) for (row, col), colour in zip(np.ndindex(2, 2), window_colours)]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.9), width_ratios=[4, 2, 2, 4])
fig.subplots_adjust(left=0.04, right=0.99, bottom=0.08, top=0.78, wspace=0.35)
draw_grid(axes[0], small(img_tensor), "raw_img (1, 1, 4, 4)\nframed: each window's maximum", maxima)
draw_grid(axes[1], small(img_pool), "img_pool\nindices " + str(small(indices)), pooled_cells)
draw_grid(axes[2], small(img_reconstruct), "img_reconstruct\n(random values)", pooled_cells,
          vmax=4, decimals=4)
draw_grid(axes[3], small(img_unpool), "img_unpool: each value at its\nwindow's index, zeros elsewhere",
          maxima, vmax=4, decimals=4)
fig.suptitle("MaxUnpool2d puts img_reconstruct's values where MaxPool2d found the maxima (follow the colours)")
save_figure(fig, args.out_dir, "unpooling", show=args.show,
            caption="The notes' max unpooling: random values go back to the positions recorded by the "
                    "pooling indices, zeros elsewhere.")


# %% Figure: which input cells each window covers, on the 5×5 input
def draw_windows(ax, windows, output, title):
    """The 5×5 input with each pooling window drawn as a coloured rectangle (row0, row1, col0, col1)."""
    output = [[int(value) for value in row] for row in output]
    draw_grid(ax, small(img_five), f"{title}\noutput {output}", vmax=80)
    ax.add_patch(Rectangle((-0.5, -0.5), 5, 5, fill=False, edgecolor=GREY, lw=1))  # the input's edge
    for number, (row0, row1, col0, col1) in enumerate(windows):
        inset = 0.08 * (number % 3)  # overlapping windows stay distinguishable
        ax.add_patch(Rectangle((col0 - 0.5 + inset, row0 - 0.5 + inset), col1 - col0 - 2 * inset,
                               row1 - row0 - 2 * inset, fill=False, lw=2.5, edgecolor=PALETTE[number % 6]))
    ax.set(xlim=(-0.6, 5.6), ylim=(5.6, -0.6))


def pool_windows(out, kernel=2, stride=2):
    """Windows of MaxPool2d: start i·s, end i·s + k (the max is taken over the part inside the input)."""
    spans = [(i * stride, i * stride + kernel) for i in range(out)]
    return [(r0, r1, c0, c1) for r0, r1 in spans for c0, c1 in spans]


def adaptive_windows(size, out):
    """Windows of adaptive pooling: start ⌊i·H/out⌋, end ⌈(i + 1)·H/out⌉ (PyTorch's rule)."""
    spans = [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]
    return [(r0, r1, c0, c1) for r0, r1 in spans for c0, c1 in spans]


fig, axes = plt.subplots(1, 3, figsize=(12, 5.2))
fig.subplots_adjust(left=0.04, right=0.99, bottom=0.02, top=0.8, wspace=0.2)
draw_windows(axes[0], pool_windows(img_floor.shape[-1]), small(img_floor),
             "MaxPool2d(2, 2)\nrow 4 and column 4 never pooled")
draw_windows(axes[1], pool_windows(img_ceil.shape[-1]), small(img_ceil),
             "MaxPool2d(2, 2, ceil_mode=True)\nthe last windows hang over")
draw_windows(axes[2], adaptive_windows(5, img_adaptive_five.shape[-1]), small(img_adaptive_five),
             "AdaptiveMaxPool2d((2, 2))\n3×3 windows overlap to cover 5")
save_figure(fig, args.out_dir, "windows", show=args.show,
            caption="The windows of floor mode, ceil mode and adaptive pooling on a 5×5 input 0 … 24.")

print(f"Summary: {tuple(img_photo.shape)} -> max/avg pooled {tuple(img_max.shape)}; mean brightness "
      f"{max_mean:.4f} (max) vs {avg_mean:.4f} (avg) vs {photo_mean:.4f} (photo); unpooling indices "
      f"{small(indices)}. Outputs in {args.out_dir}")
