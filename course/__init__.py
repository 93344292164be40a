"""The course machinery: what runs, shows, cleans up after and measures the lessons.

None of it is a lesson helper: no lesson imports this package. It imports `tools` and `model`
like a lesson does. Its commands are run from the repo root:

    python course/run_all.py        # every lesson, then outputs/index.html
    python course/pages.py          # a page per lesson: code, output, figures
    python course/clean.py          # remove what runs made (never a file of yours)
    python course/compat.py oldest  # the tests on the oldest supported versions, in a new venv
    python course/benchmark_busy.py # each training lesson idle and beside a busy core
    python course/benchmark_rmb_pipeline.py
"""
