"""tools/exercises.py: every exercise's worked solution passes its check and a wrong answer fails
with a hint; answers are read the way a teacher reads them; the debugger exercises are checked
against a trace of the torch these tests run on; progress is kept; the command's exit statuses.

The lesson-running exercises run each lesson once per set of flags, inside this process, and the
wrong answers reuse those runs.
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from tools import exercises
from tools.errors import LessonError
from tools.exercise_set import Answer, all_exercises
from tools.exercise_set.answers import parse_steps, parse_values
from tools.exercise_set.models import DATASET_SOLUTION

EXERCISES = all_exercises()
COMMAND = REPO_ROOT / "tools" / "exercises.py"

# A wrong answer for every exercise: a plausible mistake, not nonsense.
WRONG = {
    "linear-slope-stop": "--slope 3 --stop-loss 0.5: 300",
    "linear-gradient": "-4, -2",
    "linear-diverge": "9",
    "logistic-mean-value": "--mean-value 1: 380",
    "logistic-bias": "--bias -3: 380",
    "logistic-switch": "z = 0.5, p = 0.62",
    "dataloader-steps": "DataLoader.__iter__ -> _SingleProcessDataLoaderIter._next_data -> "
                        "_BaseDataLoaderIter._next_index -> _MapDatasetFetcher.fetch -> RMBDataset.__getitem__",
    "own-dataset": DATASET_SOLUTION.replace("return len(self.samples)", "return len(self.samples) - 1"),
    "lenet-modules-steps": "LeNet.__init__\nModule.__init__\nConv2d.__init__\nConv2d.__init__\nLinear.__init__",
    "alexnet-named": "import torchvision\n\n\nclass Numbered(torchvision.models.AlexNet):\n    pass\n",
    "lenet-parameters": "61,206",
    "init-std-predict": "16, 32",
    "init-kaiming-std": "0.0625",
    "init-tanh-gain": "1.6667, 1.6667",
    "conv-by-hand": "[[[54, 54, 54]] * 3, [[108, 108, 108]] * 3]",
    "conv3d-shape": "(1, 1, 1, 510, 510)",
    "pool-by-hand": "[[6, 8], [16, 18]]",
    "linear-by-hand": "[[14.5, 2.5]]",
    "activations-by-hand": "0.5, 0.5, 1, 0, -0.02",
    "split-counts": "30, 3, 4",
    "ddp-sampler": "80, 80",
    "containers-count": "2200, 2200",
    "clip-by-hand": "5, 3, 0, 0, 4",
    "transposed-size": "1024, 1022",
    "closed-set": "0.5, 3",
}


@pytest.fixture(autouse=True)
def progress_file(tmp_path, monkeypatch):
    """Progress goes to a temporary file, never to the repo's outputs/."""
    path = tmp_path / "progress.json"
    monkeypatch.setattr(exercises, "PROGRESS_FILE", path)
    return path


def hand_in(exercise, text, tmp_path) -> bool:
    """Check `text` as the learner would hand it in: inline, or as a file for the file exercises."""
    if exercise.file:
        answer_file = tmp_path / f"{exercise.id.replace('-', '_')}.py"
        answer_file.write_text(text, encoding="utf-8")
        return exercises.check(exercise.id, file=answer_file)
    return exercises.check(exercise.id, text)


def test_the_course_homework_and_at_least_two_per_lesson_folder_in_both_languages():
    assert sorted(exercise.course for exercise in EXERCISES.values() if exercise.course) == [1, 2, 2, 3, 4, 5, 6, 7, 8]
    folders = {}
    for exercise in EXERCISES.values():
        folders.setdefault(exercise.lesson.split("/")[0], []).append(exercise.id)
        assert (REPO_ROOT / f"{exercise.lesson}.py").is_file(), exercise.lesson
        assert exercise.attempt[0].strip() and exercise.attempt[1].strip()  # a command reads the same in both
        for english, chinese in (exercise.title, exercise.prompt, exercise.hand_in, exercise.hint, exercise.explain):
            assert english.strip() and english != chinese, exercise.id
            assert any("\u4e00" <= character <= "\u9fff" for character in chinese), (exercise.id, chinese)
    assert set(folders) == {"lesson_regression", "lesson_models", "lesson_init", "lesson_layers"}
    assert all(len(ids) >= 2 for ids in folders.values()), folders
    assert set(WRONG) == set(EXERCISES)


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_worked_solution_passes_and_a_wrong_answer_fails_with_a_hint(exercise_id, tmp_path, capsys):
    exercise = EXERCISES[exercise_id]
    assert hand_in(exercise, exercise.solve(), tmp_path), capsys.readouterr().out
    assert "right" in capsys.readouterr().out
    assert not hand_in(exercise, WRONG[exercise_id], tmp_path)
    printed = capsys.readouterr().out
    assert "not yet" in printed and "Hint / 提示" in printed and exercise.hint[0][:30] in printed
    solution = exercises.solution(exercise_id)
    assert exercise.explain[1][:20] in solution.replace("\n  ", "")


def test_the_regression_solutions_observe_the_default_seed_runs():
    """What the worked solutions hand in: the runs of the lessons at the notes' seed."""
    from tools.exercise_set.lesson_run import run_lesson
    assert EXERCISES["linear-slope-stop"].solve() == "--slope 3 --stop-loss 0.5: 320"
    assert EXERCISES["logistic-mean-value"].solve() == "--mean-value 1: never (91.00%)\n--mean-value 5: 0"
    assert EXERCISES["logistic-bias"].solve() == "--bias -3: never (99.00%)"
    assert run_lesson("lesson_regression/02_logistic_regression", ("--bias", "-3")).variables["checks"]["iteration"][-1] == 980
    assert EXERCISES["linear-diverge"].solve() == "8"


def conv_answer(change=None) -> str:
    without, with_padding = EXERCISES["conv-by-hand"].solve().splitlines()
    outputs = [json.loads(without), json.loads(with_padding)]
    if change is not None:
        part, channel, row, column = change
        outputs[part][channel][row][column] += 1
    return "\n".join(f"tensor([{json.dumps(output)}])" for output in outputs)  # as printed, batch dimension included


@pytest.mark.parametrize("change", [(0, 0, 1, 1), (0, 1, 2, 0), (1, 0, 0, 0), (1, 1, 4, 4), (1, 0, 2, 2)])
def test_conv_by_hand_is_rejected_when_one_value_is_off(change):
    assert exercises.check("conv-by-hand", conv_answer(), quiet=True)
    assert not exercises.check("conv-by-hand", conv_answer(change), quiet=True)


def test_conv_by_hand_values_are_the_notes_arithmetic():
    without, with_padding = (json.loads(line) for line in EXERCISES["conv-by-hand"].solve().splitlines())
    assert without == [[[54.0] * 3] * 3, [[108.0] * 3] * 3]  # 9·(1 + 2 + 3), and twice that
    assert [with_padding[0][0][0], with_padding[0][0][2], with_padding[0][2][2], with_padding[1][0][0]] == [24, 36, 54, 48]
    assert "dilation=0" in EXERCISES["conv-by-hand"].prompt[0]


def test_dataloader_steps_follow_the_trace_of_this_torch():
    solution = EXERCISES["dataloader-steps"].solve().splitlines()
    assert [line.strip() for line in solution][-1] == "RMBDataset.__getitem__"
    for required in ("DataLoader.__iter__", "_BaseDataLoaderIter.__next__", "_MapDatasetFetcher.fetch"):
        assert required in {line.strip() for line in solution}
    # Spelling forgiven, trivial frames skipped: accepted.
    assert exercises.check("dataloader-steps", "enumerate -> DataLoader.__iter__ -> dataloader.__next__ -> "
                           "next_data -> _next_index -> fetcher.fetch(index) -> rmbdataset.getitem", quiet=True)
    # A step that matters left out, or the order broken: rejected.
    for missing in ("_BaseDataLoaderIter.__next__", "_MapDatasetFetcher.fetch"):
        assert not exercises.check("dataloader-steps", "\n".join(line for line in solution if line.strip() != missing),
                                   quiet=True)
    swapped = ["_BaseDataLoaderIter.__next__", "DataLoader.__iter__", "_SingleProcessDataLoaderIter._next_data",
               "_BaseDataLoaderIter._next_index", "_MapDatasetFetcher.fetch", "RMBDataset.__getitem__"]
    assert not exercises.check("dataloader-steps", " -> ".join(swapped), quiet=True)
    assert not exercises.check("dataloader-steps", "DataLoader.__iter__ -> DataLoader.__magic__", quiet=True)


def test_lenet_steps_follow_the_trace_of_this_torch():
    solution = EXERCISES["lenet-modules-steps"].solve().splitlines()
    assert [line.strip() for line in solution][:3] == ["LeNet.__init__", "Module.__init__", "Conv2d.__init__"]
    assert sum(line.strip() == "Module.__setattr__" for line in solution) == 5  # conv1, conv2, fc1, fc2, fc3
    assert exercises.check("lenet-modules-steps", "LeNet(classes=2) -> nn.Module.__init__ -> nn.Conv2d.__init__ -> "
                           "Module.__setattr__(self, name, value) -> Linear.__init__", quiet=True)
    without_setattr = "\n".join(line for line in solution if "__setattr__" not in line)
    assert not exercises.check("lenet-modules-steps", without_setattr, quiet=True)


@pytest.mark.parametrize("text", ["[[1, 2], [3, 4]]", "tensor([[1., 2.],\n        [3., 4.]])", "[[1 2]\n [3 4]]",
                                  "1 2; 3 4", "1 2\n3 4", "array([[1, 2], [3, 4]], dtype=float32)"])
def test_a_nested_list_in_any_reasonable_spelling(text):
    from tools.exercise_set.answers import squeeze_leading
    assert squeeze_leading(parse_values(text)) == [[1.0, 2.0], [3.0, 4.0]]


def test_steps_in_any_reasonable_spelling():
    assert [step[1:] for step in parse_steps(
        "1. torch.nn.modules.module.Module.__setattr__(self, name, value)\n"
        "- fetcher.fetch (fetch.py:50) -> RMBDataset.getitem")] == [
        ("module", "setattr"), ("fetcher", "fetch"), ("rmbdataset", "getitem")]


def test_progress_is_kept_and_listed(progress_file, capsys):
    assert "✓ linear-by-hand" not in exercises.listing()
    exercises.main(["check", "linear-by-hand", "[[14.5,", "1.5]]"])  # several words: joined
    assert "linear-by-hand" in json.loads(progress_file.read_text(encoding="utf-8"))
    assert "✓ linear-by-hand" in exercises.listing()
    assert "1 of " in exercises.listing()


def test_the_command_exits_1_when_not_yet_and_2_for_a_bad_id_or_file(tmp_path, capsys):
    with pytest.raises(LessonError) as not_yet:
        exercises.main(["check", "linear-by-hand", "[[14.5, 2.5]]"])
    assert not_yet.value.status == 1 and "not yet" in not_yet.value.line()
    for argv in (["show", "no-such-exercise"], ["check", "own-dataset", "--file", str(tmp_path / "missing.py")],
                 ["check", "linear-by-hand"]):
        with pytest.raises(LessonError) as refused:
            exercises.main(argv)
        assert refused.value.status == 2 and "\n" not in refused.value.line()
    exercises.main(["solution", "pool-by-hand"])
    assert "[[6.0, 8.0, 9.0], [16.0, 18.0, 19.0], [21.0, 23.0, 24.0]]" in capsys.readouterr().out


def test_a_notebook_cell_can_check_a_python_value():
    assert exercises.check("pool-by-hand", [[6, 8, 9], [16, 18, 19], [21, 23, 24]], quiet=True)
    assert not exercises.check("pool-by-hand", [[6, 8, 9], [16, 18, 19], [21, 23, 25]], quiet=True)
    assert Answer("x").path is None


@pytest.mark.parametrize("encoding", ["cp1252", "gbk"])
def test_the_list_is_instant_and_safe_on_narrow_consoles(encoding, tmp_path):
    """A fresh interpreter: listing imports no torch, and prints on a console that cannot show every character."""
    probe = ("import runpy, sys; sys.argv = [sys.argv[1]]; runpy.run_path(sys.argv[0], run_name='__main__'); "
             "print('torch imported' if 'torch' in sys.modules else 'no torch')")
    completed = subprocess.run([sys.executable, "-c", probe, str(COMMAND)], capture_output=True, cwd=tmp_path,
                               env=dict(os.environ, PYTHONIOENCODING=encoding), timeout=60)
    assert completed.returncode == 0, completed.stderr.decode(encoding, "replace")
    printed = completed.stdout.decode(encoding)
    assert "conv-by-hand" in printed and printed.rstrip().endswith("no torch")


@pytest.mark.parametrize("lesson", sorted({exercise.lesson for exercise in EXERCISES.values()}))
def test_each_lesson_ends_with_a_cell_naming_its_exercises(lesson):
    """Where the learner meets them: the lesson's last cell names its exercises and the command."""
    source = (REPO_ROOT / f"{lesson}.py").read_text(encoding="utf-8")
    last_cell = source.rsplit("# %%", 1)[1]
    assert last_cell.startswith(" [markdown]") and "python tools/exercises.py" in last_cell, lesson
    for exercise in EXERCISES.values():
        if exercise.lesson == lesson:
            assert f"`{exercise.id}`" in last_cell, (lesson, exercise.id)
