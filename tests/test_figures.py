"""The shared figure style, checked on every lesson (issue 13): colours only from the colour-blind-safe
palette of tools/figures.py, text no smaller than 9 pt, photo figures under 300 kB, figures no wider
than the gallery can show, and animations that hold their last frame."""
import re

import pytest
from PIL import Image

from conftest import LESSON_SCRIPTS, lesson_id
from tools.figures import DPI, GIF_LAST_FRAME_SECONDS, MAX_WIDTH_INCHES
from tools.metrics import read_figures

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


@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_saved_figures_are_light_legible_and_hold_their_last_frame(script, quick_runs):
    run = quick_runs[script]
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
