"""The shared figure style, checked on every lesson (issue 13): colours only from the colour-blind-safe
palette of tools/figures.py, text no smaller than 9 pt, photo figures under 300 kB, figures no wider
than the gallery can show, and animations that hold their last frame; and how figures are written
(issue 20): an animation keeps a bounded, evenly spaced sample of its frames and the final state,
and every file of the out-dir is written whole or not at all."""
import errno
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from conftest import LESSON_SCRIPTS, lesson_id, run_lesson
from tools.errors import LessonError
from tools.figures import DPI, GIF_LAST_FRAME_SECONDS, MAX_WIDTH_INCHES, GifRecorder, save_figure
from tools.metrics import read_figures, write_whole

# What a lesson must not write: its own colour names, hex colours, matplotlib's colour letters in
# format strings ("r-", "k--", "go"), and red-green colour maps.
OWN_COLOURS = re.compile(
    r"""(?x)
    \b(color|colour|c|fc|ec|edgecolor|facecolor|mec|mfc)\s*=\s*["'](?!\#?none)[a-z#]   # color="red", c="#ff0000"
    | ["']tab:[a-z]+["']                                  # "tab:red"
    | ["']\#[0-9a-fA-F]{6}["']                            # "#D55E00"
    | ["'][rgbcmyk](-|--|-\.|:|\.|o|s|\^|x)["']           # "r-", "k--", "go"
    | (RdYlGn|RdGn|PiYG|PRGn|RdYlBu_r|coolwarm|bwr|seismic)   # maps whose two ends are red and green or red and blue
    """)
MAX_PHOTO_BYTES = 300_000
SMALLEST_FONT = 9


@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_lesson_picks_no_colour_of_its_own_and_no_tiny_text(script):
    source = script.read_text(encoding="utf-8")
    own = [match.group(0) for match in OWN_COLOURS.finditer(source)]
    assert not own, f"{script.name} picks its own colours {own}: use tools.figures' palette"
    sizes = [int(size) for size in re.findall(r"fontsize\s*=\s*(\d+)", source)]
    assert all(size >= SMALLEST_FONT for size in sizes), f"{script.name}: fontsize {min(sizes)} pt"


def test_the_colour_check_catches_what_it_should():
    for bad in ('color="red"', "c='g'", '"tab:green"', '"#00FF00"', 'plot(x, y, "r-")', 'cmap="RdYlGn"'):
        assert OWN_COLOURS.search(bad), bad
    for good in ("color=BLUE", "color=colour", 'cmap="gray"', 'ls="--"', 'facecolor="none"', 'loc="upper left"'):
        assert not OWN_COLOURS.search(good), good


# The smoke test's runs, shared (conftest): taken in the opposite order, so that when the two files run
# side by side each process runs half of the lessons instead of waiting on the other's.
@pytest.mark.parametrize("script", LESSON_SCRIPTS[::-1], ids=lesson_id)
def test_saved_figures_are_light_legible_and_hold_their_last_frame(script):
    run = run_lesson(script, "--quick")
    assert run.returncode == 0, run.explain()
    for figure in read_figures(run.out_dir):
        path = run.out_dir / figure["file"]
        with Image.open(path) as image:
            # bbox_inches="tight" may add a little for a legend placed outside the axes
            assert image.width <= MAX_WIDTH_INCHES * DPI * 1.1, f"{figure['file']}: {image.width} px wide"
            if path.suffix == ".jpg":
                assert path.stat().st_size <= MAX_PHOTO_BYTES, f"{figure['file']}: {path.stat().st_size} bytes"
            if path.suffix == ".gif":
                image.seek(image.n_frames - 1)
                assert image.info["duration"] >= GIF_LAST_FRAME_SECONDS * 1000 - 1, figure["file"]
        if path.suffix == ".png":
            assert path.stat().st_size <= 2 * MAX_PHOTO_BYTES, f"{figure['file']}: a photo? save it with photo=True"


# --- how figures are written -----------------------------------------------------------------------

def gif_grey_levels(path) -> list:
    """The mean grey level of each frame of a GIF."""
    levels = []
    with Image.open(path) as image:
        for index in range(image.n_frames):
            image.seek(index)
            levels.append(float(np.asarray(image.convert("L")).mean()))
    return levels


@pytest.mark.parametrize("calls", [7, 8, 9, 100])
def test_a_long_animation_is_sampled_evenly_and_ends_on_its_final_state(tmp_path, calls):
    # Frame k paints the whole figure grey level 2k (0 ... 198): a frame's level says which call it was.
    fig = plt.figure(figsize=(1, 1))
    with GifRecorder(fig, tmp_path / "count.gif", fps=10, caption="Counting", max_frames=8) as gif:
        for call in range(calls):
            fig.set_facecolor(str(2 * call / 255))
            gif.frame()
    plt.close(fig)
    calls_shown = [round(level / 2) for level in gif_grey_levels(tmp_path / "count.gif")]
    assert calls_shown[0] == 0 and calls_shown[-1] == calls - 1  # the start, and the final state held
    assert len(calls_shown) <= 8 + 1
    steps = np.diff(calls_shown[:-1])  # evenly spaced up to the final state, which may come sooner
    assert len(set(steps)) <= 1 and 0 < calls_shown[-1] - calls_shown[-2] <= max(steps, default=1)
    if calls <= 8:
        assert calls_shown == list(range(calls))  # while they fit, every frame is kept


def test_a_file_that_cannot_be_written_whole_is_not_written_at_all(tmp_path):
    (tmp_path / "fit.png").write_bytes(b"the previous run's figure")

    def half_then_full_disk(temporary):
        temporary.write_bytes(b"half a figure")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(LessonError) as stop:
        write_whole(tmp_path / "fit.png", half_then_full_disk)
    assert stop.value.status == 2
    assert stop.value.line().endswith(f"error: --out-dir {tmp_path}: cannot write fit.png (No space left on device)")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fit.png"]  # no partial file left
    assert (tmp_path / "fit.png").read_bytes() == b"the previous run's figure"


def test_a_figure_is_listed_only_once_written(tmp_path):
    fig = plt.figure(figsize=(2, 2))
    save_figure(fig, tmp_path, "first", caption="First")
    (tmp_path / "second.png").mkdir()  # a folder where the figure should go: os.replace fails
    fig = plt.figure(figsize=(2, 2))
    with pytest.raises(LessonError) as stop:
        save_figure(fig, tmp_path, "second", caption="Second")
    plt.close("all")
    assert "cannot write second.png" in stop.value.line() and f"--out-dir {tmp_path}" in stop.value.line()
    assert json.loads((tmp_path / "figures.json").read_text(encoding="utf-8")) == [{"file": "first.png", "caption": "First"}]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["figures.json", "first.png", "second.png"]
