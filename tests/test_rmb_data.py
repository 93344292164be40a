"""tools/rmb_dataset.py (the Dataset, both ways of decoding, and listing photos) and tools/rmb_prepare.py
(the safe preparation of the folders): content compared, checksums of every copy, nothing written
where it must not be, one clean line for every refused path or photo, and interrupted or concurrent
lesson runs (real processes, real signals) that leave nothing behind."""
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

import tools.rmb_dataset as rmb_dataset
import tools.rmb_prepare as rmb_prepare
from conftest import LESSON_ENV, WORK_DIR, lesson_script
from tools.errors import LessonError
from tools.rmb_dataset import CLASS_NAMES, RMBDataset, image_files, labelled_image_files
from tools.rmb_prepare import (MANIFEST_FILE, check_split_dirs, copy_split, existing_folder, folder_checksum,
                               remove_stale_partials, split_fingerprint, write_folder)
from tools.metrics import file_sha256

SPLIT = lesson_script("lesson_models", "01_split_dataset")
TRAIN = lesson_script("lesson_models", "02_train_lenet")
TRAIN_TRANSFORM = transforms.Compose([transforms.Resize((32, 32)), transforms.RandomCrop(32, padding=4),
                                      transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.25] * 3)])
COLOURS = {"1": (200, 70, 60), "100": (70, 110, 200)}
NOT_UTF8 = os.fsdecode(b"\xc4\xe3\xba\xc3.jpg")  # "你好.jpg" in GBK, as an unzipped Chinese archive leaves it
LINUX = sys.platform.startswith("linux")
PROCESS_TIMEOUT_S = 120  # a bound for every lesson process (a few seconds each when the machine is idle)


def make_photos(root: Path, per_class: int = 12, size=(48, 24), seed: int = 0, padding: int = 0) -> Path:
    """A small photo folder in the course layout: noisy pictures of one colour per class.

    padding: bytes of zeros appended after each JPEG (decoders ignore them), to make copying take a while.
    """
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = np.clip(rng.normal(colour, 40, size=(size[1], size[0], 3)), 0, 255).astype(np.uint8)
            path = root / name / f"{index:04d}.jpg"
            Image.fromarray(pixels).save(path, quality=90)
            if padding:
                with open(path, "r+b") as file:
                    file.truncate(path.stat().st_size + padding)  # a sparse tail: no disk used until copied
    return root


def plan_of(raw_dir: Path, seed: int = 1) -> dict:
    """The lesson's plan, for the unit tests of copy_split: per class, sorted, shuffled, cut 80/10/10."""
    rng = random.Random(seed)
    plan = {"train": {}, "valid": {}, "test": {}}
    for name in CLASS_NAMES:
        photos = image_files(raw_dir / name)
        rng.shuffle(photos)
        train_end, valid_end = int(len(photos) * 0.8), int(len(photos) * 0.9)
        plan["train"][name], plan["valid"][name], plan["test"][name] = (
            photos[:train_end], photos[train_end:valid_end], photos[valid_end:])
    return plan


def expect_error(function, *fragments, status=2):
    """function() stops with one LessonError line (exit status 2: bad input) holding every fragment."""
    with pytest.raises(LessonError) as stop:
        function()
    line = stop.value.line()
    assert stop.value.status == status and "\n" not in line, line
    for fragment in fragments:
        assert str(fragment) in line, line
    return line


def partials(folder: Path) -> list:
    return sorted(folder.glob("*.partial-*")) if folder.is_dir() else []


# --- the Dataset ---------------------------------------------------------------------------------

def test_dataset_labels_order_and_skipped_files(tmp_path):
    colour = lambda path: Image.new("RGB", (40, 20), (200, 30, 30)).save(path)
    for name in CLASS_NAMES:
        (tmp_path / name).mkdir()
    for relative, maker in {
        "1/b.jpg": colour, "1/a.png": colour, "1/Thumbs.db": lambda p: p.write_bytes(b"\0" * 10),
        "1/._a.jpg": lambda p: p.write_bytes(b"\0\5\26\7"),  # a macOS resource fork, not a photo
        "100/.DS_Store": lambda p: p.write_bytes(b"Bud1"), "100/z.JPG": colour,
        "100/notes.txt": lambda p: p.write_text("x"),
    }.items():
        maker(tmp_path / relative)
    dataset = RMBDataset(tmp_path)
    assert [(path.name, label) for path, label in dataset.samples] == [("a.png", 0), ("b.jpg", 0), ("z.JPG", 1)]
    image, label = dataset[2]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and label == 1


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "1", "CMYK", "I;16", "F"])
def test_any_image_mode_becomes_a_sane_training_photo(tmp_path, mode):
    """16-bit and float photos too: scaled into 8 bits, not clipped to white or black."""
    suffix = {"L": ".jpg", "CMYK": ".jpg", "F": ".tif"}.get(mode, ".png")
    grey = Image.new("L", (40, 20), 128)
    image = {"I;16": Image.fromarray(np.full((20, 40), 128 * 257, np.uint16)),
             "F": Image.fromarray(np.full((20, 40), 128 / 255, np.float32))}.get(mode) or grey.convert(mode)
    for name in CLASS_NAMES:
        (tmp_path / name).mkdir()
        image.save(tmp_path / name / f"x{suffix}")
    tensor, _ = RMBDataset(tmp_path, transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()]))[0]
    assert tensor.shape == (3, 32, 32)
    if mode in ("L", "I;16", "F"):
        assert abs(tensor.mean().item() - 128 / 255) < 0.01, tensor.mean()


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    expect_error(lambda: RMBDataset(tmp_path / "nowhere"), "RMB data folder", tmp_path / "nowhere", "no such folder")
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "Thumbs.db").write_bytes(b"\0")
    expect_error(lambda: RMBDataset(tmp_path), tmp_path / "1", "no images")
    Image.new("RGB", (8, 8)).save(tmp_path / "1" / "a.jpg")
    expect_error(lambda: RMBDataset(tmp_path), tmp_path / "100", "no such folder")
    (tmp_path / "100").mkdir()
    expect_error(lambda: RMBDataset(tmp_path), tmp_path / "100", "no images")


def test_photos_in_a_folder_and_its_class_subfolders(tmp_path):
    """--predict's listing: the folder's own photos, then each subfolder's (sorted); a subfolder named
    after a class labels its photos (the course's test_data/100/100.jpg), any other gives None."""
    for relative in ("z.jpg", "1/b.png", "1/a.jpg", "100/100.jpg", "other/x.png", ".hidden/y.png", "100/Thumbs.db"):
        (tmp_path / relative).parent.mkdir(exist_ok=True)
        if relative.endswith(".db"):
            (tmp_path / relative).write_bytes(b"\0")
        else:
            Image.new("RGB", (8, 8)).save(tmp_path / relative, format="PNG")
    found = [(path.relative_to(tmp_path).as_posix(), label) for path, label in labelled_image_files(tmp_path)]
    assert found == [("z.jpg", None), ("1/a.jpg", 0), ("1/b.png", 0), ("100/100.jpg", 1), ("other/x.png", None)]
    (tmp_path / "empty" / "1").mkdir(parents=True)
    expect_error(lambda: labelled_image_files(tmp_path / "empty", "--predict"), "--predict", "holds no images")
    expect_error(lambda: labelled_image_files(tmp_path / "nowhere", "--predict"), "--predict", "no such folder")
    expect_error(lambda: labelled_image_files(tmp_path / "z.jpg", "--predict"), "--predict", "is a file")


def test_the_imagenet_normalisation_is_imagenets():
    """The mean and std the notes normalise with: ImageNet's, as torchvision documents them."""
    assert rmb_dataset.NORM_MEAN == [0.485, 0.456, 0.406] and rmb_dataset.NORM_STD == [0.229, 0.224, 0.225]


def test_truncated_jpeg_is_a_clear_error(tmp_path):
    raw = make_photos(tmp_path / "raw", per_class=1)
    good = (raw / "1" / "0000.jpg").read_bytes()
    (raw / "100" / "0000.jpg").write_bytes(good[: len(good) // 2])
    dataset = RMBDataset(raw)
    dataset[0]
    expect_error(lambda: dataset[1], raw / "100" / "0000.jpg", "cannot be decoded")
    expect_error(lambda: RMBDataset(raw, resize_once=(32, 32)), "cannot be decoded")  # in the constructor


def test_resize_once_gives_the_same_tensors_and_decodes_once(tmp_path, monkeypatch):
    raw = make_photos(tmp_path / "raw", per_class=6, size=(120, 60))
    opened = []
    real_open = rmb_dataset.open_rgb
    monkeypatch.setattr(rmb_dataset, "open_rgb", lambda path, what: opened.append(path) or real_open(path, what))
    every_epoch = RMBDataset(raw, TRAIN_TRANSFORM)
    once = RMBDataset(raw, TRAIN_TRANSFORM, resize_once=(32, 32))
    assert len(opened) == len(once) == 12  # the constructor decoded every photo once
    assert all(image.size == (32, 32) for image in once.images)
    for epoch in range(3):
        torch.manual_seed(epoch)
        expected = [every_epoch[index][0] for index in range(len(once))]
        torch.manual_seed(epoch)
        got = [once[index][0] for index in range(len(once))]
        for a, b in zip(expected, got):
            torch.testing.assert_close(a, b, rtol=0, atol=0)  # the same pixels and the same random crops
    assert len(opened) == 12 + 3 * 12  # decode every epoch: every time; resize once: never again
    torch.manual_seed(0)
    first = once[0][0]
    assert any(not torch.equal(first, once[0][0]) for _ in range(5))  # the crop is still drawn anew


# --- copying a split -----------------------------------------------------------------------------

def test_copy_split_copies_the_plan_and_compares_content(tmp_path):
    raw = make_photos(tmp_path / "raw", per_class=20)
    before = folder_checksum(raw)
    plan = plan_of(raw)
    assert copy_split(plan, tmp_path / "a", raw, seed=1) is True
    assert {part: {name: len(list((tmp_path / "a" / part / name).iterdir())) for name in CLASS_NAMES}
            for part in plan} == {"train": {"1": 16, "100": 16}, "valid": {"1": 2, "100": 2}, "test": {"1": 2, "100": 2}}
    assert rmb_prepare.split_data_source(tmp_path / "a") == "user"
    # split.json: every copy with the SHA-256 of its bytes, and nothing else (a clean-up removes only these).
    listed = json.loads((tmp_path / "a" / MANIFEST_FILE).read_text(encoding="utf-8"))["files"]
    copies = sorted(path.relative_to(tmp_path / "a").as_posix() for path in (tmp_path / "a").rglob("*.jpg"))
    assert sorted(listed) == copies and len(copies) == 40
    assert all(listed[relative] == file_sha256(tmp_path / "a" / relative) for relative in copies)
    assert listed[copies[0]] == file_sha256(raw / copies[0].split("/", 1)[1])  # the photo's own bytes
    assert copy_split(plan, tmp_path / "a", raw, seed=1) is False  # the same split: nothing copied
    assert copy_split(plan_of(raw), tmp_path / "b", raw, seed=1)
    assert split_fingerprint(tmp_path / "a") == split_fingerprint(tmp_path / "b")
    expect_error(lambda: copy_split(plan_of(raw, seed=2), tmp_path / "a", raw, seed=2),
                 tmp_path / "a", "different split")
    # Same names, same sizes, one byte flipped: a different split, found by content.
    victim = tmp_path / "a" / "valid" / "100" / plan["valid"]["100"][0].name
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    expect_error(lambda: copy_split(plan, tmp_path / "a", raw, seed=1), "different split")
    assert folder_checksum(raw) == before
    assert not partials(tmp_path)


def test_copy_split_needs_enough_photos(tmp_path):
    raw = make_photos(tmp_path / "raw", per_class=5)
    expect_error(lambda: copy_split(plan_of(raw), tmp_path / "split", raw, seed=1), raw / "1", "at least 10")
    assert not (tmp_path / "split").exists()


@pytest.mark.parametrize("damage", ["empty", "not an image", "no permission"])
def test_a_bad_photo_is_named_before_anything_is_copied(tmp_path, damage):
    raw = make_photos(tmp_path / "raw", per_class=10)
    victim = raw / "100" / "0003.jpg"
    if damage == "empty":
        victim.write_bytes(b"")
    elif damage == "not an image":
        victim.write_text("<html>the download page, not the photo</html>")
    else:
        if os.name == "nt" or os.geteuid() == 0:
            pytest.skip("root (or Windows) reads a file whatever its permissions")
        victim.chmod(0)
    cause = {"empty": "is empty (0 bytes)", "not an image": "is not an image", "no permission": "cannot be read"}[damage]
    expect_error(lambda: copy_split(plan_of(raw), tmp_path / "split", raw, seed=1), f"photo {victim}: {cause}")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["raw"]  # no split, no partial folder


def test_split_inside_the_photos_is_refused_before_anything_is_written(tmp_path):
    raw = make_photos(tmp_path / "raw", per_class=10)
    before = sorted(path for path in raw.rglob("*"))
    expect_error(lambda: check_split_dirs(raw, raw / "1" / "split_here"), "--split-dir", "inside the photo folder")
    expect_error(lambda: check_split_dirs(raw, raw), "--split-dir", "inside the photo folder")
    expect_error(lambda: check_split_dirs(tmp_path / "split" / "raw", tmp_path / "split"), "--raw-dir",
                 "inside the split folder")
    assert sorted(path for path in raw.rglob("*")) == before
    check_split_dirs(raw, tmp_path / "split")  # side by side: fine


def test_paths_the_system_refuses_are_one_line(tmp_path):
    too_long = tmp_path / ("d" * 300)
    cause = "File name too long" if LINUX else ""
    expect_error(lambda: check_split_dirs(too_long, tmp_path / "split"), "--raw-dir", too_long, cause)
    expect_error(lambda: check_split_dirs(tmp_path, too_long), "--split-dir", too_long, cause)
    expect_error(lambda: existing_folder(too_long, "--data-dir"), "--data-dir", cause)
    expect_error(lambda: image_files(too_long, "--predict"), "--predict", cause)
    expect_error(lambda: image_files(tmp_path / "nowhere", "--predict"), "--predict", "no such folder")
    (tmp_path / "file.txt").write_text("x")
    expect_error(lambda: existing_folder(tmp_path / "file.txt", "--data-dir"), "is a file")
    expect_error(lambda: image_files(tmp_path / "file.txt", "--predict"), "is a file")


@pytest.mark.skipif(not LINUX, reason="/proc is Linux's")
def test_split_under_proc_is_one_line_and_leaves_nothing(tmp_path):
    raw = make_photos(tmp_path / "raw", per_class=10)
    expect_error(lambda: copy_split(plan_of(raw), Path("/proc/rmb_split"), raw, seed=1),
                 "/proc/rmb_split", "cannot be written")
    assert not list(Path("/proc").glob("rmb_split*"))


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    raw = make_photos(tmp_path / "raw", per_class=10)
    copies = []
    real_copy = shutil.copyfile

    def copy_until_full(source, target):
        if len(copies) == 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        copies.append(target)
        return real_copy(source, target)

    monkeypatch.setattr(rmb_prepare.shutil, "copyfile", copy_until_full)
    expect_error(lambda: copy_split(plan_of(raw), tmp_path / "split", raw, seed=1),
                 tmp_path / "split", "No space left on device")
    assert len(copies) == 5 and not (tmp_path / "split").exists() and not partials(tmp_path)


@pytest.mark.skipif(not LINUX, reason="Linux keeps any bytes as a file name")
def test_photo_names_that_are_not_utf8(tmp_path):
    raw = make_photos(tmp_path / "raw", per_class=10)
    shutil.copyfile(raw / "1" / "0000.jpg", raw / "1" / NOT_UTF8)
    before = folder_checksum(raw)  # hashed as the file system's bytes
    assert copy_split(plan_of(raw), tmp_path / "split", raw, seed=1)
    assert folder_checksum(raw) == before
    copied = [path for part in ("train", "valid", "test") for path in (tmp_path / "split" / part / "1").iterdir()]
    assert NOT_UTF8 in [path.name for path in copied]
    listed = json.loads((tmp_path / "split" / MANIFEST_FILE).read_text(encoding="utf-8"))["files"]
    name = next(relative for relative in listed if relative.endswith(NOT_UTF8))  # as os.fsdecode gives it
    assert listed[name] == file_sha256(tmp_path / "split" / name)
    assert len(RMBDataset(tmp_path / "split" / "train", resize_once=(32, 32))) == 16


def test_another_run_finishing_first(tmp_path):
    """The loser of a race: the winner's folder holds what ours would: use it; anything else: refuse."""
    def fill_while_another_run_finishes(content):
        def fill(folder):
            for final in (tmp_path / "same", tmp_path / "other"):
                if not final.exists():  # the other run renames its complete folder into place meanwhile
                    final.mkdir()
                    (final / "photo.jpg").write_bytes(content)
            folder.mkdir()
            (folder / "photo.jpg").write_bytes(b"ours")
        return fill
    assert write_folder(tmp_path / "same", fill_while_another_run_finishes(b"ours"), "split folder") is False
    assert (tmp_path / "same" / "photo.jpg").read_bytes() == b"ours" and not partials(tmp_path)
    shutil.rmtree(tmp_path / "same")
    shutil.rmtree(tmp_path / "other")
    expect_error(lambda: write_folder(tmp_path / "other", fill_while_another_run_finishes(b"theirs"),
                                      "split folder"), "different content")
    assert (tmp_path / "other" / "photo.jpg").read_bytes() == b"theirs" and not partials(tmp_path)


@pytest.mark.skipif(os.name == "nt", reason="POSIX process checks")
def test_stale_partial_folders_are_removed_live_ones_kept(tmp_path):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # ended, not yet waited for
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        deadline = time.monotonic() + 20
        while LINUX and time.monotonic() < deadline:
            if Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.02)
        for pid in (ended.pid, zombie.pid, sleeper.pid, os.getpid()):
            (tmp_path / f"rmb_split.partial-{pid}" / "train").mkdir(parents=True)
        (tmp_path / "rmb_split.partial-notapid").mkdir()
        remove_stale_partials(tmp_path / "rmb_split")
        assert sorted(path.name for path in partials(tmp_path)) == sorted(
            [f"rmb_split.partial-{sleeper.pid}", "rmb_split.partial-notapid"])
    finally:
        sleeper.kill()
        sleeper.wait()
        zombie.wait()


# --- real lesson processes: interrupts and races -------------------------------------------------

def start(script, out_dir, *flags):
    """The lesson as a user starts it (the same command as conftest.run_lesson), without waiting for it:
    these tests signal it while it runs."""
    command = [sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning", str(script),
               "--out-dir", str(out_dir), "--device", "cpu", *map(str, flags)]
    return subprocess.Popen(command, cwd=WORK_DIR, env=LESSON_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")


def finish(process) -> tuple:
    try:
        stdout, stderr = process.communicate(timeout=PROCESS_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stdout, stderr


def stop_while_writing(process, final: Path, how: int) -> tuple:
    """Wait until `process` is writing <final>.partial-<its pid>, freeze it there (SIGSTOP), check that
    the folder is not complete yet, then send `how` and let it go on."""
    partial = final.with_name(f"{final.name}.partial-{process.pid}")
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while not partial.exists():
        assert process.poll() is None, finish(process)
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.002)
    process.send_signal(signal.SIGSTOP)
    assert partial.is_dir() and not final.exists(), "stopped too late: the folder was already complete"
    process.send_signal(how)
    process.send_signal(signal.SIGCONT)
    return finish(process)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_interrupts_while_drawing_or_copying_leave_nothing_behind(tmp_path):
    """SIGKILL leaves a partial folder that the next run removes; SIGINT and SIGTERM remove their own."""
    results = {}

    def drawing():  # 01 --quick draws its photos under the out-dir
        out_dir = tmp_path / "drawing"
        raw = out_dir.parent / "quick_data" / "RMB_data"
        killed = stop_while_writing(start(SPLIT, out_dir, "--quick"), raw, signal.SIGKILL)
        left = partials(raw.parent)
        interrupted = stop_while_writing(start(SPLIT, out_dir, "--quick"), raw, signal.SIGINT)
        results["drawing"] = killed, left, interrupted, partials(raw.parent), raw.exists()

    def copying():  # 01 --raw-dir with photos padded so that copying them takes a while
        raw = make_photos(tmp_path / "big_raw", per_class=10, padding=4_000_000)
        before = folder_checksum(raw)
        split = tmp_path / "split"
        flags = ("--raw-dir", raw, "--split-dir", split)
        killed = stop_while_writing(start(SPLIT, tmp_path / "copying", *flags), split, signal.SIGKILL)
        left = partials(tmp_path)
        terminated = stop_while_writing(start(SPLIT, tmp_path / "copying", *flags), split, signal.SIGTERM)
        results["copying"] = killed, left, terminated, partials(tmp_path), split.exists()
        results["source unchanged"] = folder_checksum(raw) == before

    threads = [threading.Thread(target=job) for job in (drawing, copying)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for job in ("drawing", "copying"):
        killed, left, stopped, left_after, complete = results[job]
        assert killed[0] == -signal.SIGKILL and len(left) == 1, (job, killed, left)
        assert stopped[0] == 130 and stopped[2].strip().endswith("interrupted"), (job, stopped)
        assert "Traceback" not in stopped[2], stopped[2]
        assert "Removed" in stopped[1] and left[0].name in stopped[1], (job, stopped[1])  # the stale one
        assert left_after == [] and not complete, (job, left_after)
    assert results["source unchanged"]


def test_two_first_runs_at_once_both_succeed(tmp_path):
    """Two 02 --quick at once on a fresh tree: both draw the photos, both run 01 to split them. The
    loser of each race checks that the winner's folder holds what it made itself, and uses it."""
    shared = tmp_path / "fresh"  # both out-dirs in it: their quick runs share shared/quick_data
    runs = [start(TRAIN, shared / f"02_train_lenet_{index}", "--quick", "--epochs", "1")
            for index in range(2)]
    results = [finish(process) for process in runs]
    for returncode, stdout, stderr in results:
        assert returncode == 0, (stdout[-2000:], stderr[-2000:])
        assert "Traceback" not in stderr
    # 02 alone prepares its data: it runs lesson 01 (at least the first to look found no split).
    assert any("is missing: running lesson_models/01_split_dataset.py" in stdout for _, stdout, _ in results)
    quick_data = shared / "quick_data"
    assert sorted(path.name for path in quick_data.iterdir()) == ["RMB_data", "rmb_split"]
    assert sum(1 for _ in (quick_data / "RMB_data").rglob("*.jpg")) == 200
    assert sum(1 for _ in (quick_data / "rmb_split").rglob("*.jpg")) == 200
    assert not partials(quick_data), partials(quick_data)
