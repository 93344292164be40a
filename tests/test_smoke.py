"""Every lesson script, found by itself, runs with --quick as a user would and leaves its outputs."""
import pytest

from conftest import LESSON_SCRIPTS, lesson_id


def test_lessons_are_discovered():
    folders = {script.parent.name for script in LESSON_SCRIPTS}
    assert "lesson_regression" in folders


@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_lesson_runs_quick(script, quick_runs):
    run = quick_runs[script]
    assert run.returncode == 0, run.explain()
    assert list(run.out_dir.glob("*.png")), f"no PNG in {run.out_dir}\n{run.explain()}"
    assert (run.out_dir / "metrics.json").is_file(), run.explain()
    assert run.metrics, "metrics.json is empty"
    assert "Traceback" not in run.stderr, run.explain()


@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_lesson_opens_with_docstring_and_cells(script):
    source = script.read_text(encoding="utf-8")
    assert source.startswith('"""'), f"{script.name} must open with its docstring"
    assert "# %%" in source, f"{script.name} has no '# %%' cell markers"
    for line in source.splitlines():
        if line.lstrip().startswith("# %%"):
            assert line.startswith("# %%"), f"{script.name}: a '# %%' marker inside a block: {line!r}"
