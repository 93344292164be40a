"""The course's pages (course/pages.py) and its front page (course/gallery.py).

One real build, `python course/pages.py --quick` for two short lessons of two folders (one draws an
animation, one prints tables), is read by a real headless Chromium at a phone's 420 px and at a
desktop's width; a stand-in lesson that fails checks that the build fails with its name and error.
The full build of all 17 lessons (minutes) stays outside the suite; the same checks read it with

    python course/pages.py && PAGES_SITE=outputs python -m pytest -n 0 tests/test_pages.py
"""
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlparse

import jupytext
import nbformat
import pytest

from browser import Chromium, find_chromium
from conftest import LESSON_ENV, REPO_ROOT, lesson_script, run_lesson
from tools.errors import LessonError

from course import gallery, run_all  # noqa: E402 - conftest put the repo first on sys.path

SUBSET = (lesson_script("lesson_regression", "01_linear_regression"),  # a GIF, a PNG, Chinese in its docstring
          lesson_script("lesson_init", "03_calculate_gain"))  # wide printed tables
BUILD_TIMEOUT_S = 300
PHONE, DESKTOP = 420, 1280  # CSS pixels

# Each code cell of a lesson page as the reader sees it: its code, what it printed (text outputs),
# its images, and where its code ends and its outputs start on the page.
CODE_CELLS = """
Array.from(document.querySelectorAll('.jp-CodeCell')).map(cell => {
  const code = cell.querySelector('.jp-InputArea-editor');
  const outputs = cell.querySelector('.jp-OutputArea');
  const texts = outputs ? Array.from(outputs.querySelectorAll('.jp-RenderedText')) : [];
  return {code: code ? code.innerText : '', printed: texts.map(t => t.innerText).join(''),
          images: outputs ? Array.from(outputs.querySelectorAll('img')).map(img => img.src.slice(0, 15)) : [],
          code_bottom: code.getBoundingClientRect().bottom,
          outputs_top: outputs ? outputs.getBoundingClientRect().top : null};
})
"""
LINKS = "Array.from(document.querySelectorAll('a[href]')).map(a => ({href: a.href, text: a.innerText}))"


class Site(NamedTuple):
    stdout: "str | None"  # what the build printed; None for a site built before the tests
    root: Path
    lessons: list  # the lessons it has pages for, in course order


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    """`python course/pages.py --quick --out-dir ROOT <SUBSET>`, run as a user would, from another
    folder. With PAGES_SITE=DIR, the site already built there instead (e.g. the full course:
    `python course/pages.py && PAGES_SITE=outputs python -m pytest tests/test_pages.py`)."""
    pytest.importorskip("nbconvert", reason="the pages need nbconvert (requirements-docs.txt)")
    if os.environ.get("PAGES_SITE"):
        root = Path(os.environ["PAGES_SITE"]).resolve()
        lessons = [script for script in run_all.discover_lessons() if page_of(root, script).is_file()]
        assert lessons, f"PAGES_SITE={root}: no lesson page there"
        return Site(None, root, lessons)
    root = tmp_path_factory.mktemp("site") / "out"
    command = [sys.executable, str(REPO_ROOT / "course" / "pages.py"), "--quick", "--out-dir", str(root),
               *(f"{script.parent.name}/{script.stem}" for script in SUBSET)]
    completed = subprocess.run(command, cwd=tmp_path_factory.mktemp("cwd"), env=LESSON_ENV, capture_output=True,
                               encoding="utf-8", errors="replace", timeout=BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return Site(completed.stdout, root, list(SUBSET))


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for this file's page checks."""
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    chromium = Chromium(find_chromium())
    yield chromium
    chromium.close()


def page_of(root: Path, script: Path) -> Path:
    return root / script.parent.name / f"{script.stem}.html"


def lesson_pages(root: Path, lessons: list) -> list:
    """Every page of the build: the front page, each lesson's page and each folder README's."""
    return [root / gallery.GALLERY_FILE, *(page_of(root, script) for script in lessons),
            *sorted(root.glob("lesson_*/README*.html"))]


class Rows(HTMLParser):
    """The front page's table: per row, the link of its first cell and the text of each cell."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append({"link": None, "cells": []})
        elif tag in ("td", "th") and self.rows:
            self._cell = []
        elif tag == "a" and self.rows and self.rows[-1]["link"] is None:
            self.rows[-1]["link"] = dict(attrs).get("href")
        elif tag == "li" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1]["cells"].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


# --- The build -------------------------------------------------------------------------------------

def test_the_build_writes_a_page_per_lesson_and_ends_with_its_front_page(site):
    root, lessons = site.root, site.lessons
    if site.stdout is not None:
        assert site.stdout.strip().splitlines()[-1] == f"Front page: {root / gallery.GALLERY_FILE}"
    for script in lessons:
        folder = root / script.parent.name
        assert page_of(root, script).is_file() and (folder / "README.html").is_file()
        assert (folder / script.name).read_bytes() == script.read_bytes()  # the download is the lesson itself
        out_dir = folder / script.stem
        assert (out_dir / "metrics.json").is_file() and any(out_dir.glob("*.png"))  # the lesson ran there
        if site.stdout is not None:  # built here, with --quick: each page says so
            assert "A quick run" in page_of(root, script).read_text(encoding="utf-8")


def test_the_front_page_links_each_lesson_with_readable_headline_numbers(site):
    root, lessons = site.root, site.lessons
    parser = Rows()
    parser.feed((root / gallery.GALLERY_FILE).read_text(encoding="utf-8"))
    header, *rows = parser.rows
    assert header["cells"] == ["lesson", "status", "headline numbers"]
    assert [row["link"] for row in rows] == [f"{script.parent.name}/{script.stem}.html" for script in lessons]
    for row, script in zip(rows, lessons):
        title, status, numbers = row["cells"]
        assert title.startswith(gallery.split_title(run_all.docstring_of(script))[0])
        assert re.fullmatch(r"ok\s*\d+\.\d s", status), status
        lines = [line.strip() for line in numbers.splitlines() if line.strip()]
        assert lines == gallery.headline_lines(root / script.parent.name / script.stem) and lines
        for line in lines:
            assert re.fullmatch(r"[\w +]+: [^{}]+", line), line  # `name: value`, never a dictionary
    if site.stdout is not None:  # built here, with --quick: the front page says so
        assert "A quick run" in (root / gallery.GALLERY_FILE).read_text(encoding="utf-8")


def test_each_code_cell_shows_its_output_beneath_it(site, browser):
    """The page shows every `# %%` cell of the lesson in order, and under each the lines that cell
    printed: together, exactly what `python lesson.py --quick` prints, in the same order."""
    root, lessons = site.root, site.lessons
    for script in lessons:
        tab = browser.open_page(page_of(root, script).as_uri(), width=DESKTOP)
        cells = browser.evaluate(CODE_CELLS, tab)
        sources = [cell.source for cell in jupytext.read(script).cells if cell.cell_type == "code"]
        assert [cell["code"].strip() for cell in cells] == [source.strip() for source in sources]
        for cell, source in zip(cells, sources):
            if re.search(r"^print\(", source, re.M):  # a top-level print: this cell prints
                assert cell["printed"].strip(), f"no output under the cell:\n{source[:300]}"
            if cell["outputs_top"] is not None:
                assert cell["outputs_top"] >= cell["code_bottom"] - 1, source[:200]
        out_dir = root / script.parent.name / script.stem
        images = [image for cell in cells for image in cell["images"]]
        assert any(image.startswith("data:image/png") for image in images)  # figures, under their cells
        if any(out_dir.glob("*.gif")):
            assert any(image.startswith("data:image/gif") for image in images)  # the animation too
        if site.stdout is None:
            continue  # a site built elsewhere: its flags, threads and timings are not this run's
        command_line = run_lesson(script, "--quick", in_process=True)
        assert command_line.returncode == 0, command_line.explain()
        printed = "".join(cell["printed"] for cell in cells).replace(str(out_dir), "OUT_DIR")
        assert printed.split() == command_line.stdout.replace(str(command_line.out_dir), "OUT_DIR").split()


def test_every_page_reads_on_a_phone_and_a_desktop_without_another_host(site, browser):
    root, lessons = site.root, site.lessons
    for page in lesson_pages(root, lessons):
        for width in (PHONE, DESKTOP):
            tab = browser.open_page(page.as_uri(), width=width)
            where = f"{page.relative_to(root)} at {width} px"
            assert not browser.layout_problems(tab, gallery_rules=False), where
            images = browser.load_images(tab)
            assert all(image["naturalWidth"] > 0 for image in images), where
            assert not browser.foreign_requests(tab), where  # fonts, scripts and styles are all local
            assert not browser.console_errors(tab), where


def test_downloads_and_links_resolve(site, browser):
    """Every link of a lesson page leads to a file of the build: the .py and .ipynb downloads (the
    notebook holds the lesson's cells, without outputs), the README page, the neighbours, the
    front page, the lesson's out-dir."""
    root, lessons = site.root, site.lessons
    for index, script in enumerate(lessons):
        tab = browser.open_page(page_of(root, script).as_uri(), width=PHONE)
        links = browser.evaluate(LINKS, tab)
        targets = {Path(unquote(urlparse(link["href"]).path)) for link in links}
        assert all(target.exists() for target in targets), [str(t) for t in targets if not t.exists()]
        folder = root / script.parent.name
        expected = {folder / script.name, folder / f"{script.stem}.ipynb", folder / "README.html",
                    root / gallery.GALLERY_FILE, folder / script.stem}
        expected |= {page_of(root, other) for other in lessons[max(0, index - 1):index + 2] if other != script}
        assert expected <= targets, sorted(map(str, expected - targets))
        notebook = nbformat.read(folder / f"{script.stem}.ipynb", as_version=4)
        nbformat.validate(notebook)
        lesson = jupytext.read(script)
        assert [cell.source for cell in notebook.cells] == [cell.source for cell in lesson.cells]
        assert not any(cell.get("outputs") for cell in notebook.cells)


def test_markdown_renders_and_chinese_shows(site, browser):
    """The docstring is text, not a string; its `code` renders as code; the notes' Chinese terms are
    in the page as characters, drawn with a font that has them where the system has one."""
    root, lessons = site.root, site.lessons
    script = lessons[0]
    tab = browser.open_page(page_of(root, script).as_uri(), width=PHONE)
    markdown = browser.evaluate("document.querySelector('.jp-MarkdownCell').innerText", tab)
    assert markdown.startswith(gallery.split_title(run_all.docstring_of(script))[0]) and '"""' not in markdown
    assert browser.evaluate("document.querySelectorAll('.jp-MarkdownCell code').length", tab) > 0
    chinese = re.findall(r"[\u4e00-\u9fff]+", run_all.docstring_of(script))
    assert chinese and all(term in markdown for term in chinese)
    readme = browser.open_page((root / script.parent.name / "README.html").as_uri(), width=PHONE)
    heading = browser.evaluate("document.querySelector('h1').innerText", readme)
    assert re.search(r"[\u4e00-\u9fff]", heading), heading
    has_cjk_font = shutil.which("fc-list") and subprocess.run(["fc-list", ":lang=zh"], capture_output=True,
                                                              text=True).stdout.strip()
    if has_cjk_font:  # else the reader's system shows them (CI: apt-get install fonts-noto-cjk)
        fonts = browser.fonts_for("h1", readme)
        assert any(font["glyphCount"] > 0 and re.search(r"CJK|Hei|Han|Ming|Song|Kai|Noto Sans SC|YaHei|Droid",
                                                         font["familyName"], re.I) for font in fonts), fonts


def test_a_failing_lesson_fails_the_build_with_its_name_and_error(tmp_path, monkeypatch):
    pytest.importorskip("nbconvert", reason="the pages need nbconvert (requirements-docs.txt)")
    from course import pages
    folder = tmp_path / "lesson_fake"
    folder.mkdir()
    bad = folder / "02_bad.py"
    bad.write_text('# %% [markdown]\n"""A stand-in lesson that breaks."""\n# %%\nprint("about to fail")\n'
                   '# %%\nraise RuntimeError("the lesson broke here")\n# %%\nprint("never")\n', encoding="utf-8")
    monkeypatch.setattr(run_all, "discover_lessons", lambda: [bad])
    with pytest.raises(LessonError) as failure:
        pages.main(["--out-dir", str(tmp_path / "out")])
    assert failure.value.status == 1
    assert failure.value.message == "lesson_fake/02_bad: RuntimeError: the lesson broke here"
    front = (tmp_path / "out" / gallery.GALLERY_FILE).read_text(encoding="utf-8")
    assert "failed (exit 1)" in front and "the lesson broke here" in front
    page = (tmp_path / "out" / "lesson_fake" / "02_bad.html").read_text(encoding="utf-8")
    assert "about to fail" in page and "the lesson broke here" in page and "This lesson failed" in page
    assert "<pre>never" not in page  # the cells after it did not run (their code is shown)


def test_the_browser_check_fails_a_broken_page(tmp_path, browser):
    """The checks can fail: a page as the gallery used to be is caught on every count, and a page
    that asks another host for a script is caught too."""
    from PIL import Image
    Image.new("RGB", (900, 300), "white").save(tmp_path / "wide.png")
    body = ('<table><tr><td>' + "a_very_long_metric_value_" * 12 + "</td></tr></table>"
            '<section><h2>Module containers: nn.Sequential, nn.ModuleList,</h2>'
            '<img src="wide.png"><a href="other.png"><img src="missing.png" loading="lazy"></a></section>'
            '<script src="http://example.invalid/mathjax.js"></script>')
    page = tmp_path / "broken.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>{body}'
                    "</body></html>", encoding="utf-8")
    tab = browser.open_page(page.as_uri(), width=PHONE)
    problems = browser.layout_problems(tab)
    images = browser.load_images(tab)
    found = "\n".join(problems)
    for complaint in ("no <meta name=\"viewport\"", "laid out", "image not inside a link", "links elsewhere",
                      'not loading="lazy"', "without width and height", "heading cut mid-sentence"):
        assert complaint in found, (complaint, problems)
    assert [image["naturalWidth"] for image in images] == [900, 0]
    errors = browser.console_errors(tab)
    assert errors and "missing.png" in " ".join(errors)
    assert browser.foreign_requests(tab) == ["http://example.invalid/mathjax.js"]
    # The same overflow with a viewport tag: the page itself scrolls sideways, the image is too wide.
    page = tmp_path / "wide.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
                    f'content="width=device-width, initial-scale=1"><title>t</title></head><body>{body}'
                    "</body></html>", encoding="utf-8")
    problems = browser.layout_problems(browser.open_page(page.as_uri(), width=PHONE), gallery_rules=False)
    assert any("scrolls sideways" in problem for problem in problems), problems
    assert any("reaches past the screen: <td>" in problem for problem in problems), problems
    assert any("image wider than the screen" in problem for problem in problems), problems


# --- The front page's words ---------------------------------------------------------------------------

def test_headline_numbers_read_as_a_person_writes_them():
    overflowed = {"final_std": None, "nan_layer": 31, "weight_std": 0.99981, "grad_norm_first_layer": None}
    assert gallery.format_value(overflowed, "normal+none") == "nan at layer 31"
    assert gallery.format_value({"final_std": 0.6441, "nan_layer": None, "weight_std": 0.0625},
                                "xavier+tanh") == "final_std 0.6441, weight_std 0.0625"
    assert gallery.format_value({"temperature": "_parameters", "mean": "__dict__"}, "homes") == \
        "temperature → _parameters, mean → __dict__"
    tour = {"normal_": {"nan_layer": 35, "final_std": None}, "xavier_uniform_": {"final_std": 5e-16, "nan_layer": None}}
    assert gallery.format_value(tour, "nn_init_tour") == "normal_: nan at layer 35; xavier_uniform_: final_std 5e-16"
    assert gallery.format_value([1, 1, 510, 510], "conv2d_shape") == "(1, 1, 510, 510)"
    assert gallery.format_value(0.995, "valid_acc") == "99.5 %"
    assert gallery.format_value([0.5, 1.0], "acc_curve") == "[50 %, 100 %]"
    assert gallery.format_value(3.5, "accuracy") == "3.5"  # not a fraction: left alone
    assert gallery.format_value(list(range(40)), "curve", limit=30) == "[0, 1, 2, 3, 4, 5, 6, 7, …"
    assert gallery.readable_key("normal+none") == "normal + none"


def test_headline_lines_name_each_number(tmp_path):
    (tmp_path / "metrics.json").write_text('{"headline": ["normal+none", "test_acc"], "test_acc": 1.0, '
                                           '"normal+none": {"final_std": null, "nan_layer": 31}, "other": 7}')
    assert gallery.headline_lines(tmp_path) == ["normal + none: nan at layer 31", "test_acc: 100 %"]
    assert gallery.format_headline(tmp_path) == "normal+none=nan at layer 31  test_acc=100 %"


def test_gallery_title_is_the_whole_first_sentence():
    assert gallery.split_title("Model containers: nn.Sequential, nn.ModuleList,\nand a plain list.\n\nMore.") == \
        ("Model containers: nn.Sequential, nn.ModuleList, and a plain list.", "More.")
    assert gallery.split_title("A title, e.g. this one. The rest\ngoes on.") == \
        ("A title, e.g. this one.", "The rest\ngoes on.")
    assert gallery.inline_html("`a < b` and <i>") == "<code>a &lt; b</code> and &lt;i&gt;"
