"""The course runner (tools/run_all.py) and its gallery, outputs/index.html, in a real browser."""
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from browser import Chromium, find_chromium
from conftest import LESSON_SCRIPTS, TIMING_KEYS, lesson_id
from tools import run_all


class ImageSources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def gallery_sources(out_root: Path) -> list:
    parser = ImageSources()
    parser.feed((out_root / "index.html").read_text(encoding="utf-8"))
    return parser.sources


def test_runner_runs_every_lesson_in_course_order(course_run):
    completed, out_root = course_run
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert set(run_all.discover_lessons()) == set(LESSON_SCRIPTS)
    folders = [script.parent.name for script in run_all.discover_lessons()]
    known = [folder for folder in run_all.COURSE_ORDER if folder in folders]
    assert sorted(set(folders), key=folders.index)[:len(known)] == known  # the notes' order
    table = completed.stdout.split("lesson ", 1)[1]
    for script in LESSON_SCRIPTS:
        assert re.search(rf"{re.escape(lesson_id(script))}\s+ok\s+\d+\.\d", table), lesson_id(script)
        assert (out_root / script.parent.name / script.stem / "console.txt").is_file()
    assert re.search(rf"all lessons\s+{len(LESSON_SCRIPTS)}/{len(LESSON_SCRIPTS)}", table)


def test_same_seed_same_metrics(course_run, quick_runs):
    """Two runs with the same seed on the CPU (the smoke run and the runner's) give identical
    metrics, wall-clock times aside."""
    _, out_root = course_run
    from tools.metrics import read_metrics
    for script in LESSON_SCRIPTS:
        first = quick_runs[script]
        if first.returncode != 0:
            continue  # the smoke test reports it
        second = read_metrics(out_root / script.parent.name / script.stem)
        without_timing = lambda metrics: {k: v for k, v in metrics.items() if k not in TIMING_KEYS}
        assert without_timing(first.metrics) == without_timing(second), lesson_id(script)


def test_gallery_shows_every_figure_with_relative_links(course_run):
    _, out_root = course_run
    sources = gallery_sources(out_root)
    figures = sorted(path.relative_to(out_root).as_posix()
                     for path in out_root.glob("lesson_*/*/*") if path.suffix in (".png", ".gif"))
    assert figures, "the quick course drew nothing"
    assert sorted(unquote(source) for source in sources) == figures
    assert all(not source.startswith(("/", "file:", "http")) for source in sources)
    page = (out_root / "index.html").read_text(encoding="utf-8")
    for script in LESSON_SCRIPTS:
        title = run_all.docstring_of(script).splitlines()[0]
        assert html.escape(title) in page, title
    assert "<script" not in page


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed "
                    "(apt-get install chromium; .ci/run installs it)")
def test_gallery_loads_in_a_real_browser(course_run):
    _, out_root = course_run
    browser = Chromium(find_chromium())
    try:
        tab = browser.open_page((out_root / "index.html").as_uri())
        images = browser.evaluate(
            "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])", tab)
        errors = browser.console_errors(tab)
        title = browser.evaluate("document.title", tab)
    finally:
        browser.close()
    assert title.startswith("PyTorch basics")
    assert len(images) == len(gallery_sources(out_root))
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert not broken, f"images that did not load: {broken}"
    assert not errors, errors


def test_browser_check_catches_a_broken_image(tmp_path):
    """The browser test can fail: a page with a missing image is caught."""
    if find_chromium() is None:
        pytest.skip("Chromium is not installed")
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><title>t</title></head><body><img src="missing.png"></body></html>')
    browser = Chromium(find_chromium())
    try:
        tab = browser.open_page(page.as_uri())
        images = browser.evaluate("Array.from(document.images).map(i => i.naturalWidth)", tab)
        errors = browser.console_errors(tab)
    finally:
        browser.close()
    assert images == [0]
    assert errors and "missing.png" in " ".join(errors)


def fake_lesson(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f'"""{name}: a stand-in lesson.\n\nIt is fake."""\n'
                      "import json, sys\n"
                      "out = sys.argv[sys.argv.index('--out-dir') + 1]\n" + body)
    return script


def test_runner_reports_a_failing_lesson(tmp_path, monkeypatch, capsys):
    good = fake_lesson(tmp_path / "lesson_fake", "01_good.py",
                       "open(out + '/metrics.json', 'w').write(json.dumps({'answer': 42}))\nprint('fine')\n")
    bad = fake_lesson(tmp_path / "lesson_fake", "02_bad.py",
                      "print('about to fail')\nraise RuntimeError('the lesson broke here')\n")
    monkeypatch.setattr(run_all, "discover_lessons", lambda: [good, bad])
    status = run_all.main(["--out-dir", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert status == 1
    assert re.search(r"lesson_fake/01_good\s+ok\s+.*answer=42", out)
    assert re.search(r"lesson_fake/02_bad\s+FAIL 1", out)
    assert "the lesson broke here" in err  # the failing lesson's error is shown
    page = (tmp_path / "out" / "index.html").read_text()
    assert "failed (exit 1)" in page and "the lesson broke here" in page


def test_runner_refuses_a_missing_device(tmp_path, capsys):
    import torch
    if torch.cuda.device_count() > 7:
        pytest.skip("this machine really has a cuda:7")
    with pytest.raises(SystemExit) as stop:
        run_all.main(["--device", "cuda:7", "--out-dir", str(tmp_path)])
    assert stop.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_every_headline_number_is_in_its_lesson_metrics(course_run):
    """The runner's table names keys of each lesson's metrics.json: a renamed key must not vanish."""
    from tools.metrics import read_metrics
    _, out_root = course_run
    for script in LESSON_SCRIPTS:
        metrics = read_metrics(out_root / script.parent.name / script.stem)
        for key in run_all.HEADLINE_KEYS.get(lesson_id(script), []):
            assert run_all.lookup(metrics, key) is not None, (lesson_id(script), key)


def test_a_folder_runs_in_order_while_folders_run_side_by_side(tmp_path, monkeypatch, capsys):
    """02 of a folder may use what 01 made: it starts only once 01 has finished, even with --jobs 2."""
    handoff = tmp_path / "made_by_01.txt"
    first = fake_lesson(tmp_path / "lesson_a", "01_make.py",
                        f"import time\ntime.sleep(0.5)\nopen({str(handoff)!r}, 'w').write('ready')\n"
                        "open(out + '/metrics.json', 'w').write('{}')\n")
    second = fake_lesson(tmp_path / "lesson_a", "02_use.py",
                         f"assert open({str(handoff)!r}).read() == 'ready'\n"
                         "open(out + '/metrics.json', 'w').write('{}')\n")
    other = fake_lesson(tmp_path / "lesson_b", "01_other.py", "open(out + '/metrics.json', 'w').write('{}')\n")
    lessons = [first, second, other]
    assert run_all.folder_chains(lessons) == [[first, second], [other]]
    monkeypatch.setattr(run_all, "discover_lessons", lambda: lessons)
    assert run_all.main(["--jobs", "2", "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "2 folders at a time" in out
    # The final table lists the lessons in course order, whatever order they finished in.
    table = out.split("headline numbers", 1)[1]
    assert table.index("lesson_a/01_make") < table.index("lesson_a/02_use") < table.index("lesson_b/01_other")
