"""Every lesson script, found by itself, runs with --quick as a user would and leaves its outputs."""
import ast

import pytest

from conftest import LESSON_SCRIPTS, lesson_id, run_lesson
from tools.metrics import read_figures

MAX_DOCSTRING_LINES = 22  # "about 20"


def test_lessons_are_discovered():
    folders = {script.parent.name for script in LESSON_SCRIPTS}
    assert {"lesson_regression", "lesson_models", "lesson_init", "lesson_layers"} <= folders


@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_lesson_runs_quick(script):
    run = run_lesson(script, "--quick")  # a subprocess from a temporary folder, as a user starts it
    assert run.returncode == 0, run.explain()
    figures = read_figures(run.out_dir)
    assert figures, f"no figures.json in {run.out_dir}\n{run.explain()}"
    for figure in figures:
        assert (run.out_dir / figure["file"]).is_file(), figure
        assert figure["caption"].strip(), f"{figure['file']} has no caption"
    assert any(figure["file"].endswith((".png", ".jpg")) for figure in figures), figures
    assert run.metrics.get("headline"), "the lesson marks no headline number"
    assert "Traceback" not in run.stderr, run.explain()


@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_lesson_opens_with_a_markdown_docstring_cell(script):
    """`# %% [markdown]` then the docstring: Jupytext makes it a text cell, Python still a docstring."""
    source = script.read_text(encoding="utf-8")
    assert source.startswith('# %% [markdown]\n"""'), f"{script.name} must open with '# %% [markdown]' and its docstring"
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring and len(docstring.splitlines()) <= MAX_DOCSTRING_LINES, \
        f"{script.name}: docstring of {len(docstring.splitlines())} lines"
    code_using_file = [line for line in source.splitlines()
                       if "__file__" in line and not line.lstrip().startswith("#")]
    assert len(code_using_file) <= 1 and all("globals()" in line for line in code_using_file), \
        f"{script.name} relies on __file__ beyond the sys.path line (a notebook kernel has none)"
    code_markers = [line for line in source.splitlines() if line.lstrip().startswith("# %%")]
    assert len(code_markers) >= 3
    for line in code_markers:
        assert line.startswith("# %%"), f"{script.name}: a '# %%' marker inside a block: {line!r}"
