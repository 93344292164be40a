"""Every lesson runs as a Jupyter notebook: converted by Jupytext, executed top to bottom by a real
kernel whose working directory is the lesson's folder, with figures inline; and it computes what
the same lesson computes from the command line (the same seed gives the same numbers)."""
import pytest

from conftest import LESSON_SCRIPTS, TIMING_KEYS, lesson_id
from tools.metrics import read_metrics


@pytest.fixture
def notebook_run(request, lesson_runner):
    """(report of the lesson's notebook: {"error", "cells"}, the out-dir it wrote). The notebooks of
    every selected lesson run in one kernel, started when the tests were chosen (conftest.py)."""
    script = request.node.callspec.params["script"]
    reports, out_root, completed = lesson_runner.notebooks([script]).result()
    name = f"{script.parent.name}/{script.name}"
    assert reports is not None and name in reports, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert reports[name]["error"] is None, reports[name]["error"]
    return reports[name], out_root / script.parent.name / script.stem


@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_lesson_runs_as_a_notebook_with_inline_figures(script, notebook_run):
    report, out_dir = notebook_run
    cells = report["cells"]
    assert cells[0]["cell_type"] == "markdown", "the docstring should read as text, not echo as a string"
    outputs = [output for cell in cells for output in cell["outputs"]]
    shown = [output for output in outputs if output["output_type"] == "display_data"]
    assert any("image/png" in output["mime"] for output in shown), "no figure shown inline"
    for output in outputs:
        if output["output_type"] == "execute_result":
            assert not output["text"].startswith(("PosixPath", "WindowsPath")), "a cell echoes a path"
    if any(path.suffix == ".gif" for path in out_dir.iterdir()):
        assert any("image/gif" in output["mime"] for output in shown), "the animation is not shown"


@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_notebook_and_command_line_give_the_same_numbers(script, notebook_run, quick_runs):
    """Two runs with the same seed on the CPU, one in a kernel and one from the command line."""
    _, out_dir = notebook_run
    command_line = quick_runs[script]
    assert command_line.returncode == 0, command_line.explain()
    without_timing = lambda metrics: {key: value for key, value in metrics.items() if key not in TIMING_KEYS}
    assert without_timing(read_metrics(out_dir)) == without_timing(command_line.metrics)
