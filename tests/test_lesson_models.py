"""Claim tests of lesson_models/01–02: the split and the training of LeNet on the banknote photos.

Runs, inside this process unless the process itself is what is tested: 01 --quick twice on fresh
photos (drawn, split, then found in place), 02 --quick on that split on one and on two intra-op
threads; on a tiny split drawn here with Pillow (36 photos): every non-default path of 02
(validation every 2 epochs, decoding every epoch, --predict on the course's test_data/<class>/
layout, 16-bit and float training photos), a diverging learning rate, a missing --data-dir; 01 on
photos with an empty one; and a breakpoint in RMBDataset.__getitem__ under pdb (a subprocess).
"""
import inspect
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import LESSON_ENV, TMP_ROOT, WORK_DIR, lesson_script, run_lesson
from tools.rmb_dataset import RMBDataset
from tools.metrics import file_sha256

SPLIT = lesson_script("lesson_models", "01_split_dataset")
TRAIN = lesson_script("lesson_models", "02_train_lenet")
FRESH = TMP_ROOT / "lesson_models_fresh"  # out-dirs in here share FRESH/quick_data, drawn by the first 01 run
COLOURS = {"1": (200, 70, 60), "100": (70, 110, 200)}
TINY_COUNTS = {"train": 12, "valid": 2, "test": 2}  # per class
NOT_UTF8 = os.fsdecode(b"\xc4\xe3\xba\xc3.png")  # "你好.png" in GBK
LINUX = sys.platform.startswith("linux")


def noisy_photo(colour, rng, size=(48, 24)) -> Image.Image:
    return Image.fromarray(np.clip(rng.normal(colour, 40, size=(size[1], size[0], 3)), 0, 255).astype(np.uint8))


def tiny_data():
    """A split of small noisy photos, one colour per class (a 16-bit PNG and a float TIFF among the
    training photos), and 'your own' photos for --predict laid out as the course's test_data/:
    test_data/1/, test_data/100/ (a name that is not UTF-8 among them), an unlabelled subfolder, a text file."""
    root = TMP_ROOT / "tiny"
    if not root.exists():
        rng = np.random.default_rng(0)
        for part, count in TINY_COUNTS.items():
            for name, colour in COLOURS.items():
                (root / "split" / part / name).mkdir(parents=True)
                for index in range(count):
                    noisy_photo(colour, rng).save(root / "split" / part / name / f"{index:02d}.png")
        grey = np.tile(np.linspace(0, 1, 48), (24, 1))
        Image.fromarray((grey * 65535).astype(np.uint16)).save(root / "split" / "train" / "1" / "deep16.png")
        Image.fromarray(grey.astype(np.float32)).save(root / "split" / "train" / "100" / "float.tif")
        mine = root / "test_data"
        for relative in ("1/a.png", "1/b.jpg", "100/100.jpg", f"100/{NOT_UTF8 if LINUX else 'c.png'}", "other/x.png"):
            (mine / relative).parent.mkdir(parents=True, exist_ok=True)
            colour = COLOURS[relative.split("/")[0]] if not relative.startswith("other") else (128, 128, 128)
            noisy_photo(colour, rng, (64, 32)).save(mine / relative, format="JPEG" if relative.endswith("jpg") else "PNG")
        (mine / "notes.txt").write_text("not a photo")
    return root


def on_threads(threads: int, script, *flags, out_dir):
    """An in-process run with `threads` intra-op threads (the test process's count is put back after).
    OMP_NUM_THREADS too: start_lesson keeps the count it names, else it sets its own default."""
    return run_lesson(script, *flags, in_process=True, threads=threads, out_dir=out_dir)


def finished(run):
    assert run.returncode == 0, run.explain()
    return run


@pytest.fixture(scope="module")
def split_runs():
    """01 --quick on a fresh folder (draws 200 photos and copies the split), then once more."""
    return [finished(run_lesson(SPLIT, "--quick", in_process=True, out_dir=FRESH / f"01_split_dataset-{n}"))
            for n in (1, 2)]


def test_split_lesson_counts_and_reproducibility(split_runs):
    first, again = split_runs
    for name in ("1", "100"):
        assert f"Class:{name}, train:80, valid:10, test:10" in first.stdout
    assert first.variables["source"] == "synthetic" and first.variables["source_unchanged"] is True
    assert first.metrics["headline"] == ["data_source", "train_1", "valid_1", "test_1"]
    assert (first.metrics["train_1"], first.metrics["valid_1"], first.metrics["test_1"]) == (80, 10, 10)
    split_dir = FRESH / "quick_data" / "rmb_split"  # beside the out-dirs, not in the repo's data/
    assert first.variables["split_dir"] == split_dir
    for part, count in (("train", 80), ("valid", 10), ("test", 10)):
        for name in ("1", "100"):
            assert len(list((split_dir / part / name).glob("*.jpg"))) == count
    names = {part: {path.name for path in (split_dir / part / "100").iterdir()} for part in ("train", "valid", "test")}
    assert not (names["train"] & names["valid"] or names["train"] & names["test"] or names["valid"] & names["test"])
    # The first run drew and copied; the second found this very split and wrote nothing.
    assert "does not exist: drawing 100 synthetic photos per class" in first.stdout
    assert f"Copied into {split_dir}" in first.stdout and "Already in place" not in first.stdout
    assert f"Already in place, nothing copied: {split_dir}" in again.stdout and "Copied into" not in again.stdout
    assert first.metrics["split_sha256"] == again.metrics["split_sha256"]


def test_the_split_is_the_seeded_shuffle_of_the_sorted_listing(split_runs):
    """What the lesson computed, recomputed here from the notes' recipe: sorted, shuffled by
    random.Random(seed), cut at 80 % and 90 %; and split.json lists every copy with its SHA-256."""
    run = split_runs[0]
    raw_dir, plan = run.variables["raw_dir"], run.variables["plan"]
    rng = random.Random(1)
    for name in ("1", "100"):
        photos = sorted((raw_dir / name).glob("*.jpg"), key=lambda path: path.name)
        rng.shuffle(photos)
        assert (plan["train"][name], plan["valid"][name], plan["test"][name]) == (photos[:80], photos[80:90], photos[90:])
    split_dir = run.variables["split_dir"]
    listed = json.loads((split_dir / "split.json").read_text(encoding="utf-8"))["files"]
    copies = sorted(path.relative_to(split_dir).as_posix() for path in split_dir.rglob("*.jpg"))
    assert sorted(listed) == copies and len(copies) == 200
    assert all(listed[relative] == file_sha256(split_dir / relative) for relative in copies)


def test_an_empty_photo_is_named_before_anything_is_written(tmp_path):
    raw = tmp_path / "raw"
    rng = np.random.default_rng(1)
    for name, colour in COLOURS.items():
        (raw / name).mkdir(parents=True)
        for index in range(10):
            noisy_photo(colour, rng).save(raw / name / f"{index:02d}.jpg")
    (raw / "100" / "07.jpg").write_bytes(b"")  # what an interrupted download leaves
    run = run_lesson(SPLIT, "--raw-dir", raw, "--split-dir", tmp_path / "split", in_process=True,
                     out_dir=tmp_path / "out")
    assert run.returncode == 2, run.explain()
    assert run.stderr.count("\n") == 1 and str(raw / "100" / "07.jpg") in run.stderr and "empty" in run.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "raw"]  # no split, no partial folder


@pytest.mark.parametrize("threads", [1, 2])
def test_training_lesson_learns(split_runs, threads):
    run = finished(on_threads(threads, TRAIN, "--quick", out_dir=FRESH / f"02_train_lenet-{threads}-threads"))
    found = run.variables
    metrics = run.metrics
    assert metrics["data_source"] == "synthetic" and found["MAX_EPOCH"] == 5
    assert "is missing" not in run.stdout  # 01's split was there (02 making it: test_rmb_data.py)
    # Chance is 0.5 on 20 photos; measured 100 % and 100 % on one and on two threads.
    assert metrics["valid_acc"] >= 0.85 and metrics["test_acc"] >= 0.85, metrics
    assert metrics["headline"] == ["valid_acc", "test_acc"]
    # It starts near chance and climbs: the curves mean something.
    train_acc, train_loss = found["train_acc_per_epoch"], found["train_loss_per_epoch"]
    assert train_acc[0] < 0.8 and train_acc[-1] > train_acc[0] + 0.15, train_acc
    assert train_loss[0] > 0.4 > 0.25 > train_loss[-1], train_loss
    assert "photos decoded once" in run.stdout
    # The notes' log format, and the Valid line shows the valid accuracy (the course printed train's).
    assert re.search(r"^Training:Epoch\[000/005\] Iteration\[010/010\] Loss: \d\.\d{4} Acc:\d+\.\d\d%$",
                     run.stdout, re.M), run.stdout
    valid_lines = re.findall(r"^Valid:\t Epoch\[(\d{3})/005\] Iteration\[002/002\] Loss: [\d.]+ Acc:([\d.]+)%$",
                             run.stdout, re.M)
    assert [int(epoch) for epoch, _ in valid_lines] == list(range(5)) == found["valid_epochs"]
    assert [float(acc) for _, acc in valid_lines] == [round(100 * a, 2) for a in found["valid_acc_per_epoch"]]
    # Inference as the notes' create_module: one line per test photo, the notes' words and ours.
    readings = re.findall(r"^(1|100)/\S+: 模型获得(1|100)元 \(the model read (1|100) yuan\)$", run.stdout, re.M)
    assert len(readings) == 20 and all(chinese == english for _, chinese, english in readings)
    right = sum(true == read for true, read, _ in readings)
    assert right / 20 == metrics["test_acc"] and len(found["test_wrong"]) == 20 - right
    assert [figure.name for figure in sorted(run.out_dir.glob("*.png"))] == ["loss_curves.png", "test_predictions.png"]


def test_training_lesson_on_a_given_split_every_option(tmp_path):
    """--data-dir used as it is; validation every 2 epochs (the curve plot used to crash); the course's
    decode-every-epoch path; 16-bit and float photos among the training photos; --predict on a folder
    laid out as the course's test_data/ (photos only in subfolders), scored where the subfolder is a class."""
    root = tiny_data()
    run = finished(run_lesson(TRAIN, "--data-dir", root / "split", "--epochs", "2", "--val-interval", "2",
                              "--decode-every-epoch", "--predict", root / "test_data", in_process=True, out_dir=tmp_path))
    found = run.variables
    assert "is missing" not in run.stdout and "decoding every photo every epoch" in run.stdout
    assert found["MAX_EPOCH"] == 2 and found["valid_epochs"] == [1] and len(found["valid_acc_per_epoch"]) == 1
    assert len(found["train_data"]) == 2 * TINY_COUNTS["train"] + 2
    assert (run.out_dir / "loss_curves.png").is_file()
    # Every photo of the folder and its subfolders, in sorted order; notes.txt skipped.
    predicted = re.findall(r"^(\S+): 模型获得(1|100)元 \(the model read \2 yuan\)$", run.stdout, re.M)
    expected = ["1/a.png", "1/b.jpg", "100/100.jpg", f"100/{NOT_UTF8 if LINUX else 'c.png'}", "other/x.png"]
    printed = [name for name, _ in predicted[-5:]]
    assert printed[:3] == expected[:3] and printed[4] == "other/x.png" and len(predicted) == 4 + 5
    # Scored against the class folders only (other/ has no class): the printed share is the lines'.
    right = sum(yuan == name.split("/")[0] for name, yuan in predicted[-5:-1])
    assert f"--predict: {right / 4:.2%} of the 4 photos in class folders (1, 100) right" in run.stdout
    assert run.metrics["predict_acc"] == right / 4


def test_training_lesson_refuses_a_missing_data_dir(tmp_path):
    missing = run_lesson(TRAIN, "--quick", "--data-dir", tmp_path / "nowhere", in_process=True, out_dir=tmp_path / "out")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.count("\n") == 1 and "--data-dir" in missing.stderr and "nowhere" in missing.stderr


def test_a_diverging_run_fails_as_it_happens(tmp_path):
    run = run_lesson(TRAIN, "--data-dir", tiny_data() / "split", "--lr", "5", "--epochs", "2", "--batch-size", "4",
                     in_process=True, out_dir=tmp_path)
    assert run.returncode == 1, run.explain()
    assert re.fullmatch(r"02_train_lenet\.py: failed: the (training loss at epoch \d, iteration \d+|valid loss after "
                        r"epoch \d \(iteration \d+\)) became (nan|inf|-inf): the steps overshoot; --lr 5 is too "
                        r"large, try --lr 0\.01\n", run.stderr), run.stderr
    assert "Summary" not in run.stdout and "Test:" not in run.stdout and "Loss: nan" not in run.stdout


@pytest.mark.skipif(sys.version_info[:3] == (3, 13, 0), reason="Python 3.13.0's `python -m pdb script --flag` "
                    "rejects the script's flags (CPython gh-125115, fixed in 3.13.1)")
def test_a_breakpoint_in_getitem_is_hit_by_the_default_run(tmp_path):
    """The default run (photos resized once) still goes through RMBDataset.__getitem__ for every item,
    and the file the docstring names is where the breakpoint goes."""
    assert "RMBDataset.__getitem__ (tools/rmb_dataset.py)" in TRAIN.read_text(encoding="utf-8")
    lines, start = inspect.getsourcelines(RMBDataset.__getitem__)
    command = [sys.executable, "-m", "pdb", "-c", f"break {inspect.getsourcefile(RMBDataset)}:{start + 1}",
               "-c", "continue", "-c", "p ('stopped in', type(self).__name__, self.images is not None)", "-c", "quit",
               str(TRAIN), "--data-dir", str(tiny_data() / "split"), "--out-dir", str(tmp_path), "--device", "cpu"]
    completed = subprocess.run(command, cwd=WORK_DIR, env=LESSON_ENV, capture_output=True, text=True,
                               encoding="utf-8", errors="replace", timeout=120, stdin=subprocess.DEVNULL)
    assert inspect.getsourcefile(RMBDataset).endswith(os.path.join("tools", "rmb_dataset.py"))
    assert "('stopped in', 'RMBDataset', True)" in completed.stdout, completed.stdout + completed.stderr
    assert "Training:Epoch" not in completed.stdout  # it stopped at the first item, as a learner's breakpoint does

