"""lesson_models/04_new_series.py: 100 % on the test split, wrong on the red 2015 note, right after
colour augmentation; and the flags for real photos.

Runs (3): the --quick run (shared with the smoke test) for the claims; on a tiny split drawn here
(20 photos of 96×48), one run with --new-series-dir and one with a folder that does not exist.
"""
import shutil

from conftest import lesson_script, plan_runs, run_in_process
from tools.metrics import read_figures
from tools.rmb_synthetic import write_new_series, write_synthetic_rmb

SCRIPT = lesson_script("lesson_models", "04_new_series")
QUICK = (SCRIPT, "--quick")
TINY_SIZE = (96, 48)
MY_NOTES = 4  # "your own" photos of 2015 notes in the --new-series-dir run


def tiny_split(runner):
    """A split of 10 drawn photos per class (8/1/1), and a folder of 'your' 2015-note photos."""
    root = runner.tmp_root / "new_series_tiny"
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


def with_my_photos(runner):
    root = tiny_split(runner)
    return (SCRIPT, "--data-dir", str(root / "split"), "--new-series-dir", str(root / "my_notes"),
            "--epochs", "2", "--seeds", "1")


def with_a_missing_folder(runner):
    root = tiny_split(runner)
    return (SCRIPT, "--data-dir", str(root / "split"), "--new-series-dir", str(root / "no_such_folder"),
            "--epochs", "2", "--seeds", "1")


plan_runs(QUICK)  # the small runs (two epochs on a tiny split, a missing folder) run in this process


def test_the_baseline_misreads_the_new_notes_and_augmentation_reads_them(lesson_runner):
    """Measured (--quick, CPU, seeds 1-3): test 100 % with and without augmentation; new notes read
    as 100 yuan 5/0/0 % without, 85/90/90 % with RandomGrayscale. Margins: wide, but a run where the
    colour shortcut or its cure disappears fails."""
    run = lesson_runner.run(*QUICK)
    assert run.returncode == 0, run.explain()
    metrics = run.metrics
    assert metrics["seeds"] == [1, 2, 3] and metrics["data_source"] == "synthetic"
    baseline = metrics["new_series_read_as_100_baseline_per_seed"]
    augmented = metrics["new_series_read_as_100_augmented_per_seed"]
    assert max(baseline) <= 0.3 and sum(baseline) / 3 <= 0.2, baseline  # most read as 1 yuan, every seed
    assert min(augmented) >= 0.6 and sum(augmented) / 3 >= 0.75, augmented  # most read right, every seed
    assert all(a - b >= 0.4 for a, b in zip(augmented, baseline)), (baseline, augmented)
    # The test split cannot see it: (nearly) 100 % with and without augmentation.
    assert min(metrics["test_acc_baseline_per_seed"]) >= 0.9
    assert min(metrics["test_acc_augmented_per_seed"]) >= 0.85 and metrics["test_acc_augmented"] >= 0.9
    # The headline numbers are the default seed's.
    assert metrics["headline"] == ["test_acc_baseline", "new_series_read_as_100_baseline", "test_acc_augmented",
                                   "new_series_read_as_100_augmented"]
    assert metrics["new_series_read_as_100_baseline"] == baseline[0]
    assert metrics["new_series_read_as_100_augmented"] == augmented[0]
    assert metrics["test_acc_baseline"] == metrics["test_acc_baseline_per_seed"][0]
    # With the probabilities: the baseline is sure of its wrong answer, not hesitating at 0.5.
    p_baseline, p_augmented = metrics["new_series_p100_baseline"], metrics["new_series_p100_augmented"]
    assert len(p_baseline) == len(p_augmented) == 20
    assert sorted(p_baseline)[10] < 0.1 and sorted(p_augmented)[10] > 0.6
    assert sum(p > 0.5 for p in p_baseline) / 20 == baseline[0]


def test_prints_the_notes_format_and_draws_the_shortcut(lesson_runner):
    run = lesson_runner.run(*QUICK)
    assert run.returncode == 0, run.explain()
    assert "Training:Epoch[000/015] Iteration[010/010] Loss: " in run.stdout
    assert "P(100 yuan) of each new note: " in run.stdout and "Summary: test " in run.stdout
    figures = {entry["file"]: entry["caption"] for entry in read_figures(run.out_dir)}
    assert list(figures) == ["colour_shortcut.jpg", "augmented.jpg", "new_series_per_seed.png"]
    assert all(len(caption) > 40 for caption in figures.values())
    for name in figures:
        assert 10_000 < (run.out_dir / name).stat().st_size < 300_000, name


def test_your_own_photos_of_the_new_notes(lesson_runner, tmp_path):
    run = run_in_process(*with_my_photos(lesson_runner), out_dir=tmp_path)
    assert run.returncode == 0, run.explain()
    assert "my_notes" in run.stdout
    metrics = run.metrics
    assert len(metrics["new_series_p100_baseline"]) == len(metrics["new_series_p100_augmented"]) == MY_NOTES
    assert metrics["seeds"] == [1] and len(metrics["new_series_read_as_100_augmented_per_seed"]) == 1


def test_a_missing_new_series_folder_is_one_line(lesson_runner, tmp_path):
    run = run_in_process(*with_a_missing_folder(lesson_runner), out_dir=tmp_path)
    assert run.returncode == 2, run.explain()
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert "--new-series-dir" in run.stderr and "no_such_folder" in run.stderr and "no such folder" in run.stderr
    assert "Training:" not in run.stdout  # stopped before any training
