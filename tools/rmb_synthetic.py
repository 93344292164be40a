"""Synthetic banknote photos like the course's, for learners without the course's photos.

    write_synthetic_rmb(Path("data/RMB_data"), per_class=100)
    # data/RMB_data/1/0000.jpg ... 0099.jpg and data/RMB_data/100/0000.jpg ... 0099.jpg
    write_new_series(Path("new_notes"), count=20)   # 100-yuan notes of the 2015 series, never for training

Each photo (about 1200×600, JPEG) shows one banknote lying on a cluttered table: rotated, scaled,
moved, lit unevenly, tinted, faded, blurred and noisy. The notes are those of the course's photos,
the 1980 series: the 1-yuan note pink to red-brown (hue about 11°) with fine stripes, two portraits
and the numeral "1"; the 100-yuan note grey-blue (hue about 180–210°, little saturation) with
rosettes, a block of four portraits and "100". Colour is the easy cue, as on the real photos.
The 2015 100-yuan note is red (hue 345–351°, the 1-yuan note's colour), with rosettes, a single
portrait and "100" in gold-orange: what a model that learned "red means 1 yuan" gets wrong.

Everything is drawn from one seed: the same seed gives the same bytes, and photo i of a class does
not depend on how many photos are asked for. A marker file lists every file the generator wrote,
with its SHA-256, in sha256sum's format (`sha256sum -c SYNTHETIC.txt` checks them).
"""
import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from tools.metrics import file_sha256
from tools.rmb_dataset import CLASS_NAMES
GENERATOR_SEED = 2024  # fixed, so data/RMB_data is the same whichever lesson generates it
PHOTO_SIZE = (1200, 600)  # (width, height) of a default photo, about a phone photo cut to a note
JPEG_QUALITY = 90
MARKER_FILE = "SYNTHETIC.txt"  # lists what the generator wrote; not an image, so RMBDataset skips it

# The paper's colour of each note as (low, high) ranges of hue (degrees) and saturation, after the
# course's photos (1-yuan median hue ~11°, saturation ~0.23; 100-yuan ~181°, ~0.13) and photos of
# the 2015 note (hue 345–351°, saturation 0.17–0.26). Brightness has the same range for every note,
# so that only the colour (and the print) tells them apart.
PAPER = {  # (denomination, series): the course's photos are of the 1980 series
    ("1", "1980"): {"hue": (0.0, 24.0), "saturation": (0.2, 0.5)},  # pink to red-brown
    ("100", "1980"): {"hue": (185.0, 212.0), "saturation": (0.08, 0.24)},  # grey-blue
    ("100", "2015"): {"hue": (345.0, 351.0), "saturation": (0.17, 0.26)},  # red
}
PAPER_VALUE = (0.55, 0.92)
GOLD_HUE = (28.0, 40.0)  # the 2015 note's large "100" (optically variable ink: gold to orange)
NOTE_WIDTH = (0.65, 0.92)  # the note's width, as a fraction of the photo's
UPSIDE_DOWN = 0.5  # the share of photos with the note turned by 180°
LIGHT_CAST = 0.06  # spread of the light's colour: log-gain of each channel
BIG_NUMERAL = (0.42, 0.5)  # the large numeral's height, as a fraction of the note's
RING_WIDTH, RING_STEP = 0.06, 0.12  # the rosettes' line width and spacing, as fractions of the note's height
PORTRAITS = {("1", "1980"): 2, ("100", "1980"): 4, ("100", "2015"): 1}  # heads in the portrait window
STREAM = {("1", "1980"): 0, ("100", "1980"): 1, ("100", "2015"): 2}  # one random stream per kind of note


def _hsv(hue_degrees: float, saturation: float, value: float) -> tuple:
    r, g, b = colorsys.hsv_to_rgb((hue_degrees % 360) / 360, min(max(saturation, 0), 1), min(max(value, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def _random_colour(rng: np.random.Generator) -> tuple:
    return _hsv(rng.uniform(0, 360), rng.uniform(0.05, 0.7), rng.uniform(0.25, 0.95))


def _gradient(size: tuple, corner_colours: list) -> Image.Image:
    """A smooth four-corner gradient of `size`: a 2×2 picture stretched bilinearly (cheap)."""
    corners = Image.new("RGB", (2, 2))
    corners.putdata(corner_colours)
    return corners.resize(size, Image.Resampling.BILINEAR)


def _background(rng: np.random.Generator, size: tuple) -> Image.Image:
    """A table or a cloth: a gradient plus a few objects and lines of any colour (distractors)."""
    width, height = size
    base = _random_colour(rng)
    corners = [tuple(int(min(max(c + rng.normal(0, 25), 0), 255)) for c in base) for _ in range(4)]
    image = _gradient(size, corners)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(2, 7)):  # objects: paper, a phone, a cup seen from above
        x0, y0 = rng.uniform(-0.2, 1.0) * width, rng.uniform(-0.2, 1.0) * height
        w, h = rng.uniform(0.1, 0.45) * width, rng.uniform(0.1, 0.6) * height
        shape = draw.ellipse if rng.random() < 0.4 else draw.rectangle
        shape((x0, y0, x0 + w, y0 + h), fill=_random_colour(rng))
    if rng.random() < 0.5:  # wood grain or cloth stripes
        spacing = rng.uniform(10, 60)
        colour = _random_colour(rng)
        for y in np.arange(rng.uniform(0, spacing), height, spacing):
            draw.line((0, y, width, y + rng.uniform(-40, 40)), fill=colour, width=int(rng.integers(1, 5)))
    return image


def _draw_numeral(draw: ImageDraw.ImageDraw, text: str, x: float, y: float, height: float, colour: tuple) -> None:
    """Draw "1" or "100" with plain strokes (no font needed), top-left at (x, y)."""
    stroke = max(1, int(height * 0.18))
    cursor = x
    for digit in text:
        if digit == "1":
            draw.rectangle((cursor + height * 0.18, y, cursor + height * 0.18 + stroke, y + height), fill=colour)
            draw.line((cursor, y + height * 0.25, cursor + height * 0.18 + stroke / 2, y), fill=colour, width=stroke)
            cursor += height * 0.45
        else:  # "0"
            draw.ellipse((cursor, y, cursor + height * 0.6, y + height), outline=colour, width=stroke)
            cursor += height * 0.75


def _draw_head(draw: ImageDraw.ImageDraw, cx: float, cy: float, size: float, colour: tuple) -> None:
    """A portrait seen from the front, centred at (cx, cy): a head over shoulders, `size` tall."""
    draw.ellipse((cx - size * 0.22, cy - size * 0.5, cx + size * 0.22, cy + size * 0.05), fill=colour)
    draw.chord((cx - size * 0.45, cy, cx + size * 0.45, cy + size * 0.9), 180, 360, fill=colour)


def draw_banknote(rng: np.random.Generator, denomination: str, size: tuple, series: str = "1980") -> Image.Image:
    """The note itself, upright, as an RGBA card of `size` (width, height), transparent outside it."""
    width, height = size
    paper_range = PAPER[(denomination, series)]
    hue = rng.uniform(*paper_range["hue"])
    saturation = rng.uniform(*paper_range["saturation"])
    value = rng.uniform(*PAPER_VALUE)
    paper = _hsv(hue, saturation, value)
    ink = _hsv(hue + rng.normal(0, 8), min(saturation * 1.5 + 0.1, 1), value * rng.uniform(0.35, 0.55))
    light = _hsv(hue, saturation * 0.4, min(value * 1.2, 1))
    head_tone = tuple((a + b) // 2 for a, b in zip(ink, light))  # engraved portraits: mid-tones, not solid ink

    card = Image.new("RGBA", size, paper + (255,))
    draw = ImageDraw.Draw(card)
    margin = height * 0.06
    draw.rectangle((margin, margin, width - margin, height - margin), outline=ink, width=max(1, int(height * 0.03)))

    # The portraits, in a light window: two in the middle of the 1-yuan note; a block of four (1980)
    # or a single large one (2015) at the right end of the 100-yuan notes.
    heads = PORTRAITS[(denomination, series)]
    if denomination == "1":
        window = (width * rng.uniform(0.34, 0.38), height * 0.14, width * rng.uniform(0.62, 0.66), height * 0.86)
    else:
        window = (width * rng.uniform(0.58, 0.64), height * 0.14, width - margin * 2, height * 0.86)
    draw.rounded_rectangle(window, radius=height * 0.1, fill=light)
    columns, rows = (2, 2) if heads == 4 else (heads, 1)
    head_size = (window[3] - window[1]) * (0.75 if heads == 1 else 0.55) / rows ** 0.7
    for head in range(heads):
        column, row = head % columns, head // columns
        cx = window[0] + (window[2] - window[0]) * (column + 0.5) / columns
        cy = window[1] + (window[3] - window[1]) * (row + 0.55) / rows
        _draw_head(draw, cx, cy, head_size, head_tone)

    # The pattern: slanted stripes left of the 1-yuan note's portraits, rosettes (rings) on the
    # 100-yuan notes, behind their numeral.
    if denomination == "1":
        spacing = height * rng.uniform(0.08, 0.12)
        slant = rng.uniform(-0.3, 0.3) * height
        for x in np.arange(width * 0.06, window[0] - abs(slant) - spacing, spacing):
            draw.line((x, margin, x + slant, height - margin), fill=ink, width=max(1, int(spacing * 0.4)))
    else:
        for _ in range(2):
            cx, cy = rng.uniform(0.2, 0.42) * width, rng.uniform(0.3, 0.6) * height
            for radius in np.arange(height * 0.06, height * rng.uniform(0.25, 0.38), height * RING_STEP):
                draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=ink,
                             width=max(1, int(height * RING_WIDTH)))

    # The numerals: a large one at the bottom (gold-orange on the 2015 note) and a small one at the
    # top; the 1-yuan note's at its right end. The gold is darker than the paper, so that it still
    # stands out in grey.
    numeral_colour = ink
    if series == "2015":
        numeral_colour = _hsv(rng.uniform(*GOLD_HUE), rng.uniform(0.8, 0.95), value * rng.uniform(0.6, 0.75))
    big, small = height * rng.uniform(*BIG_NUMERAL), height * 0.16
    for numeral_height, top, colour in ((big, height - margin * 1.5 - big, numeral_colour),
                                        (small, margin * 1.8, ink)):
        numeral_width = numeral_height * (0.45 if denomination == "1" else 1.95)
        left = width * 0.88 - numeral_width / 2 if denomination == "1" else width * 0.08
        _draw_numeral(draw, denomination, left, top, numeral_height, colour)
    return card


def _apply_gains(image: Image.Image, gains: tuple) -> Image.Image:
    """Multiply each channel by its gain (a tinted light) with one lookup table: fast in C."""
    table = []
    for gain in gains:
        table.extend(min(255, int(round(level * gain))) for level in range(256))
    return image.point(table)


def synthetic_banknote(denomination: str, index: int, seed: int = GENERATOR_SEED,
                       size: tuple = PHOTO_SIZE, series: str = "1980") -> Image.Image:
    """Photo `index` of `denomination` ("1" or "100") of `series` ("1980", or "2015" for a
    100-yuan note): an RGB image of about `size` (width, height)."""
    if (denomination, series) not in PAPER:
        raise ValueError(f"no {denomination!r}-yuan note of series {series!r}: choose one of {sorted(PAPER)}")
    rng = np.random.default_rng([seed, STREAM[(denomination, series)], index])
    width = int(size[0] * rng.uniform(0.92, 1.08))
    height = int(size[1] * rng.uniform(0.92, 1.08))
    photo = _background(rng, (width, height))

    # The note: a random scale, a random turn (sometimes upside down), anywhere mostly in view.
    card_width = int(width * rng.uniform(*NOTE_WIDTH))
    card_height = int(card_width * rng.uniform(0.46, 0.52))  # banknotes are about 2:1
    card = draw_banknote(rng, denomination, (card_width, card_height), series)
    angle = rng.normal(0, 12) + (180 if rng.random() < UPSIDE_DOWN else 0)
    card = card.rotate(angle, resample=Image.Resampling.NEAREST, expand=True)  # the blur below smooths the edges
    x = int(rng.uniform(0.0, 1.0) * (width - card.width)) if width > card.width else (width - card.width) // 2
    y = int(rng.uniform(0.0, 1.0) * (height - card.height)) if height > card.height else (height - card.height) // 2
    photo.paste(card, (x, y), card)

    # The camera, done at a reduced size because it is the costly part: focus blur (shrink now, grow
    # back at the end), uneven tinted light, and sensor noise.
    blur = int(rng.choice([2, 2, 3]))
    small = photo.reduce(blur)
    cast = np.exp(rng.normal(0, LIGHT_CAST, size=3))  # a warm or cold light: one gain per channel
    corners = rng.uniform(130, 255, size=4)  # uneven light: a brightness for each corner
    light = [tuple(int(min(255, corner * gain)) for gain in cast) for corner in corners]
    small = ImageChops.multiply(small, _gradient(small.size, light))
    small = _apply_gains(small, (rng.uniform(1.0, 1.5),) * 3)  # the exposure
    # Noise from our own generator (Image.effect_noise draws from C's rand(), which no seed reaches).
    noise = rng.normal(128, rng.uniform(3, 12), size=(small.height, small.width))  # (H, W)
    noise = Image.fromarray(noise.clip(0, 255).astype(np.uint8))  # "L"
    small = ImageChops.add(small, Image.merge("RGB", (noise, noise, noise)), scale=1.0, offset=-128)
    return small.resize((width, height), Image.Resampling.BILINEAR)


def _new_folder(root: Path) -> Path:
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; synthetic photos go into a new folder only")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _write_marker(root: Path, description: str, written: list) -> None:
    """The marker: '#' comment lines, then one `<sha256 hex>  <relative/posix/path>` line per file
    written (sha256sum's format), so that a clean-up removes exactly these files, and only while
    their content is still what was drawn: never a photo a user added or saved under the same name."""
    lines = [f"# {description}",
             "# Drawn by tools/rmb_synthetic.py: every file it wrote, with its SHA-256 (sha256sum format;",
             "# paths relative to this folder). Removing exactly these, and this file, leaves any photo you added."]
    lines += [f"{file_sha256(root / relative)}  {relative}" for relative in written]
    (root / MARKER_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_synthetic_rmb(root: Path, per_class: int = 100, seed: int = GENERATOR_SEED,
                        size: tuple = PHOTO_SIZE) -> dict:
    """Write `per_class` JPEGs per denomination (1980 series) into root/1 and root/100, and the marker.

    `root` must not exist yet or be empty: nothing a user put there is ever overwritten.
    Returns {class name: number of photos}.
    """
    root = _new_folder(root)
    written = []
    for denomination in CLASS_NAMES:
        (root / denomination).mkdir()
        for index in range(per_class):
            relative = f"{denomination}/{index:04d}.jpg"
            synthetic_banknote(denomination, index, seed, size).save(root / relative, quality=JPEG_QUALITY)
            written.append(relative)
    _write_marker(root, f"Synthetic banknote photos, 1980 series: seed {seed}, {per_class} per class, "
                        f"about {size[0]}x{size[1]}.", written)
    return {denomination: per_class for denomination in CLASS_NAMES}


def write_new_series(root: Path, count: int = 20, seed: int = GENERATOR_SEED, size: tuple = PHOTO_SIZE) -> list:
    """Write `count` photos of 2015-series 100-yuan notes into root (new or empty), and the marker.

    Returns the paths written, in order.
    """
    root = _new_folder(root)
    written = []
    for index in range(count):
        relative = f"{index:04d}.jpg"
        synthetic_banknote("100", index, seed, size, series="2015").save(root / relative, quality=JPEG_QUALITY)
        written.append(relative)
    _write_marker(root, f"Synthetic 100-yuan notes, 2015 series: seed {seed}, {count} photos, "
                        f"about {size[0]}x{size[1]}.", written)
    return [root / relative for relative in written]
