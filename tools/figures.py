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
import json
import math
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from PIL import Image

from tools.cli import running_in_notebook_kernel
from tools.metrics import FIGURES_FILE

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
    (Path(out_dir) / FIGURES_FILE).write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")


def save_figure(fig, out_dir: Path, name: str, caption: str, show: bool = False, photo: bool = False) -> None:
    """Save `fig` as out_dir/<name>.png (.jpg with photo=True), list it with its caption, show it if
    asked (always in a notebook), then close it (figures hold memory).

    photo=True is for figures that are mostly photographs: JPEG keeps them a tenth of a PNG's size.
    """
    width = fig.get_figwidth()
    if width > MAX_WIDTH_INCHES + 1e-6:
        raise ValueError(f"{name}: the figure is {width:.1f} inches wide; at most {MAX_WIDTH_INCHES} "
                         "stays readable (put panels in rows)")
    file_name = f"{name}.jpg" if photo else f"{name}.png"
    options = {"pil_kwargs": {"quality": PHOTO_QUALITY}} if photo else {}
    fig.savefig(Path(out_dir) / file_name, dpi=DPI, bbox_inches="tight", **options)
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

    Each frame shows for 1/fps seconds and the last for GIF_LAST_FRAME_SECONDS. With `show` on an
    interactive backend each frame is also drawn live (plt.pause); otherwise nothing waits. The GIF
    is written when the `with` block ends without an error, and shown under the cell in a notebook.
    """

    def __init__(self, fig, path: Path, fps: float, caption: str, show: bool = False):
        if fig.get_figwidth() > MAX_WIDTH_INCHES + 1e-6:
            raise ValueError(f"{Path(path).name}: the figure is wider than {MAX_WIDTH_INCHES} inches")
        self.fig = fig
        self.path = Path(path)
        self.caption = caption
        self.frame_ms = round(1000 / fps)
        self.live = show and interactive_backend() and not running_in_notebook_kernel()
        self.frames = []  # PIL images, one per frame

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    def frame(self) -> None:
        self.fig.set_dpi(DPI)
        self.fig.canvas.draw()
        rgba = np.asarray(self.fig.canvas.buffer_rgba())  # (H, W, 4) uint8
        self.frames.append(Image.fromarray(rgba[:, :, :3].copy()))
        if self.live:
            plt.pause(self.frame_ms / 1000)

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        if error_type is not None:
            return False
        if not self.frames:
            raise ValueError(f"{self.path.name}: no frame was recorded")
        durations = [self.frame_ms] * (len(self.frames) - 1) + [max(self.frame_ms, math.ceil(GIF_LAST_FRAME_SECONDS * 1000))]
        self.frames[0].save(self.path, save_all=True, append_images=self.frames[1:], duration=durations,
                            loop=0)
        _list_figure(self.path.parent, self.path.name, self.caption)
        if running_in_notebook_kernel():
            from IPython.display import Image as NotebookImage, display  # only a kernel has IPython
            display(NotebookImage(filename=str(self.path)))  # a GIF plays in the notebook
        return False
