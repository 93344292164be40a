"""Figures: every one is saved as a PNG into the out-dir, and shown only when asked.

A headless run (the tests, the course runner, a server) never opens a window, never blocks and
never sleeps. Training that the notes animate with `plt.pause` is recorded as a GIF instead.
"""
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.animation import PillowWriter

from tools.cli import running_in_notebook_kernel

NON_INTERACTIVE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
PNG_DPI = 100
GIF_DPI = 80  # GIFs hold many frames: a little smaller keeps them light


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


def save_figure(fig, out_dir: Path, name: str, show: bool = False) -> Path:
    """Save `fig` as out_dir/<name>.png, show it if asked, then close it (figures hold memory)."""
    path = Path(out_dir) / f"{name}.png"
    fig.savefig(path, dpi=PNG_DPI, bbox_inches="tight")
    if show or running_in_notebook_kernel():
        _display(fig)
    plt.close(fig)
    return path


class GifRecorder:
    """Record a figure's successive states as the frames of a GIF: the notes' `plt.pause`, kept.

        with GifRecorder(fig, out_dir / "fit.gif", fps=2, show=args.show) as gif:
            for iteration in range(...):
                ...redraw the axes...
                gif.frame()

    With `show` on an interactive backend each frame is also drawn live (plt.pause); otherwise
    nothing waits. The GIF is written when the `with` block ends without an error.
    """

    def __init__(self, fig, path: Path, fps: float = 2, dpi: int = GIF_DPI, show: bool = False):
        self.fig = fig
        self.path = Path(path)
        self.frame_seconds = 1 / fps
        self.live = show and interactive_backend() and not running_in_notebook_kernel()
        self.frame_count = 0
        self._writer = PillowWriter(fps=fps)
        self._writer.setup(fig, self.path, dpi=dpi)

    def frame(self) -> None:
        self._writer.grab_frame()
        self.frame_count += 1
        if self.live:
            plt.pause(self.frame_seconds)

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        if error_type is None:
            if self.frame_count == 0:
                raise ValueError(f"{self.path.name}: no frame was recorded")
            self._writer.finish()  # PillowWriter writes every frame to the GIF here
        return False
