"""Claim tests of lesson_models/: the numbers each lesson teaches, from its --quick run."""
import re

from conftest import lesson_script, plan_runs

SPLIT = lesson_script("lesson_models", "01_split_dataset")
TRAIN = lesson_script("lesson_models", "02_train_lenet")
CONTAINERS = lesson_script("lesson_models", "03_module_containers")
ALEXNET = lesson_script("lesson_models", "04_alexnet")
SPLIT_AGAIN = (SPLIT, "--quick", "--device", "cpu")  # the same split once more, to compare
plan_runs(SPLIT_AGAIN)


def test_split_lesson_counts_and_reproducibility(quick_runs, lesson_runner):
    run = quick_runs[SPLIT]
    assert run.returncode == 0, run.explain()
    metrics = run.metrics
    for name in ("1", "100"):
        assert (metrics[f"train_{name}"], metrics[f"valid_{name}"], metrics[f"test_{name}"]) == (80, 10, 10)
        assert f"Class:{name}, train:80, valid:10, test:10" in run.stdout
    assert metrics["source_unchanged"] is True and metrics["data_source"] == "synthetic"
    assert (run.out_dir / "quick_data" / "rmb_split" / "valid" / "100").is_dir()  # not in the repo's data/
    again = lesson_runner.run(*SPLIT_AGAIN)
    assert again.returncode == 0, again.explain()
    assert again.metrics["split_sha256"] == metrics["split_sha256"]


def test_training_lesson_learns(quick_runs):
    run = quick_runs[TRAIN]
    assert run.returncode == 0, run.explain()
    metrics = run.metrics
    assert metrics["data_source"] == "synthetic" and metrics["epochs"] == 5
    assert metrics["valid_acc"] >= 0.85 and metrics["test_acc"] >= 0.85, metrics  # chance is 0.5 on 20 photos
    # It starts near chance and climbs: the curves mean something.
    assert metrics["train_acc_per_epoch"][0] < 0.8, metrics
    assert metrics["train_acc_per_epoch"][-1] > metrics["train_acc_per_epoch"][0] + 0.15, metrics
    assert metrics["train_loss_first_epoch"] > 0.4 > 0.25 > metrics["train_loss_last_epoch"], metrics
    assert metrics["seconds"] > 0 and metrics["images_per_second"] > 0
    assert (run.out_dir / "loss_curves.png").is_file() and (run.out_dir / "test_predictions.png").is_file()
    # The notes' log format, and the Valid line shows the valid accuracy (the course printed train's).
    assert re.search(r"^Training:Epoch\[000/005\] Iteration\[010/010\] Loss: \d\.\d{4} Acc:\d+\.\d\d%$",
                     run.stdout, re.M), run.stdout
    valid_lines = re.findall(r"^Valid:\t Epoch\[(\d{3})/005\] Iteration\[002/002\] Loss: [\d.]+ Acc:([\d.]+)%$",
                             run.stdout, re.M)
    assert [int(epoch) for epoch, _ in valid_lines] == list(range(5))
    assert [float(acc) for _, acc in valid_lines] == [round(100 * a, 2) for a in metrics["valid_acc_per_epoch"]]


def test_training_lesson_on_a_given_split_and_bad_data_dir(quick_runs, lesson_runner, tmp_path):
    split_run = quick_runs[SPLIT]
    split_dir = split_run.out_dir / "quick_data" / "rmb_split"
    run, missing = lesson_runner.run_many([(TRAIN, "--quick", "--data-dir", str(split_dir), "--epochs", "1"),
                                           (TRAIN, "--quick", "--data-dir", str(tmp_path / "nowhere"))])
    assert run.returncode == 0, run.explain()
    assert run.metrics["epochs"] == 1 and "is missing" not in run.stdout  # used as it is, nothing prepared
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "--data-dir" in missing.stderr and "nowhere" in missing.stderr


def test_containers_lesson(quick_runs):
    run = quick_runs[CONTAINERS]
    assert run.returncode == 0, run.explain()
    metrics = run.metrics
    assert metrics["lenet_parameters"] == [61_326] * 3 and metrics["lenet_max_output_difference"] == 0
    assert metrics["ordered_dict_layer_names"][:3] == ["conv1", "relu1", "pool1"]
    assert metrics["module_list_parameters"] == 2_200 and metrics["module_list_state_dict_entries"] == 40
    assert metrics["module_dict_conv_shape"] == [4, 10, 30, 30]
    assert metrics["module_dict_pool_shape"] == [4, 10, 10, 10]
    assert metrics["plain_list_parameters"] == 0 and metrics["plain_list_state_dict_entries"] == 0
    assert metrics["module_list_moved_by_to"] is True and metrics["plain_list_moved_by_to"] is False


def test_alexnet_lesson(quick_runs):
    run = quick_runs[ALEXNET]
    assert run.returncode == 0, run.explain()
    metrics = run.metrics
    assert metrics["our_parameters"] == metrics["torchvision_parameters"] == 61_100_840
    assert metrics["output_shape"] == [1, 1000] and metrics["max_output_difference"] == 0
    assert metrics["conv2_groups2_parameters"] * 2 - 192 == metrics["conv2_parameters"]  # weights halve, biases stay
    assert "classifier.fc8" in metrics["layer_names"] and "features.conv5" in metrics["layer_names"]
