"""Synthetic banknote photos in the course's layout, for learners without the course's photos.

    write_synthetic_rmb(Path("data/RMB_data"), per_class=100)
    # data/RMB_data/1/0000.jpg ... 0099.jpg and data/RMB_data/100/0000.jpg ... 0099.jpg

Each photo (about 1200×600, JPEG) shows one banknote-shaped card lying on a cluttered background,
rotated, scaled, moved, lit unevenly, tinted, blurred and noisy. The two denominations differ in
their palette (1 yuan: olive green; 100 yuan: red), their numeral ("1" or "100"), and their pattern
(stripes or rosettes); but colours overlap (a faded note, a warm or cold light, a red table under a
green note), so no single cue decides every photo and LeNet needs a few epochs to combine them.

Everything is drawn from one seed: the same seed gives the same bytes, and photo i of a class does
not depend on how many photos are asked for.
"""
import colorsys
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw

CLASS_NAMES = ("1", "100")
GENERATOR_SEED = 2024  # fixed, so data/RMB_data is the same whichever lesson generates it
PHOTO_SIZE = (1200, 600)  # (width, height) of a default photo, about a phone photo cut to a note
JPEG_QUALITY = 90
MARKER_FILE = "SYNTHETIC.txt"  # says "these photos are generated"; not an image, so RMBDataset skips it

# Class palettes as hue (degrees) centre and spread: real 1-yuan notes are olive green, 100-yuan red.
HUE_CENTRE = {"1": 95.0, "100": 355.0}
HUE_SPREAD = 10.0


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


def _draw_numeral(draw: ImageDraw.ImageDraw, text: str, x: float, y: float, height: float, colour: tuple) -> float:
    """Draw "1" or "100" with plain strokes (no font needed), top-left at (x, y); returns its width."""
    stroke = max(1, int(height * 0.16))
    cursor = x
    for digit in text:
        if digit == "1":
            draw.rectangle((cursor + height * 0.18, y, cursor + height * 0.18 + stroke, y + height), fill=colour)
            draw.line((cursor, y + height * 0.25, cursor + height * 0.18 + stroke / 2, y), fill=colour, width=stroke)
            cursor += height * 0.45
        else:  # "0"
            draw.ellipse((cursor, y, cursor + height * 0.6, y + height), outline=colour, width=stroke)
            cursor += height * 0.75
    return cursor - x


def _banknote(rng: np.random.Generator, denomination: str, size: tuple) -> Image.Image:
    """The note itself, upright, as an RGBA card of `size` (transparent outside the card)."""
    width, height = size
    hue = HUE_CENTRE[denomination] + rng.normal(0, HUE_SPREAD)
    saturation = rng.uniform(0.45, 0.8)  # from faded to vivid
    value = rng.uniform(0.55, 0.95)
    paper = _hsv(hue, saturation, value)
    ink = _hsv(hue + rng.normal(0, 15), min(saturation + 0.25, 1), value * rng.uniform(0.35, 0.65))
    light = _hsv(hue, saturation * 0.35, min(value * 1.15, 1))

    card = Image.new("RGBA", size, paper + (255,))
    draw = ImageDraw.Draw(card)
    margin = height * 0.06
    draw.rectangle((margin, margin, width - margin, height - margin), outline=ink, width=max(1, int(height * 0.02)))

    # The pattern: fine stripes on the 1-yuan note, rosettes (concentric rings) on the 100-yuan note.
    if denomination == "1":
        spacing = height * rng.uniform(0.08, 0.12)
        slant = rng.uniform(-0.4, 0.4) * height
        for x in np.arange(margin, width * 0.62, spacing):
            draw.line((x, margin, x + slant, height - margin), fill=ink, width=max(1, int(spacing * 0.4)))
    else:
        for _ in range(2):
            cx, cy = rng.uniform(0.15, 0.5) * width, rng.uniform(0.3, 0.7) * height
            for radius in np.arange(height * 0.06, height * rng.uniform(0.25, 0.4), height * 0.07):
                draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=ink,
                             width=max(1, int(height * 0.03)))

    # The portrait window on the right (both notes have one), and the numerals.
    px = width * rng.uniform(0.64, 0.72)
    draw.ellipse((px, height * 0.15, px + width * 0.22, height * 0.85), fill=light)
    draw.ellipse((px + width * 0.06, height * 0.3, px + width * 0.16, height * 0.62), fill=ink)
    big = height * rng.uniform(0.28, 0.38)
    _draw_numeral(draw, denomination, width * 0.08, height - margin * 1.5 - big, big, ink)
    small = height * 0.14
    _draw_numeral(draw, denomination, width - margin * 2 - small * (2 if denomination == "100" else 0.6),
                  margin * 1.5, small, ink)
    return card


def _apply_gains(image: Image.Image, gains: tuple) -> Image.Image:
    """Multiply each channel by its gain (a tinted light) with one lookup table: fast in C."""
    table = []
    for gain in gains:
        table.extend(min(255, int(round(level * gain))) for level in range(256))
    return image.point(table)


def synthetic_banknote(denomination: str, index: int, seed: int = GENERATOR_SEED,
                       size: tuple = PHOTO_SIZE) -> Image.Image:
    """Photo `index` of `denomination` ("1" or "100"): an RGB image of about `size` (width, height)."""
    if denomination not in CLASS_NAMES:
        raise ValueError(f"denomination must be one of {CLASS_NAMES}, got {denomination!r}")
    rng = np.random.default_rng([seed, CLASS_NAMES.index(denomination), index])
    width = int(size[0] * rng.uniform(0.92, 1.08))
    height = int(size[1] * rng.uniform(0.92, 1.08))
    photo = _background(rng, (width, height))

    # The note: a random scale, a random turn (sometimes upside down), anywhere mostly in view.
    card_width = int(width * rng.uniform(0.55, 0.85))
    card_height = int(card_width * rng.uniform(0.46, 0.52))  # banknotes are about 2:1
    card = _banknote(rng, denomination, (card_width, card_height))
    angle = rng.normal(0, 12) + (180 if rng.random() < 0.5 else 0)
    card = card.rotate(angle, resample=Image.Resampling.NEAREST, expand=True)  # the blur below smooths the edges
    x = int(rng.uniform(0.0, 1.0) * (width - card.width)) if width > card.width else (width - card.width) // 2
    y = int(rng.uniform(0.0, 1.0) * (height - card.height)) if height > card.height else (height - card.height) // 2
    photo.paste(card, (x, y), card)

    # The camera, done at a reduced size because it is the costly part: focus blur (shrink now, grow
    # back at the end), uneven tinted light, and sensor noise.
    blur = int(rng.choice([2, 2, 3]))
    small = photo.reduce(blur)
    cast = np.exp(rng.normal(0, 0.06, size=3))  # a warm or cold light: one gain per channel
    light = [tuple(int(min(255, rng.uniform(130, 255) * gain)) for gain in cast) for _ in range(4)]
    small = ImageChops.multiply(small, _gradient(small.size, light))
    small = _apply_gains(small, (rng.uniform(1.0, 1.5),) * 3)  # the exposure
    # Noise from our own generator (Image.effect_noise draws from C's rand(), which no seed reaches).
    noise = rng.normal(128, rng.uniform(3, 12), size=(small.height, small.width))  # (H, W)
    noise = Image.fromarray(noise.clip(0, 255).astype(np.uint8))  # "L"
    small = ImageChops.add(small, Image.merge("RGB", (noise, noise, noise)), scale=1.0, offset=-128)
    return small.resize((width, height), Image.Resampling.BILINEAR)


def write_synthetic_rmb(root: Path, per_class: int = 100, seed: int = GENERATOR_SEED,
                        size: tuple = PHOTO_SIZE) -> dict:
    """Write `per_class` JPEGs per denomination into root/1 and root/100, and a marker file.

    `root` must not exist yet or be empty: nothing a user put there is ever overwritten.
    Returns {class name: number of photos}.
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; synthetic photos go into a new folder only")
    for denomination in CLASS_NAMES:
        folder = root / denomination
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            photo = synthetic_banknote(denomination, index, seed, size)
            photo.save(folder / f"{index:04d}.jpg", quality=JPEG_QUALITY)
    (root / MARKER_FILE).write_text(
        f"Synthetic banknote photos drawn by tools/rmb_synthetic.py (seed {seed}, {per_class} per class).\n"
        "To use real photos, replace the folders 1/ and 100/ with your own pictures and delete this file.\n",
        encoding="utf-8")
    return {denomination: per_class for denomination in CLASS_NAMES}
