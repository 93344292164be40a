"""Every lesson runs as a Jupyter notebook: converted by Jupytext, executed top to bottom by a real
kernel whose working directory is the lesson's folder, with figures inline; and it computes what
the same lesson computes from the command line (the same seed gives the same numbers)."""
import json
import subprocess
import sys

import pytest

from conftest import LESSON_ENV, LESSON_SCRIPTS, LESSON_TIMEOUT_S, REPO_ROOT, lesson_id, run_lesson
from tools.metrics import read_metrics


@pytest.fixture(scope="module")
def kernel_runs(tmp_path_factory):
    """Every lesson executed as a notebook, one after another in one real kernel (tests/notebook_run.py,
    --quick --device cpu): (report {"<folder>/<file>": {"error", "cells"}}, out_root, CompletedProcess)."""
    out_root, report = tmp_path_factory.mktemp("notebooks"), tmp_path_factory.mktemp("report") / "report.json"
    completed = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "notebook_run.py"), str(out_root),
                                str(report), *map(str, LESSON_SCRIPTS)], env=dict(LESSON_ENV, PYTHONPATH=""),
                               capture_output=True, text=True, encoding="utf-8", errors="replace",
                               timeout=LESSON_TIMEOUT_S * 3, stdin=subprocess.DEVNULL)
    loaded = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
    return loaded, out_root, completed


@pytest.fixture
def notebook_run(request, kernel_runs):
    """(report of the lesson's notebook: {"error", "cells"}, the out-dir it wrote)."""
    script = request.node.callspec.params["script"]
    reports, out_root, completed = kernel_runs
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
def test_notebook_and_command_line_give_the_same_numbers(script, notebook_run):
    """Two runs with the same seed on the CPU and one intra-op thread, one in a kernel and one from the
    command line (the smoke test's run, shared)."""
    _, out_dir = notebook_run
    command_line = run_lesson(script, "--quick")
    assert command_line.returncode == 0, command_line.explain()
    assert read_metrics(out_dir) == command_line.metrics  # no lesson records a wall-clock time
