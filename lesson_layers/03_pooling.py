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
from tools.figures import ORANGE, PALETTE, draw_picture_row, draw_value_grid, frame_windows, save_figure
from tools.metrics import record
from tools.photo import add_image_flag, load_photo, rgb_picture

MIN_SIDE = 2  # a 2×2 window needs at least 2×2 pixels
parser = lesson_parser("lesson_layers/03_pooling.py", __doc__, default_seed=1, quick=None)
add_image_flag(parser, min_side=MIN_SIDE)
args = start_lesson(parser)
device = args.device

ADAPTIVE_SIZE = (7, 7)  # VGG's AdaptiveAvgPool2d size; AlexNet's is (6, 6). Any size works.
ZOOM_SIDE = 48  # input pixels per side of the zoomed region (24 after pooling)


# %% Data: the photo as a (1, 3, H, W) tensor, as the notes build it
photo = load_photo(args.image, min_side=MIN_SIDE)
print(f"Photo: {photo.source}")
record("image_source", photo.source)
img = photo.image  # an RGB PIL image, values 0 … 255
img_tensor = transforms.ToTensor()(img)  # (3, H, W) float32 in [0, 1]
img_tensor.unsqueeze_(dim=0)  # (1, 3, H, W): C×H×W to B×C×H×W
img_photo = img_tensor.to(device)  # a name of its own: the notes reuse img_tensor for small examples

# %% MaxPool2d and AvgPool2d: 2×2 windows, stride 2
maxpool_layer = nn.MaxPool2d((2, 2), stride=(2, 2))  # input: (i, o, size) weights: none
img_max = maxpool_layer(img_photo)  # (1, 3, 256, 256): every window of four -> its largest
avgpool_layer = nn.AvgPool2d((2, 2), stride=(2, 2))
img_avg = avgpool_layer(img_photo)  # (1, 3, 256, 256): every window of four -> its mean
print(f"池化前尺寸:{img_photo.shape}\n池化后尺寸:{img_max.shape}")  # the notes' print: before / after
print(f"MaxPool2d(2, 2) -> {tuple(img_max.shape)}, AvgPool2d(2, 2) -> {tuple(img_avg.shape)}")
# The notes: the average-pooled photo looks darker than the max-pooled one. Measure the mean
# brightness (all pixels, all channels, in [0, 1]): the mean of equal windows' means is the mean, so
# average pooling keeps the photo's own; max pooling keeps the brightest of four and raises it.
photo_mean, max_mean, avg_mean = img_photo.mean().item(), img_max.mean().item(), img_avg.mean().item()
print(f"Mean brightness: photo {photo_mean:.4f}, max-pooled {max_mean:.4f}, avg-pooled {avg_mean:.4f}: "
      f"the average-pooled photo is {'darker' if avg_mean < max_mean else 'not darker'} than the max-pooled one "
      "(the notes' observation), and about as bright as the photo itself")
record("maxpool_mean", max_mean, headline=True)
record("avgpool_mean", avg_mean, headline=True)

# %% AvgPool2d: divisor_override, and count_include_pad when there is padding
img_tensor = torch.ones((1, 1, 4, 4)).to(device)  # (1, 1, 4, 4), the notes' input
avgpool_layer = nn.AvgPool2d((2, 2), stride=(2, 2), divisor_override=3)
img_pool = avgpool_layer(img_tensor)  # (1, 1, 2, 2): (1 + 1 + 1 + 1) / 3, not / 4
print(f"raw_img:\n{img_tensor}\npooling_img:\n{img_pool}")  # the notes' print
# With padding=1 the corner windows hold 1 real pixel and 3 of padding. count_include_pad=True
# (the default) divides by all 4; False divides by the real pixels only.
padded_mean = {include: nn.AvgPool2d(2, stride=2, padding=1, count_include_pad=include)(img_tensor)[0, 0].tolist()
               for include in (True, False)}  # each 3×3
print(f"AvgPool2d(2, 2, padding=1) on the same ones: count_include_pad=True -> {padded_mean[True]} "
      f"(padding counted), False -> {padded_mean[False]}")

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
record("unpool_indices", indices[0, 0].tolist(), headline=True)

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
# When the input divides evenly, adaptive pooling to half the size IS MaxPool2d(2, 2).
even_h, even_w = img_photo.shape[2] // 2 * 2, img_photo.shape[3] // 2 * 2
img_even = img_photo[:, :, :even_h, :even_w]
adaptive_equals_maxpool = torch.equal(nn.AdaptiveMaxPool2d((even_h // 2, even_w // 2))(img_even),
                                      maxpool_2x2(img_even))
print(f"AdaptiveMaxPool2d(({even_h // 2}, {even_w // 2})) equals MaxPool2d(2, 2) on {even_h}×{even_w}: "
      f"{adaptive_equals_maxpool}")

# %% Beyond the notes: ceil_mode, what happens to a row or column a window only partly covers
img_five = torch.arange(25, dtype=torch.float).reshape(1, 1, 5, 5).to(device)  # (1, 1, 5, 5), 0 … 24
img_floor = nn.MaxPool2d(2, stride=2)(img_five)  # (1, 1, 2, 2): row 4 and column 4 never seen
img_ceil = nn.MaxPool2d(2, stride=2, ceil_mode=True)(img_five)  # (1, 1, 3, 3): edge windows are partial
img_adaptive_five = nn.AdaptiveMaxPool2d((2, 2))(img_five)  # (1, 1, 2, 2): overlapping 3×3 windows
print(f"5×5 input 0…24: MaxPool2d(2, 2) -> {img_floor[0, 0].int().tolist()}; with ceil_mode=True -> "
      f"{img_ceil[0, 0].int().tolist()}; AdaptiveMaxPool2d((2, 2)) -> {img_adaptive_five[0, 0].int().tolist()}")

# %% Figure: the photo and its pooled versions at true relative size, and a zoom of one region
height, width = img_photo.shape[2:]
zoom = min(ZOOM_SIDE, height // 2 * 2, width // 2 * 2)  # an even side, so it pools exactly
zoom_top = min((height * 9 // 32) // 2 * 2, height - zoom)  # even: aligned with the 2×2 windows
zoom_left = min((width * 13 // 32) // 2 * 2, width - zoom)
pooled = [(img_photo, "photo", photo_mean, 1), (img_max, "MaxPool2d(2, 2)", max_mean, 2),
          (img_avg, "AvgPool2d(2, 2)", avg_mean, 2)]  # (tensor, name, mean brightness, shrink factor)
# Width ratios 2 : 1 : 1 draw the pooled photos at their true size beside the photo; in the bottom
# row, equal panels make a pooled pixel twice as large as a photo pixel.
fig = plt.figure(figsize=(12, 11.5), layout="constrained")
top_row, zoom_row = fig.subfigures(2, 1, height_ratios=[6.8, 4.7])  # tall enough for the photo's full width
axes = [top_row.subplots(1, 3, width_ratios=[2, 1, 1]), zoom_row.subplots(1, 3)]
draw_picture_row(axes[0], [rgb_picture(tensor) for tensor, *_ in pooled],
                 [f"{name}\n{tuple(tensor.shape)}, mean {mean:.4f}" for tensor, name, mean, _ in pooled])
for ax, (_, _, _, shrink) in zip(axes[0], pooled):
    ax.add_patch(Rectangle((zoom_left / shrink - 0.5, zoom_top / shrink - 0.5), zoom / shrink, zoom / shrink,
                           fill=False, edgecolor=ORANGE, lw=2))
regions = [tensor[0, :, zoom_top // k:(zoom_top + zoom) // k, zoom_left // k:(zoom_left + zoom) // k]
           for tensor, _, _, k in pooled]  # (3, 48, 48) and twice (3, 24, 24)
draw_picture_row(axes[1], [rgb_picture(region) for region in regions],
                 [f"the orange box, {region.shape[1]}×{region.shape[2]} pixels" for region in regions],
                 interpolation="nearest")
fig.suptitle("Pooling halves height and width (top: true relative size; bottom: one region pixel by pixel).\n"
             "Max pooling keeps the brightest of each 2×2 window; average pooling keeps the mean brightness.")
save_figure(fig, args.out_dir, "pooling", photo=True, show=args.show,
            caption="The photo and its 2×2 max- and average-pooled versions at true relative size, with "
                    "a pixel-by-pixel zoom of one region.")

# %% Figure: the notes' unpooling, every value in its cell, each window in its own colour
window_colours = PALETTE[:indices.numel()]  # one colour per pooling window, followed through every panel
maxima = [(*divmod(index, img_tensor.shape[3]), colour) for index, colour in zip(indices.flatten().tolist(),
                                                                                window_colours)]
pooled_cells = [(row, col, colour) for (row, col), colour in zip(np.ndindex(2, 2), window_colours)]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.9), width_ratios=[4, 2, 2, 4], layout="constrained")
draw_value_grid(axes[0], img_tensor[0, 0], "raw_img (1, 1, 4, 4)\nframed: each window's maximum", vmax=8,
                outlines=maxima)
draw_value_grid(axes[1], img_pool[0, 0], f"img_pool\nindices {indices[0, 0].tolist()}", vmax=8,
                outlines=pooled_cells)
draw_value_grid(axes[2], img_reconstruct[0, 0], "img_reconstruct\n(random values)", decimals=4, vmax=4,
                outlines=pooled_cells)
draw_value_grid(axes[3], img_unpool[0, 0], "img_unpool: each value at its\nwindow's index, zeros elsewhere",
                decimals=4, vmax=4, outlines=maxima)
fig.suptitle("MaxUnpool2d puts img_reconstruct's values where MaxPool2d found the maxima (follow the colours)")
save_figure(fig, args.out_dir, "unpooling", show=args.show,
            caption="The notes' max unpooling: random values go back to the positions recorded by the "
                    "pooling indices, zeros elsewhere.")

# %% Figure: which input cells each window covers, on the 5×5 input
# MaxPool2d's window i spans [i·s, i·s + k) (the max is taken over the part inside the input);
# adaptive pooling's spans [⌊i·H/out⌋, ⌈(i + 1)·H/out⌉) (PyTorch's rule), so its windows may overlap.
pool_spans = {out: [(i * 2, i * 2 + 2) for i in range(out)] for out in (img_floor.shape[-1], img_ceil.shape[-1])}
adaptive_spans = [(i * 5 // 2, -(-(i + 1) * 5 // 2)) for i in range(img_adaptive_five.shape[-1])]
fig, axes = plt.subplots(1, 3, figsize=(12, 5.2), layout="constrained")
for ax, spans, output, title in (
        (axes[0], pool_spans[img_floor.shape[-1]], img_floor, "MaxPool2d(2, 2)\nrow 4 and column 4 never pooled"),
        (axes[1], pool_spans[img_ceil.shape[-1]], img_ceil,
         "MaxPool2d(2, 2, ceil_mode=True)\nthe last windows hang over"),
        (axes[2], adaptive_spans, img_adaptive_five, "AdaptiveMaxPool2d((2, 2))\n3×3 windows overlap to cover 5")):
    draw_value_grid(ax, img_five[0, 0], f"{title}\noutput {output[0, 0].int().tolist()}", vmax=80)
    frame_windows(ax, [(r0, r1, c0, c1) for r0, r1 in spans for c0, c1 in spans])
    ax.set(xlim=(-0.6, 5.6), ylim=(5.6, -0.6))
save_figure(fig, args.out_dir, "windows", show=args.show,
            caption="The windows of floor mode, ceil mode and adaptive pooling on a 5×5 input 0 … 24.")

print(f"Summary: {tuple(img_photo.shape)} -> max/avg pooled {tuple(img_max.shape)}; mean brightness "
      f"{max_mean:.4f} (max) vs {avg_mean:.4f} (avg) vs {photo_mean:.4f} (photo); unpooling indices "
      f"{indices[0, 0].tolist()}. Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `pool-by-hand` (max pooling with ceil_mode by hand).
# Read one with `python tools/exercises.py show pool-by-hand`; hand in your answer with
# `python tools/exercises.py check pool-by-hand "..."`.
