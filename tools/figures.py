"""Figures: one look for every lesson, saved into the out-dir, shown only when asked.

Importing this module sets the shared style: the Okabe–Ito colour-blind-safe palette as the colour
cycle (use the names below, never a red/green pair of your own), text readable at the size the
gallery shows a figure (11 pt at 100 dpi), and figures at most MAX_WIDTH_INCHES wide.

    save_figure(fig, args.out_dir, "fit", caption="The stopped line beside least squares", show=args.show)
    with GifRecorder(fig, args.out_dir / "training.gif", fps=2, show=args.show) as gif:
        ...redraw...; gif.frame()

Every saved figure is listed, in the order the lesson saved it and with its caption, in the
out-dir's figures.json, which the course runner's gallery reads. A headless run (the tests, the
course runner, a server) never opens a window, never blocks and never sleeps. In a notebook the
figures and animations show under their cells.
"""
import math
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from PIL import Image

from tools.errors import running_in_notebook_kernel
from tools.metrics import FIGURES_FILE, write_json, write_whole

# Okabe & Ito (2008), "Color Universal Design": told apart by every common colour-vision deficiency.
BLUE, VERMILLION, GREEN, ORANGE = "#0072B2", "#D55E00", "#009E73", "#E69F00"
SKY, PURPLE, YELLOW, BLACK = "#56B4E9", "#CC79A7", "#F0E442", "#000000"
GREY = "#7F7F7F"  # for references (a chance line, a target): not a data colour
PALETTE = (BLUE, VERMILLION, GREEN, ORANGE, SKY, PURPLE, BLACK, YELLOW)
# Two-sided data (a convolution's output, a weight): centred on 0, blue below and red above, and
# readable without red-green vision (a blue-orange diverging map).
DIVERGING_CMAP = "PuOr_r"

DPI = 100
MAX_WIDTH_INCHES = 12  # wider figures are shrunk in the gallery until their text is unreadable
PHOTO_QUALITY = 85  # JPEG quality of photo figures: keeps them well under 300 kB
GIF_LAST_FRAME_SECONDS = 2.5  # the final state stays long enough to be read before the loop restarts
MAX_GIF_FRAMES = 100  # a longer run is sampled evenly: memory (~0.8 MB a 600×450 frame) and the file stay bounded

plt.rcParams.update({
    "axes.prop_cycle": cycler(color=PALETTE),
    "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "figure.titlesize": 13,
    "figure.dpi": DPI, "savefig.dpi": DPI,
    "axes.spines.top": False, "axes.spines.right": False,
})

NON_INTERACTIVE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
_saved = {}  # out-dir -> [{"file", "caption"}], what this process saved there, in order


def interactive_backend() -> bool:
    return matplotlib.get_backend().lower() not in NON_INTERACTIVE_BACKENDS


def _display(fig) -> None:
    if running_in_notebook_kernel():
        plt.show()  # the inline backend draws the figure under the cell, without blocking
    elif interactive_backend():
        plt.figure(fig.number)
        plt.show()  # blocks until the window is closed, as a learner who asked to look expects
    else:
        warnings.warn(f"--show: matplotlib's backend {matplotlib.get_backend()!r} cannot open "
                      "windows; the figure is only saved", stacklevel=3)


def _list_figure(out_dir: Path, file_name: str, caption: str) -> None:
    """Add a saved figure to out_dir/figures.json (started afresh by each run's first figure)."""
    entries = _saved.setdefault(Path(out_dir).resolve(), [])
    entries[:] = [entry for entry in entries if entry["file"] != file_name] + [{"file": file_name, "caption": caption}]
    write_json(Path(out_dir) / FIGURES_FILE, entries, ensure_ascii=False)


def save_figure(fig, out_dir: Path, name: str, caption: str, show: bool = False, photo: bool = False) -> None:
    """Save `fig` as out_dir/<name>.png (.jpg with photo=True), list it with its caption, show it if
    asked (always in a notebook), then close it (figures hold memory).

    photo=True is for figures that are mostly photographs: JPEG keeps them a tenth of a PNG's size.
    The file is written whole or not at all: a full disk is one line naming it and --out-dir.
    """
    width = fig.get_figwidth()
    if width > MAX_WIDTH_INCHES + 1e-6:
        raise ValueError(f"{name}: the figure is {width:.1f} inches wide; at most {MAX_WIDTH_INCHES} "
                         "stays readable (put panels in rows)")
    file_name = f"{name}.jpg" if photo else f"{name}.png"
    options = {"pil_kwargs": {"quality": PHOTO_QUALITY}} if photo else {}
    write_whole(Path(out_dir) / file_name,
                lambda temporary: fig.savefig(temporary, dpi=DPI, bbox_inches="tight", **options))
    _list_figure(out_dir, file_name, caption)
    if show or running_in_notebook_kernel():
        _display(fig)
    plt.close(fig)


class GifRecorder:
    """Record a figure's successive states as the frames of a GIF: the notes' `plt.pause`, kept.

        with GifRecorder(fig, out_dir / "fit.gif", fps=2, caption="...", show=args.show) as gif:
            for iteration in range(...):
                ...redraw the axes...
                gif.frame()

    Each frame shows for 1/fps seconds and the last for GIF_LAST_FRAME_SECONDS. A run that calls
    frame() more than max_frames times is sampled evenly: every call while they fit, then every
    2nd, every 4th, ..., plus the final state (the figure as the `with` block leaves it): at most
    max_frames + 1 frames, so memory, time and the file stay bounded whatever the run's length.
    With `show` on an interactive backend each call is also drawn live (plt.pause); otherwise
    nothing waits. The GIF is written (whole, or not at all) when the `with` block ends without an
    error, and shown under the cell in a notebook.
    """

    def __init__(self, fig, path: Path, fps: float, caption: str, show: bool = False,
                 max_frames: int = MAX_GIF_FRAMES):
        if fig.get_figwidth() > MAX_WIDTH_INCHES + 1e-6:
            raise ValueError(f"{Path(path).name}: the figure is wider than {MAX_WIDTH_INCHES} inches")
        if max_frames < 2:
            raise ValueError(f"{Path(path).name}: max_frames must be at least 2 (a start and an end)")
        self.fig = fig
        self.path = Path(path)
        self.caption = caption
        self.frame_ms = round(1000 / fps)
        self.live = show and interactive_backend() and not running_in_notebook_kernel()
        self.max_frames = max_frames
        self.frames = []  # the kept frames: call 0, stride, 2·stride, ... of frame(), as RGB images
        self.stride = 1  # doubles each time the kept frames fill up
        self.calls = 0  # how often frame() was called

    @property
    def frame_count(self) -> int:
        """How many frames the GIF holds (so far)."""
        return len(self.frames)

    def _capture(self) -> Image.Image:
        self.fig.set_dpi(DPI)
        self.fig.canvas.draw()
        rgba = np.asarray(self.fig.canvas.buffer_rgba())  # (H, W, 4) uint8
        return Image.fromarray(rgba[:, :, :3].copy())  # quantised to 256 colours when saved

    def frame(self) -> None:
        """The figure as it is now is the next frame (drawn and kept only if it falls on the
        sample; the final one is drawn when the block ends)."""
        if self.calls % self.stride == 0 and len(self.frames) == self.max_frames:  # full:
            del self.frames[1::2]  # keep calls 0, 2·stride, 4·stride, ...: still evenly spaced
            self.stride *= 2
        if self.calls % self.stride == 0:
            self.frames.append(self._capture())
        self.calls += 1
        if self.live:
            plt.pause(self.frame_ms / 1000)

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        if error_type is not None:
            return False
        if not self.calls:
            raise ValueError(f"{self.path.name}: no frame was recorded")
        if (len(self.frames) - 1) * self.stride != self.calls - 1:  # the last call fell between samples
            self.frames.append(self._capture())
        durations = [self.frame_ms] * (len(self.frames) - 1) + [max(self.frame_ms, math.ceil(GIF_LAST_FRAME_SECONDS * 1000))]
        write_whole(self.path, lambda temporary: self.frames[0].save(
            temporary, save_all=True, append_images=self.frames[1:], duration=durations, loop=0))
        _list_figure(self.path.parent, self.path.name, self.caption)
        if running_in_notebook_kernel():
            from IPython.display import Image as NotebookImage, display  # only a kernel has IPython
            display(NotebookImage(filename=str(self.path)))  # a GIF plays in the notebook
        return False


# --- Shared drawing of the layer and init lessons: a grid of values, a row of pictures, log axes ---

def draw_value_grid(ax, values, title: str, decimals: "int | None" = None, vmax: "float | None" = None,
                    outlines=(), signed: bool = False, cmap: str = "Greys", fontsize: int = 10) -> None:
    """A small matrix as a table of its numbers: each cell shaded, its value written in it.

    values: (rows, cols), or (rows,) drawn as one column. The shading is pale (vmax defaults to 1.6×
    the largest |value|) so black text stays readable; signed=True shades on the diverging map around
    0, otherwise by |value| on `cmap`. decimals=None writes %g. outlines: [(row, col, colour)] frames.
    """
    from matplotlib.patches import Rectangle

    values = np.asarray(values, dtype=float)
    values = values[:, None] if values.ndim == 1 else values
    top = vmax if vmax is not None else max(1.6 * float(np.abs(values).max()), 1e-12)
    if signed:
        ax.imshow(values, cmap=DIVERGING_CMAP, vmin=-top, vmax=top)
    else:
        ax.imshow(np.abs(values), cmap=cmap, vmin=0, vmax=top)
    for (row, col), value in np.ndenumerate(values):
        text = f"{value:g}" if decimals is None or value == 0 else f"{value:.{decimals}f}"
        ax.text(col, row, text, ha="center", va="center", fontsize=fontsize, color=BLACK)
    for row, col, colour in outlines:
        ax.add_patch(Rectangle((col - 0.45, row - 0.45), 0.9, 0.9, fill=False, edgecolor=colour, lw=3))
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.set_title(title)


def frame_windows(ax, windows) -> None:
    """Draw windows [(row0, row1, col0, col1)] (end exclusive) over a value grid, one palette colour
    each, each inset a little more than the last so that overlapping windows stay apart."""
    from matplotlib.patches import Rectangle

    for number, (row0, row1, col0, col1) in enumerate(windows):
        inset = 0.08 * (number % 3)
        ax.add_patch(Rectangle((col0 - 0.5 + inset, row0 - 0.5 + inset), col1 - col0 - 2 * inset,
                               row1 - row0 - 2 * inset, fill=False, lw=2.5, edgecolor=PALETTE[number % 6]))


def draw_picture_row(axes, pictures, titles, interpolation: "str | None" = None) -> None:
    """One picture (a PIL image or an (H, W[, 3]) array) per axis, with its title and no ticks."""
    for ax, picture, title in zip(axes, pictures, titles):
        ax.imshow(picture, interpolation=interpolation)
        ax.set_title(title)
        ax.axis("off")


def log_decade_axis(ax, values, fallback=(0.1, 10.0)) -> None:
    """A log y-axis over the decades the values span, ticks on round powers of ten (every 1, 2, 5, 10
    or 20 decades, at most about six ticks). Zeros, infinities and nan (an overflowed gradient) are
    left out; when nothing finite and positive is left, the axis spans `fallback`."""
    finite = [value for value in values if 0 < value < math.inf] or list(fallback)
    low, high = math.floor(math.log10(min(finite))), math.ceil(math.log10(max(finite)))
    high = max(high, low + 1)  # a single decade still gets two ticks
    step = next(step for step in (1, 2, 5, 10, 20, 50, 100) if (high - low) / step <= 6)
    low, high = step * math.floor(low / step), step * math.ceil(high / step)
    ax.set_yscale("log")
    ax.set_ylim(10.0 ** low, 10.0 ** high)
    ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator([10.0 ** k for k in range(low, high + 1, step)]))
    ax.yaxis.set_minor_locator(matplotlib.ticker.FixedLocator([]))


def shade_where(ax, x, mask, color=VERMILLION, alpha: float = 0.15) -> None:
    """Shade the x-ranges where `mask` is True (runs of adjacent points merged into one span)."""
    x, mask = np.asarray(x), np.asarray(mask, dtype=int)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask, [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        ax.axvspan(x[start], x[stop - 1], color=color, alpha=alpha, lw=0)


def draw_grouped_bars(ax, names, series, width: float = 0.26, fmt: str = "%.2f") -> None:
    """Bars grouped per name, one bar per series [(label, values, colour)], each labelled with its value."""
    positions = np.arange(len(names), dtype=float)
    offsets = (np.arange(len(series)) - (len(series) - 1) / 2) * width
    for offset, (label, values, colour) in zip(offsets, series):
        bars = ax.bar(positions + offset, values, width, label=label, color=colour)
        ax.bar_label(bars, fmt=fmt, fontsize=9, padding=2, rotation=90)
    ax.set_xticks(positions, names)


def histogram_behind(ax, samples, bins: int, value_range, label: str):
    """The histogram of `samples` on a twin y-axis drawn behind ax's own lines (grey, as a density)."""
    ax_hist = ax.twinx()
    ax_hist.hist(np.asarray(samples), bins=bins, range=value_range, color=GREY, alpha=0.3, density=True)
    ax_hist.set_ylabel(label, color=GREY)
    ax.set_zorder(ax_hist.get_zorder() + 1)  # the lines in front of the histogram
    ax.patch.set_visible(False)
    return ax_hist


# --- Shared drawing of the banknote lessons (lesson_models 01, 02, 04): photos in rows, with titles ---

def draw_photo_grid(container, photos, titles=(), colours=(), columns: "int | None" = None, marked=(),
                    heading: "str | None" = None, aspect: str = "equal"):
    """Photos (PIL images) in rows of `columns` (default: one row) on `container`, a Figure or SubFigure.

    titles[i] goes above photo i, in colours[i] (default black); the photos whose index is in
    `marked` get a vermillion frame (a wrong answer); `heading` is the row's bold title at the left.
    Axes beyond the photos stay empty, so rows of different lengths line up. Returns the axes.
    """
    from matplotlib.patches import Rectangle

    columns = columns or max(len(photos), 1)
    axes = container.subplots(max(1, math.ceil(len(photos) / columns)), columns, squeeze=False)
    if heading:
        container.suptitle(heading, x=0.01, ha="left", fontweight="bold", fontsize=11)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(photos):
            continue
        ax.imshow(photos[index], aspect=aspect)
        if index < len(titles):
            ax.set_title(titles[index], color=colours[index] if index < len(colours) else BLACK, fontsize=10,
                         fontweight="bold" if index in marked else "normal")
        if index in marked:
            ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, edgecolor=VERMILLION, lw=4,
                                   clip_on=False))
    return axes


def plot_parameter_paths(ax, paths: dict, marked_iteration: int, marked_text: str, title: str) -> None:
    """Parameters over the iterations, {name: (values, target)}: each line labelled at its end, its
    target dashed and labelled; one iteration marked with an arrow. x axis linear to 10, log beyond."""
    length = max(len(values) for values, _ in paths.values())
    for (name, (values, target)), colour in zip(paths.items(), (BLUE, ORANGE, GREEN, PURPLE)):
        ax.plot(range(len(values)), values, color=colour, lw=2)
        ax.axhline(target, color=colour, ls="--", lw=1)
        ax.text(1, target + 0.12, f"least-squares {name} = {target:.2f}", color=colour, va="bottom")
        ax.text(len(values) * 1.08, values[-1], name, color=colour, va="center", fontweight="bold")
    ax.axvline(marked_iteration, color=BLACK, lw=1)
    text_on_left = math.log1p(marked_iteration) > 0.7 * math.log1p(length)  # where the log axis has room
    last_values = paths[list(paths)[-1]][0]
    ax.annotate(marked_text, (marked_iteration, last_values[marked_iteration]),
                xytext=(-20 if text_on_left else 20, 0.08), textcoords=("offset points", "axes fraction"),
                ha="right" if text_on_left else "left", arrowprops={"arrowstyle": "->"})
    ax.set_xscale("symlog", linthresh=10)
    everything = [value for values, target in paths.values() for value in (*values, target)]
    ax.set(xlim=(0, length), ylim=(min(0.0, *everything), max(everything) + 0.7),
           xlabel="iteration (log scale past 10)", ylabel="parameter value", title=title)


def plot_probability_map(ax, predict, x_range, y_range, label: str, steps: int = 200):
    """Filled contours of predict(points (N, 2)) -> (N, 1) probabilities over the plane, centred on
    0.5 in the diverging map (orange near 0, purple near 1), with a colour bar."""
    grid_x, grid_y = np.meshgrid(np.linspace(*x_range, steps), np.linspace(*y_range, steps))  # (steps, steps)
    import torch  # here: figures.py itself never needs torch
    points = torch.tensor(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1), dtype=torch.float32)
    probability = np.asarray(predict(points)).reshape(grid_x.shape)
    contour = ax.contourf(grid_x, grid_y, probability, levels=20, cmap=plt.get_cmap(DIVERGING_CMAP).reversed(),
                          vmin=0, vmax=1, alpha=0.4)
    ax.figure.colorbar(contour, ax=ax, label=label, ticks=[0, 0.25, 0.5, 0.75, 1], pad=0.03)
    return contour


def plot_checks(axes, checks: dict, stop_accuracy: float, title: str) -> None:
    """The loss (top) and the accuracy (bottom, in %, with the stop rule drawn) at every check;
    checks = {"iteration": [...], "loss": [...], "accuracy": [...]}."""
    ax_loss, ax_accuracy = axes
    ax_loss.plot(checks["iteration"], checks["loss"], "o-", color=BLUE, ms=4)
    ax_loss.set(ylabel="loss", title=title)
    ax_accuracy.plot(checks["iteration"], checks["accuracy"], "s-", color=GREEN, ms=4)
    ax_accuracy.axhline(stop_accuracy, color=GREY, ls="--", lw=1)
    ax_accuracy.text(0, stop_accuracy + 0.002, f"stop rule: accuracy > {stop_accuracy:g}", color=GREY, va="bottom")
    ax_accuracy.set(xlabel="iteration", ylabel="accuracy", ylim=(min(0.9, min(checks["accuracy"]) - 0.01), 1.0))
    ax_accuracy.yaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:.0%}"))


def draw_ddp_proof(names, moved, differences, processes: str, per_process_batch: int, batch_size: int):
    """lesson_models/03's proof, per weight tensor on a log axis: how far one epoch moved it (blue)
    beside how far DDP and one process ended apart (orange; an identical tensor at the floor)."""
    floor = 1e-10  # a log axis has no 0
    fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
    x = np.arange(len(names))
    moved_bars = ax.bar(x - 0.2, moved, width=0.4, color=BLUE, label="moved in the epoch: max |w_end − w_start|")
    eps_line = ax.axhline(np.finfo(np.float32).eps, color=GREY, ls=":", label="float32 rounding (eps)")
    difference_bars = ax.bar(x + 0.2, [max(d, floor) for d in differences], width=0.4, color=ORANGE,
                             label="DDP against one process: max |w_ddp − w_single|")
    ax.set_yscale("log")
    ax.set_ylim(floor / 3, 1)
    ax.set_xticks(x, names, rotation=30, ha="right")
    verdict = ("the same steps up to rounding" if max(differences) > 0 else
               "identical\n(one process on both sides: start two with torchrun to compare)")
    ax.set(ylabel="largest absolute change",
           title=f"One epoch on {processes} × batch {per_process_batch} against 1 × batch {batch_size}: {verdict}")
    fig.legend(handles=[moved_bars, eps_line, difference_bars], loc="outside lower center", ncol=2)
    return fig


def draw_ddp_training(history: dict, iterations_per_epoch: int, start_epoch: int, processes: str,
                      per_process_batch: int):
    """lesson_models/03's curves: the loss of every step (summed over the processes) with the valid
    loss after each epoch, a line where a resumed run went on; train and valid accuracy per epoch.
    history: {"train_loss": per step, "valid_loss", "train_acc", "valid_acc": per epoch}."""
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(10, 7.5), layout="constrained")
    valid_x = [(epoch + 1) * iterations_per_epoch for epoch in range(len(history["valid_loss"]))]
    ax_loss.plot(range(1, len(history["train_loss"]) + 1), history["train_loss"], color=BLUE,
                 label="train (each step, all processes)")
    ax_loss.plot(valid_x, history["valid_loss"], "o-", color=VERMILLION, label="valid (after each epoch)")
    if start_epoch:
        ax_loss.axvline(start_epoch * iterations_per_epoch, color=GREY, ls="--", label="resumed here")
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy loss",
                title=f"LeNet on {processes}: each step {processes.split()[0]} × {per_process_batch} photos")
    ax_loss.legend(loc="upper right")
    epochs = range(len(history["train_acc"]))
    ax_acc.plot(epochs, [100 * a for a in history["train_acc"]], "o-", color=BLUE, label="train (random crops)")
    ax_acc.plot(epochs, [100 * a for a in history["valid_acc"]], "s-", color=VERMILLION, label="valid")
    ax_acc.axhline(50, color=GREY, ls=":", label="chance")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 102), xticks=list(epochs),
               title="Accuracy: all photos right / all photos seen, summed over the processes")
    ax_acc.legend(loc="lower right")
    return fig
