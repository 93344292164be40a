"""Convert lessons with Jupytext and execute each top to bottom in a real Jupyter kernel.

    python tests/notebook_run.py OUT_ROOT REPORT.json LESSON.py [LESSON.py ...]

One kernel runs the lessons one after another. Before each, a cell of this harness empties the
namespace (`%reset -f`: a lesson that forgot an import fails), moves the kernel into the lesson's
folder (`%cd`, as when a learner opens the notebook there) and sets the lesson's flags in LESSON_ARGS
(the kernel's own argv is not the lesson's): --quick --device cpu --out-dir OUT_ROOT/<folder>/<stem>.
Sharing the kernel saves its start and the torch import for every lesson but the first.
REPORT.json gets, per lesson ("<folder>/<file>"), per cell, its type and what it put out (output
type, MIME types, text), and the error of the cell that failed, if one did.
"""
import json
import os
import shlex
import sys
from pathlib import Path

import jupytext
import nbclient
import nbformat
from jupyter_client.manager import KernelManager
from nbclient.exceptions import CellExecutionError

out_root, report_path = Path(sys.argv[1]), Path(sys.argv[2])
scripts = [Path(arg).resolve() for arg in sys.argv[3:]]

os.environ.pop("MPLBACKEND", None)  # the kernel chooses its own inline backend, as in Jupyter
kernel = KernelManager(kernel_name="python3")
report = {}
try:
    for script in scripts:
        notebook = jupytext.read(script)
        flags = f"--quick --device cpu --out-dir {shlex.quote(str(out_root / script.parent.name / script.stem))}"
        # The harness's own cell, first: a fresh namespace, the lesson's folder, its flags. Not reported.
        notebook.cells.insert(0, nbformat.v4.new_code_cell(
            f"%reset -f\n%cd {shlex.quote(str(script.parent))}\n"
            f"import os\nos.environ['LESSON_ARGS'] = {flags!r}"))
        client = nbclient.NotebookClient(notebook, km=kernel, timeout=300,
                                         resources={"metadata": {"path": str(scripts[0].parent)}})
        error = None
        try:
            client.execute()
        except CellExecutionError as failure:
            error = str(failure)[-3000:]
        cells = []
        for cell in notebook.cells[1:]:
            outputs = []
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                outputs.append({"output_type": output["output_type"], "mime": sorted(data),
                                "text": data.get("text/plain", output.get("text", ""))[:500]})
            cells.append({"cell_type": cell.cell_type, "source": cell.source[:200], "outputs": outputs})
        report[f"{script.parent.name}/{script.name}"] = {"error": error, "cells": cells}
finally:
    if kernel.has_kernel:
        kernel.shutdown_kernel(now=True)
report_path.write_text(json.dumps(report, indent=1), encoding="utf-8")
