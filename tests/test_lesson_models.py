"""Claim tests of lesson_models/01–02: the split and the training of LeNet on the banknote photos.

Most claims read the --quick runs (shared with the smoke test). The runs this file adds work on a
tiny split drawn here with Pillow (36 photos): a given split with every non-default path of 02
(validation every 2 epochs, decoding every epoch, --predict, 16-bit and float training photos),
a diverging learning rate, and a breakpoint in RMBDataset.__getitem__ under pdb.
"""
import inspect
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from conftest import lesson_script, plan_runs, run_in_process
from tools.rmb import RMBDataset

SPLIT = lesson_script("lesson_models", "01_split_dataset")
TRAIN = lesson_script("lesson_models", "02_train_lenet")
QUICK_SPLIT, QUICK_TRAIN = (SPLIT, "--quick"), (TRAIN, "--quick")


COLOURS = {"1": (200, 70, 60), "100": (70, 110, 200)}
TINY_COUNTS = {"train": 12, "valid": 2, "test": 2}  # per class
NOT_UTF8 = os.fsdecode(b"\xc4\xe3\xba\xc3.png")  # "你好.png" in GBK
LINUX = sys.platform.startswith("linux")


def tiny_data(runner):
    """A split of small noisy photos, one colour per class (a 16-bit PNG and a float TIFF among the
    training photos), and a folder of 'your own' photos for --predict (with a name that is not UTF-8)."""
    root = runner.tmp_root / "tiny"
    if not root.exists():
        rng = np.random.default_rng(0)
        for part, count in TINY_COUNTS.items():
            for name, colour in COLOURS.items():
                (root / "split" / part / name).mkdir(parents=True)
                for index in range(count):
                    pixels = np.clip(rng.normal(colour, 40, size=(24, 48, 3)), 0, 255).astype(np.uint8)
                    Image.fromarray(pixels).save(root / "split" / part / name / f"{index:02d}.png")
        grey = np.tile(np.linspace(0, 1, 48), (24, 1))
        Image.fromarray((grey * 65535).astype(np.uint16)).save(root / "split" / "train" / "1" / "deep16.png")
        Image.fromarray(grey.astype(np.float32)).save(root / "split" / "train" / "100" / "float.tif")
        (root / "mine").mkdir()
        for index, name in enumerate(("a.png", "b.jpg", NOT_UTF8 if LINUX else "c.png")):
            colour = COLOURS["1" if index % 2 else "100"]
            Image.new("RGB", (64, 32), colour).save(root / "mine" / name, format="PNG" if name.endswith("png") else "JPEG")
        (root / "mine" / "notes.txt").write_text("not a photo")
    return root


def given_split(runner):
    root = tiny_data(runner)
    return (TRAIN, "--data-dir", root / "split", "--epochs", "2", "--val-interval", "2", "--decode-every-epoch",
            "--predict", root / "mine")


def diverging(runner):
    return (TRAIN, "--data-dir", tiny_data(runner) / "split", "--lr", "5", "--epochs", "2", "--batch-size", "4")


def missing_data_dir(runner):
    return (TRAIN, "--quick", "--data-dir", runner.tmp_root / "nowhere")


plan_runs(QUICK_SPLIT, QUICK_TRAIN)  # the small runs on the tiny split run in this process


def finished(run):
    assert run.returncode == 0, run.explain()
    return run.metrics


def test_split_lesson_counts_and_reproducibility(lesson_runner):
    run = lesson_runner.run(*QUICK_SPLIT)
    metrics = finished(run)
    for name in ("1", "100"):
        assert (metrics[f"train_{name}"], metrics[f"valid_{name}"], metrics[f"test_{name}"]) == (80, 10, 10)
        assert f"Class:{name}, train:80, valid:10, test:10" in run.stdout
    assert metrics["source_unchanged"] is True and metrics["data_source"] == "synthetic"
    assert metrics["headline"] == ["data_source", "train_1", "valid_1", "test_1"]
    split_dir = run.out_dir.parent / "quick_data" / "rmb_split"  # beside the out-dir, not in the repo's data/
    for part, count in (("train", 80), ("valid", 10), ("test", 10)):
        for name in ("1", "100"):
            assert len(list((split_dir / part / name).glob("*.jpg"))) == count
    names = {part: {path.name for path in (split_dir / part / "100").iterdir()} for part in ("train", "valid", "test")}
    assert not (names["train"] & names["valid"] or names["train"] & names["test"] or names["valid"] & names["test"])
    # Drawn and split again, the photos and the split are the same bytes: the notebook run of 01 draws
    # its own and must record this run's split_sha256 (tests/test_notebooks.py, same numbers).
    # The quick runs of 01 to 04 share their photos: whichever came first copied the split.
    assert "Copied into" in run.stdout or "Already in place" in run.stdout
    assert "Source folder unchanged: True" in run.stdout


def test_split_lesson_shows_the_shuffle_and_cut_itself():
    """Issue 9: the plan is made in the lesson file (tools only copies it)."""
    source = SPLIT.read_text(encoding="utf-8")
    for line in ("random.Random(args.seed)", "rng.shuffle(photos)", "copy_split(plan,"):
        assert line in source, line
    assert "def plan_split" not in inspect.getsource(sys.modules["tools.rmb"])


def test_training_lesson_learns(lesson_runner):
    run = lesson_runner.run(*QUICK_TRAIN)
    metrics = finished(run)
    assert metrics["data_source"] == "synthetic" and metrics["epochs"] == 5
    assert metrics["valid_acc"] >= 0.85 and metrics["test_acc"] >= 0.85, metrics  # chance is 0.5 on 20 photos
    assert metrics["headline"] == ["valid_acc", "test_acc"]
    # It starts near chance and climbs: the curves mean something.
    assert metrics["train_acc_per_epoch"][0] < 0.8, metrics
    assert metrics["train_acc_per_epoch"][-1] > metrics["train_acc_per_epoch"][0] + 0.15, metrics
    assert metrics["train_loss_per_epoch"][0] > 0.4 > 0.25 > metrics["train_loss_per_epoch"][-1], metrics
    # (02 alone prepares its data by running 01: test_rmb_data.py's two fresh runs show it; here the
    # quick runs of 01 to 04 share one set, and 01 may have made it first.)
    assert "photos decoded once" in run.stdout
    # The notes' log format, and the Valid line shows the valid accuracy (the course printed train's).
    assert re.search(r"^Training:Epoch\[000/005\] Iteration\[010/010\] Loss: \d\.\d{4} Acc:\d+\.\d\d%$",
                     run.stdout, re.M), run.stdout
    valid_lines = re.findall(r"^Valid:\t Epoch\[(\d{3})/005\] Iteration\[002/002\] Loss: [\d.]+ Acc:([\d.]+)%$",
                             run.stdout, re.M)
    assert [int(epoch) for epoch, _ in valid_lines] == list(range(5)) == metrics["valid_epochs"]
    assert [float(acc) for _, acc in valid_lines] == [round(100 * a, 2) for a in metrics["valid_acc_per_epoch"]]
    # Inference as the notes' create_module: one line per test photo, the notes' words and ours.
    readings = re.findall(r"^(1|100)/\S+: 模型获得(1|100)元 \(the model read (1|100) yuan\)$", run.stdout, re.M)
    assert len(readings) == 20 and all(chinese == english for _, chinese, english in readings)
    right = sum(true == read for true, read, _ in readings)
    assert right / 20 == metrics["test_acc"] and len(metrics["test_wrong"]) == 20 - right
    assert [figure.name for figure in sorted(run.out_dir.glob("*.png"))] == ["loss_curves.png", "test_predictions.png"]


def test_training_lesson_on_a_given_split_every_option(lesson_runner, tmp_path):
    """--data-dir used as it is; validation every 2 epochs (the curve plot used to crash); the course's
    decode-every-epoch path; 16-bit and float photos among the training photos; --predict."""
    run = run_in_process(*given_split(lesson_runner), out_dir=tmp_path)
    metrics = finished(run)
    assert "is missing" not in run.stdout and "decoding every photo every epoch" in run.stdout
    assert metrics["epochs"] == 2 and metrics["valid_epochs"] == [1] and len(metrics["valid_acc_per_epoch"]) == 1
    assert metrics["train_images"] == 2 * TINY_COUNTS["train"] + 2
    assert (run.out_dir / "loss_curves.png").is_file()
    predictions = metrics["predictions"]
    assert len(predictions) == 3 and set(predictions.values()) <= {"1", "100"}  # notes.txt skipped
    assert len(re.findall(r"模型获得(1|100)元 \(the model read \1 yuan\)$", run.stdout, re.M)) == 4 + 3
    if LINUX:
        assert NOT_UTF8 in predictions


def test_training_lesson_refuses_a_missing_data_dir(lesson_runner, tmp_path):
    missing = run_in_process(*missing_data_dir(lesson_runner), out_dir=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.count("\n") == 1 and "--data-dir" in missing.stderr and "nowhere" in missing.stderr


def test_a_diverging_run_fails_as_it_happens(lesson_runner, tmp_path):
    run = run_in_process(*diverging(lesson_runner), out_dir=tmp_path)
    assert run.returncode == 1, run.explain()
    assert re.fullmatch(r"02_train_lenet\.py: failed: the (training loss at epoch \d, iteration \d+|valid loss after "
                        r"epoch \d \(iteration \d+\)) became (nan|inf|-inf) \(--lr 5\): the steps overshoot; "
                        r"try --lr 0\.01\n", run.stderr), run.stderr
    assert "Summary" not in run.stdout and "Test:" not in run.stdout and "Loss: nan" not in run.stdout


def test_a_breakpoint_in_getitem_is_hit_by_the_default_run(lesson_runner, tmp_path):
    """The default run (photos resized once) still goes through RMBDataset.__getitem__ for every item."""
    lines, start = inspect.getsourcelines(RMBDataset.__getitem__)
    first_body_line = start + 1
    command = [sys.executable, "-m", "pdb", "-c", f"break {inspect.getsourcefile(RMBDataset)}:{first_body_line}",
               "-c", "continue", "-c", "p ('stopped in', type(self).__name__, self.images is not None)", "-c", "quit",
               str(TRAIN), "--data-dir", str(tiny_data(lesson_runner) / "split"), "--out-dir", str(tmp_path),
               "--device", "cpu"]
    completed = subprocess.run(command, cwd=lesson_runner.work_dir, env=lesson_runner.env, capture_output=True,
                               text=True, encoding="utf-8", errors="replace", timeout=120, stdin=subprocess.DEVNULL)
    assert "('stopped in', 'RMBDataset', True)" in completed.stdout, completed.stdout + completed.stderr
    assert "Training:Epoch" not in completed.stdout  # it stopped at the first item, as a learner's breakpoint does
