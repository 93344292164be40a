"""tools/rmb_synthetic.py: banknote photos like the course's, seeded, and a marker listing what was written
(with checksums, in sha256sum's format).

No lesson runs: everything here draws small photos in-process (well under a second in all).
"""
import hashlib
import re

import numpy as np
import pytest
from PIL import Image

import tools.rmb_dataset as rmb_dataset
from tools.rmb_prepare import data_source
from tools.metrics import file_sha256
from tools.rmb_synthetic import (CLASS_NAMES, MARKER_FILE, PHOTO_SIZE, draw_banknote, synthetic_banknote,
                                 write_new_series, write_synthetic_rmb)

SMALL = (96, 48)
NOTES = {"1 yuan (1980)": ("1", "1980"), "100 yuan (1980)": ("100", "1980"), "100 yuan (2015)": ("100", "2015")}


def paper_colour(denomination: str, series: str, seed: int) -> tuple:
    """(hue in degrees within (-180, 180], saturation): the median over a note's pixels, i.e. its paper."""
    card = draw_banknote(np.random.default_rng(seed), denomination, (200, 100), series)
    opaque = np.asarray(card)[..., 3] > 0
    hsv = np.asarray(card.convert("RGB").convert("HSV"), dtype=np.float64)[opaque]  # (pixels, 3), 0..255
    hue = (hsv[:, 0] * 360 / 256 + 180) % 360 - 180  # red sits at 0, on both sides
    return float(np.median(hue)), float(np.median(hsv[:, 1] / 255))


def listed_files(root) -> dict:
    """The marker's file list, read as sha256sum reads it: '#' comment lines first, then one
    `<64 hex digits>  <relative posix path>` line per file. Returns {path: checksum}."""
    lines = (root / MARKER_FILE).read_text(encoding="utf-8").splitlines()
    comments = [index for index, line in enumerate(lines) if line.startswith("#")]
    assert comments and comments == list(range(len(comments))), "comment lines come first"
    listed = {}
    for line in lines[len(comments):]:
        match = re.fullmatch(r"([0-9a-f]{64})  ([^/\\].*)", line)
        assert match and ".." not in match[2].split("/"), line
        listed[match[2]] = match[1]
    return listed


def test_same_seed_same_bytes_and_photo_i_does_not_depend_on_the_count(tmp_path):
    a, b = synthetic_banknote("100", 7), synthetic_banknote("100", 7)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != synthetic_banknote("100", 8).tobytes()
    assert a.tobytes() != synthetic_banknote("100", 7, seed=3).tobytes()
    assert a.tobytes() != synthetic_banknote("100", 7, series="2015").tobytes()  # a stream of its own
    write_synthetic_rmb(tmp_path / "a", per_class=3, size=SMALL)
    write_synthetic_rmb(tmp_path / "b", per_class=3, size=SMALL)
    write_synthetic_rmb(tmp_path / "c", per_class=2, size=SMALL)
    for relative in ("1/0000.jpg", "1/0002.jpg", "100/0001.jpg", MARKER_FILE):
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
    assert (tmp_path / "a" / "100/0001.jpg").read_bytes() == (tmp_path / "c" / "100/0001.jpg").read_bytes()
    write_new_series(tmp_path / "n1", count=2, size=SMALL)
    write_new_series(tmp_path / "n2", count=2, size=SMALL)
    assert (tmp_path / "n1" / "0001.jpg").read_bytes() == (tmp_path / "n2" / "0001.jpg").read_bytes()


def test_photos_are_photo_like():
    """About 1200×600 by default, RGB, a note on a cluttered, unevenly lit, noisy background."""
    for denomination, series in NOTES.values():
        photo = synthetic_banknote(denomination, 3, series=series)
        assert photo.mode == "RGB"
        assert 0.9 * PHOTO_SIZE[0] <= photo.width <= 1.1 * PHOTO_SIZE[0]
        assert 0.9 * PHOTO_SIZE[1] <= photo.height <= 1.1 * PHOTO_SIZE[1]
        pixels = np.asarray(photo, dtype=np.float64)  # (H, W, 3)
        assert pixels.std(axis=(0, 1)).min() > 15  # not a flat card: background, clutter, light
        flat = pixels[:, 1:] - pixels[:, :-1]  # neighbour differences: sensor noise is never exactly 0
        assert 1 < np.median(np.abs(flat)) < 20
    small = synthetic_banknote("1", 0, size=SMALL)
    assert abs(small.width - SMALL[0]) <= 0.1 * SMALL[0] and abs(small.height - SMALL[1]) <= 0.1 * SMALL[1]


@pytest.mark.parametrize("note", NOTES)
def test_paper_colours_are_those_of_the_real_notes(note):
    """The course's photos: 1 yuan red-orange (median hue ~11°), 100 yuan grey-blue (~181°, low
    saturation); photos of the 2015 note: hue 345-351°, saturation 0.17-0.26."""
    colours = [paper_colour(*NOTES[note], seed) for seed in range(20)]
    hues, saturations = np.array([h for h, _ in colours]), np.array([s for _, s in colours])
    if note == "1 yuan (1980)":
        assert np.all((hues >= -5) & (hues <= 30)) and 5 < np.median(hues) < 20  # red to orange
        assert np.all((saturations >= 0.18) & (saturations <= 0.55))
    elif note == "100 yuan (1980)":
        hues %= 360
        assert np.all((hues >= 175) & (hues <= 220))  # cyan-blue to blue
        assert np.all(saturations <= 0.26) and np.median(saturations) < 0.2  # greyish
    else:
        assert np.all((hues >= -17) & (hues <= -7))  # 343-353°: red, next to the 1-yuan note's hue
        assert np.all((saturations >= 0.15) & (saturations <= 0.28))


def test_the_2015_note_has_a_gold_numeral_and_the_1980_notes_do_not():
    def gold_share(denomination, series):
        card = draw_banknote(np.random.default_rng(0), denomination, (400, 200), series)
        hsv = np.asarray(card.convert("RGB").convert("HSV"), dtype=np.float64).reshape(-1, 3)
        hue = hsv[:, 0] * 360 / 256
        return float(np.mean((hue > 25) & (hue < 45) & (hsv[:, 1] > 0.7 * 255)))
    assert gold_share("100", "2015") > 0.02
    assert gold_share("100", "1980") == 0 and gold_share("1", "1980") == 0


def test_whole_photos_are_not_told_apart_by_their_mean_colour(tmp_path):
    """The note's colour is the easy cue, but it has to be found: the photo's mean colour, diluted by
    a background and clutter of any colour, decides far from every photo."""
    write_synthetic_rmb(tmp_path, per_class=60, size=SMALL)
    features = {name: np.array([np.asarray(Image.open(path).convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(0)
                                for path in sorted((tmp_path / name).glob("*.jpg"))]) for name in CLASS_NAMES}
    centres = {name: f.mean(0) for name, f in features.items()}
    correct = sum((np.linalg.norm(f - centres[name], axis=1) < np.linalg.norm(f - centres[other], axis=1)).sum()
                  for name, other, f in (("1", "100", features["1"]), ("100", "1", features["100"])))
    assert 0.55 < correct / 120 < 0.92


def test_the_marker_lists_every_file_written_with_its_checksum(tmp_path):
    counts = write_synthetic_rmb(tmp_path / "raw", per_class=4, size=SMALL)
    assert counts == {"1": 4, "100": 4}
    on_disk = sorted(path.relative_to(tmp_path / "raw").as_posix() for path in (tmp_path / "raw").rglob("*")
                     if path.is_file() and path.name != MARKER_FILE)
    listed = listed_files(tmp_path / "raw")
    assert sorted(listed) == on_disk and len(on_disk) == 8
    for relative, checksum in listed.items():  # the bytes on disk, hashed here without the generator's help
        assert checksum == hashlib.sha256((tmp_path / "raw" / relative).read_bytes()).hexdigest() == \
            file_sha256(tmp_path / "raw" / relative)
    assert data_source(tmp_path / "raw") == "synthetic"

    paths = write_new_series(tmp_path / "new", count=3, size=SMALL)
    assert [path.name for path in paths] == ["0000.jpg", "0001.jpg", "0002.jpg"]
    assert list(listed_files(tmp_path / "new")) == ["0000.jpg", "0001.jpg", "0002.jpg"]
    assert all(listed_files(tmp_path / "new")[path.name] == file_sha256(path) for path in paths)
    assert all(Image.open(path).mode == "RGB" for path in paths)


def test_the_class_names_are_the_datasets():
    """One definition: the generator draws the folders the Dataset reads, in label order."""
    assert CLASS_NAMES is rmb_dataset.CLASS_NAMES
    assert [rmb_dataset.LABELS[name] for name in CLASS_NAMES] == [0, 1]


def test_never_writes_into_a_folder_that_holds_something(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "notes.txt").write_text("mine")
    for write in (lambda: write_synthetic_rmb(tmp_path / "raw", per_class=1, size=SMALL),
                  lambda: write_new_series(tmp_path / "raw", count=1, size=SMALL)):
        with pytest.raises(FileExistsError):
            write()
    assert [path.name for path in (tmp_path / "raw").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    write_synthetic_rmb(tmp_path / "empty", per_class=1, size=SMALL)  # an empty folder is fine


def test_there_is_no_1_yuan_note_of_the_2015_series():
    with pytest.raises(ValueError, match="2015"):
        synthetic_banknote("1", 0, series="2015")
    with pytest.raises(ValueError):
        synthetic_banknote("5", 0)
