"""lesson_models/04_new_series.py: 100 % on the test split, wrong on the red 2015 note, right after
colour augmentation; and the flags for real photos.

Runs (4, all inside this process): --quick on one and on two intra-op threads (float sums in
another order move a note or two, so every claim must hold on both), and on a tiny split drawn here
(20 photos of 96×48) one run with --new-series-dir and one with a folder that does not exist.
"""
import shutil

import pytest

from conftest import TMP_ROOT, lesson_script, run_lesson
from tools.metrics import read_figures
from tools.rmb_synthetic import write_new_series, write_synthetic_rmb

SCRIPT = lesson_script("lesson_models", "04_new_series")
TINY_SIZE = (96, 48)
MY_NOTES = 4  # "your own" photos of 2015 notes in the --new-series-dir run
QUICK_RUNS = {}  # threads -> LessonRun


def quick_run(threads: int):
    """04 --quick with `threads` intra-op threads; both runs share TMP_ROOT/quick_data (the out-dirs'
    parent), so the photos are drawn and split once."""
    if threads not in QUICK_RUNS:
        QUICK_RUNS[threads] = run_lesson(SCRIPT, "--quick", in_process=True, threads=threads,
                                         out_dir=TMP_ROOT / f"04_new_series-{threads}-threads")
    run = QUICK_RUNS[threads]
    assert run.returncode == 0, run.explain()
    return run


def tiny_split():
    """A split of 10 drawn photos per class (8/1/1), and a folder of 'your' 2015-note photos."""
    root = TMP_ROOT / "new_series_tiny"
    if not root.exists():
        write_synthetic_rmb(root / "raw", per_class=10, size=TINY_SIZE)
        for name in ("1", "100"):
            photos = sorted((root / "raw" / name).glob("*.jpg"))
            for part, chosen in (("train", photos[:8]), ("valid", photos[8:9]), ("test", photos[9:])):
                (root / "split" / part / name).mkdir(parents=True)
                for photo in chosen:
                    shutil.copyfile(photo, root / "split" / part / name / photo.name)
        write_new_series(root / "my_notes", count=MY_NOTES, size=TINY_SIZE)
    return root


@pytest.mark.parametrize("threads", [1, 2])
def test_the_baseline_misreads_the_new_notes_and_augmentation_reads_them(threads):
    """Measured (--quick, CPU, seeds 1-3, the same on one and two threads): new notes read as 100 yuan
    5/0/0 % without, 85/90/90 % with RandomGrayscale (torch 2.14.1, Pillow 13, NumPy 1.26 or 2.5); on the
    oldest set (torch 2.0.1, Pillow 9.5, NumPy 1.24), whose drawn photos differ, 10/0/0 % and 65/90/60 %.
    Test accuracy 95-100 % on both. Margins: wide enough for both sets, but a run where the colour
    shortcut or its cure disappears fails (RandomGrayscale(p=0.5) reads 0/0/10 %)."""
    run = quick_run(threads)
    seeds, runs = run.variables["SEEDS"], run.variables["runs"]
    assert seeds == [1, 2, 3] and run.metrics["data_source"] == "synthetic"
    baseline = [result["read_as_100"] for result in runs["baseline"]]
    augmented = [result["read_as_100"] for result in runs["augmented"]]
    assert max(baseline) <= 0.3 and sum(baseline) / 3 <= 0.2, baseline  # most read as 1 yuan, every seed
    assert min(augmented) >= 0.5 and sum(augmented) / 3 >= 0.6, augmented  # most read right, every seed
    assert all(a - b >= 0.4 for a, b in zip(augmented, baseline)), (baseline, augmented)
    # The test split cannot see it: (nearly) 100 % with and without augmentation.
    assert min(result["test_acc"] for result in runs["baseline"]) >= 0.9
    assert min(result["test_acc"] for result in runs["augmented"]) >= 0.85
    assert runs["augmented"][0]["test_acc"] >= 0.9
    # The headline numbers are the default seed's, as printed in the table's first row.
    metrics = run.metrics
    assert metrics["headline"] == ["test_acc_baseline", "new_series_read_as_100_baseline", "test_acc_augmented",
                                   "new_series_read_as_100_augmented"]
    assert metrics["new_series_read_as_100_baseline"] == baseline[0]
    assert metrics["new_series_read_as_100_augmented"] == augmented[0]
    assert metrics["test_acc_baseline"] == runs["baseline"][0]["test_acc"]
    assert (f"   1 | {runs['baseline'][0]['test_acc']:>8.0%} {runs['augmented'][0]['test_acc']:>8.0%} | "
            f"{baseline[0]:>13.0%} {augmented[0]:>13.0%}") in run.stdout
    # With the probabilities: the baseline is sure of its wrong answer, not hesitating at 0.5.
    p_baseline, p_augmented = runs["baseline"][0]["p100"], runs["augmented"][0]["p100"]
    assert p_baseline.shape == p_augmented.shape == (20,)
    assert p_baseline.median() < 0.1 and p_augmented.median() > 0.5  # measured 0.0004-0.0033, 0.65-0.85
    assert (p_baseline > 0.5).sum().item() / 20 == baseline[0]


def test_prints_the_notes_format_and_draws_the_shortcut():
    run = quick_run(1)
    assert "Training:Epoch[000/015] Iteration[010/010] Loss: " in run.stdout
    assert "P(100 yuan) of each new note: " in run.stdout and "Summary: test " in run.stdout
    figures = {entry["file"]: entry["caption"] for entry in read_figures(run.out_dir)}
    assert list(figures) == ["colour_shortcut.jpg", "augmented.jpg", "new_series_per_seed.png"]
    assert all(len(caption) > 40 for caption in figures.values())
    for name in figures:
        assert 10_000 < (run.out_dir / name).stat().st_size < 300_000, name


def test_your_own_photos_of_the_new_notes(tmp_path):
    root = tiny_split()
    run = run_lesson(SCRIPT, "--data-dir", root / "split", "--new-series-dir", root / "my_notes", "--epochs", "2",
                     "--seeds", "1", in_process=True, out_dir=tmp_path)
    assert run.returncode == 0, run.explain()
    assert "my_notes" in run.stdout and "new-series notes: 4" in run.stdout
    runs = run.variables["runs"]
    assert run.variables["SEEDS"] == [1] and len(runs["baseline"]) == len(runs["augmented"]) == 1
    assert runs["baseline"][0]["p100"].shape == runs["augmented"][0]["p100"].shape == (MY_NOTES,)


def test_a_missing_new_series_folder_is_one_line(tmp_path):
    root = tiny_split()
    run = run_lesson(SCRIPT, "--data-dir", root / "split", "--new-series-dir", root / "no_such_folder",
                     "--epochs", "2", "--seeds", "1", in_process=True, out_dir=tmp_path)
    assert run.returncode == 2, run.explain()
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert "--new-series-dir" in run.stderr and "no_such_folder" in run.stderr and "no such folder" in run.stderr
    assert "Training:" not in run.stdout  # stopped before any training
