"""The course runner (course/run_all.py) and its gallery page (index.html), in a real browser.

One real run of the runner on a small subset of the course (4 lessons, --quick, on the CPU) is
shared by this file's tests; the rest use stand-in lessons, which take milliseconds, and real
processes and signals for Ctrl-C.
"""
import html
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from browser import Chromium, find_chromium

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from course import gallery, run_all  # noqa: E402

RUN_ALL = REPO_ROOT / "tools" / "run_all.py"
# Two lessons of two folders (the suite's time budget is tight) with every kind of figure: GIF, PNG,
# photo JPEG. The smoke and notebook tests run every lesson; this checks the runner and its page.
SUBSET = ("lesson_regression/01_linear_regression", "lesson_layers/01_convolution")
RUN_TIMEOUT_S = 300
SIGNAL_TIMEOUT_S = 30  # a Ctrl-C test never waits longer than this for anything


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """(CompletedProcess, out_root) of `python course/run_all.py --quick --device cpu --out-dir D
    <SUBSET>`, from a temporary working directory."""
    out_root = tmp_path_factory.mktemp("course") / "out"
    command = [sys.executable, str(RUN_ALL), "--quick", "--device", "cpu", "--out-dir", str(out_root), *SUBSET]
    completed = subprocess.run(command, cwd=tmp_path_factory.mktemp("cwd"), capture_output=True,
                               env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0"),
                               encoding="utf-8", errors="replace", timeout=RUN_TIMEOUT_S,
                               stdin=subprocess.DEVNULL)
    return completed, out_root


def subset_lessons() -> list:
    return run_all.select_lessons(run_all.discover_lessons(), list(SUBSET))


def table_of(stdout: str) -> str:
    return stdout.split("headline numbers", 1)[1].split("Wall time", 1)[0]


class PageImages(HTMLParser):
    """Every <img> with its attributes, and the href of the link around it."""

    def __init__(self):
        super().__init__()
        self.images, self.links = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs).get("href"))
        elif tag == "img":
            self.images.append(dict(attrs, link=self.links[-1] if self.links else None))

    def handle_endtag(self, tag):
        if tag == "a" and self.links:
            self.links.pop()


def page_images(page: Path) -> list:
    parser = PageImages()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.images


# --- The real runner, on a subset ------------------------------------------------------------------

def test_runner_runs_the_chosen_lessons_in_course_order(course):
    completed, out_root = course
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    lessons = subset_lessons()
    assert [run_all.lesson_name(script) for script in lessons] == list(SUBSET)
    table = table_of(completed.stdout)
    positions = [table.index(run_all.lesson_name(script)) for script in lessons]
    assert positions == sorted(positions)  # the notes' order, whatever order they finished in
    for script in lessons:
        assert re.search(rf"{re.escape(run_all.lesson_name(script))}\s+ok\s+\d+\.\d", table), table
        assert (out_root / script.parent.name / script.stem / "console.txt").is_file()
    assert re.search(r"all lessons\s+2/2", table)
    assert not (out_root / "lesson_models").exists()  # not chosen, not run
    assert sorted(path.name for path in (out_root / "lesson_regression").iterdir()) == ["01_linear_regression"]


def test_headline_numbers_are_each_lessons_own_list(course):
    completed, out_root = course
    assert not hasattr(run_all, "HEADLINE_KEYS")  # no central table to keep in step with the lessons
    table = table_of(completed.stdout)
    checked = 0
    for script in subset_lessons():
        metrics = json.loads((out_root / script.parent.name / script.stem / "metrics.json").read_text())
        if "headline" not in metrics:
            continue  # a lesson not yet converted: its first numbers (tested with stand-ins below)
        row = next(line for line in table.splitlines() if run_all.lesson_name(script) in line)
        shown = re.findall(r"(\S+)=", row.split("  ok  ", 1)[1])
        assert shown == metrics["headline"], (row, metrics["headline"])
        checked += 1
    assert checked, "no lesson of the subset marks its headline numbers"


def test_gallery_shows_each_lessons_figures_in_its_order_with_captions(course):
    _, out_root = course
    page_path = out_root / "index.html"
    page = page_path.read_text(encoding="utf-8")
    images = page_images(page_path)
    expected = []
    for script in subset_lessons():
        out_dir = out_root / script.parent.name / script.stem
        listed = json.loads((out_dir / "figures.json").read_text(encoding="utf-8")) \
            if (out_dir / "figures.json").is_file() else []
        for entry in listed:
            assert html.escape(entry["caption"], quote=False) in page or entry["caption"] in page, entry
        files = [entry["file"] for entry in listed]
        files += sorted(path.name for path in out_dir.iterdir()
                        if path.suffix in gallery.FIGURE_SUFFIXES and path.name not in files)
        expected += [f"{script.parent.name}/{script.stem}/{name}" for name in files]
    assert {Path(name).suffix for name in expected} == {".gif", ".png", ".jpg"}, expected
    assert [unquote(image["src"]) for image in images] == expected  # every figure, in the lessons' order
    for image in images:
        assert image["link"] == image["src"]  # a link to the full-size file
        assert not image["src"].startswith(("/", "file:", "http"))  # relative: the folder can move
        assert image["loading"] == "lazy"
        with Image.open(out_root / unquote(image["src"])) as picture:
            assert (int(image["width"]), int(image["height"])) == picture.size
        assert image["alt"] and not image["alt"].endswith((".png", ".jpg", ".gif"))  # the caption
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<script" not in page
    assert 'id="contents"' in page and page.count('href="#contents"') == len(subset_lessons())


def test_gallery_titles_are_whole_first_sentences(course):
    _, out_root = course
    page = (out_root / "index.html").read_text(encoding="utf-8")
    headings = re.findall(r"<section [^>]*>\s*<h2>(.*?)</h2>", page, re.S)
    assert len(headings) == len(subset_lessons())
    for script, heading in zip(subset_lessons(), headings):
        first_paragraph = " ".join(run_all.docstring_of(script).split("\n\n")[0].split())
        text = re.sub(r"</?code>", "`", html.unescape(heading))
        assert text.endswith((".", "!", "?")), heading
        assert first_paragraph.startswith(text), (text, first_paragraph)
    assert "`" not in re.sub(r"<pre.*?</pre>", "", page, flags=re.S)  # backticks became <code>


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for this file's page checks."""
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    chromium = Chromium(find_chromium())
    yield chromium
    chromium.close()


def test_gallery_works_in_a_browser_on_a_420_px_screen(course, browser):
    _, out_root = course
    tab = browser.open_page((out_root / "index.html").as_uri(), width=420)
    problems = browser.layout_problems(tab)
    images = browser.load_images(tab)
    assert browser.evaluate("document.title", tab).startswith("PyTorch basics")
    assert not problems, problems
    assert len(images) == len(page_images(out_root / "index.html")) > 0
    broken = [image["src"] for image in images if image["naturalWidth"] == 0]
    assert not broken, f"images that did not load: {broken}"
    for image in images:
        assert (int(image["width"]), int(image["height"])) == (image["naturalWidth"], image["naturalHeight"])
    errors = browser.console_errors(tab)
    assert not errors, errors


def test_the_browser_check_fails_a_broken_page(tmp_path, browser):
    """The 420 px check can fail: a page as the gallery used to be is caught on every count."""
    Image.new("RGB", (900, 300), "white").save(tmp_path / "wide.png")
    body = ('<table><tr><td>' + "a_very_long_metric_value_" * 12 + "</td></tr></table>"
            '<section><h2>Module containers: nn.Sequential, nn.ModuleList,</h2>'
            '<img src="wide.png"><a href="other.png"><img src="missing.png" loading="lazy"></a></section>')
    page = tmp_path / "broken.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>{body}'
                    "</body></html>", encoding="utf-8")
    tab = browser.open_page(page.as_uri(), width=420)
    problems = browser.layout_problems(tab)
    images = browser.load_images(tab)
    found = "\n".join(problems)
    for complaint in ("no <meta name=\"viewport\"", "laid out", "image not inside a link", "links elsewhere",
                      'not loading="lazy"', "without width and height", "heading cut mid-sentence"):
        assert complaint in found, (complaint, problems)
    assert [image["naturalWidth"] for image in images] == [900, 0]
    errors = browser.console_errors(tab)
    assert errors and "missing.png" in " ".join(errors)
    # The same overflow with a viewport tag: the page itself scrolls sideways.
    page = tmp_path / "wide.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
                    f'content="width=device-width, initial-scale=1"><title>t</title></head><body>{body}'
                    "</body></html>", encoding="utf-8")
    problems = browser.layout_problems(browser.open_page(page.as_uri(), width=420))
    assert any("scrolls sideways" in problem for problem in problems), problems
    assert any("reaches past the screen: <td>" in problem for problem in problems), problems


# --- Stand-in lessons ----------------------------------------------------------------------------

def fake_lesson(folder: Path, name: str, body: str, doc: str = None) -> Path:
    """A lesson file that takes the runner's --out-dir; `body` is its code (json, sys, os, time imported)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f'# %% [markdown]\n"""{doc or name + ": a stand-in lesson."}\n\nIt is `fake`."""\n'
                      "import json, os, sys, time\n"
                      "out = sys.argv[sys.argv.index('--out-dir') + 1]\n" + body, encoding="utf-8")
    return script


def metrics_line(metrics: dict) -> str:
    return f"open(out + '/metrics.json', 'w').write({json.dumps(metrics)!r})\n"


def run_fakes(monkeypatch, lessons: list, *argv) -> int:
    monkeypatch.setattr(run_all, "discover_lessons", lambda: lessons)
    return run_all.main(list(argv))


def test_runner_reports_a_failing_lesson_and_clears_its_old_outputs(tmp_path, monkeypatch, capsys):
    good = fake_lesson(tmp_path / "lesson_fake", "01_good.py",
                       metrics_line({"headline": ["answer"], "answer": 42, "other": 7}) + "print('fine')\n")
    bad = fake_lesson(tmp_path / "lesson_fake", "02_bad.py",
                      "print('about to fail')\nraise RuntimeError('the lesson broke here')\n")
    # What an earlier, successful run of 02_bad left: it must not show as this run's.
    old = tmp_path / "out" / "lesson_fake" / "02_bad"
    (old / "keep").mkdir(parents=True)
    (old / "metrics.json").write_text(json.dumps({"headline": ["stale_number"], "stale_number": 987654321}))
    (old / "figures.json").write_text(json.dumps([{"file": "old.png", "caption": "An old figure."}]))
    for name in ("old.png", "old.jpg", "old.gif", "keep/photo.png"):
        Image.new("RGB", (4, 4)).save(old / name)
    (old / "notes.txt").write_text("the user's")

    status = run_fakes(monkeypatch, [good, bad], "--out-dir", str(tmp_path / "out"))
    out, err = capsys.readouterr()
    assert status == 1
    assert re.search(r"lesson_fake/01_good\s+ok\s+\S+\s+answer=42\s*$", out, re.M)  # its own headline only
    assert re.search(r"lesson_fake/02_bad\s+FAIL 1\s+\S+\s*$", out, re.M)  # no numbers: it has none
    assert "the lesson broke here" in err  # the failing lesson's error is shown
    assert sorted(path.relative_to(old).as_posix() for path in old.rglob("*")) == \
        ["console.txt", "keep", "keep/photo.png", "notes.txt"]  # only what runs generate was cleared
    page = (tmp_path / "out" / "index.html").read_text()
    assert "failed (exit 1)" in page and "the lesson broke here" in page
    assert "old.png" not in page and "stale_number" not in page and "987654321" not in page


def test_a_lesson_without_headline_shows_its_first_numbers_and_accuracies_as_percentages(tmp_path, monkeypatch, capsys):
    old_shape = fake_lesson(tmp_path / "lesson_fake", "01_old.py", metrics_line(
        {"device": "cpu", "a": 1, "b": 2.5, "valid_acc": 0.995, "d": 4, "curve": [0.1] * 40}))
    assert run_fakes(monkeypatch, [old_shape], "--out-dir", str(tmp_path / "out")) == 0
    assert re.search(r"lesson_fake/01_old\s+ok\s+\S+\s+a=1  b=2.5  valid_acc=99.5 %$", capsys.readouterr().out, re.M)
    page = (tmp_path / "out" / "index.html").read_text()
    assert "valid_acc = 99.5 %" in page and "0.995" not in page
    assert "<code>fake</code>" in page  # the docstring's backticks render as code
    assert gallery.format_value([0.5, 1.0], "acc_curve") == "[50 %, 100 %]"
    assert gallery.format_value(3.5, "accuracy") == "3.5"  # not a fraction: left alone


def test_gallery_title_is_the_whole_first_sentence():
    assert gallery.split_title("Model containers: nn.Sequential, nn.ModuleList,\nand a plain list.\n\nMore.") == \
        ("Model containers: nn.Sequential, nn.ModuleList, and a plain list.", "More.")
    assert gallery.split_title("A title, e.g. this one. The rest\ngoes on.") == \
        ("A title, e.g. this one.", "The rest\ngoes on.")
    body = gallery.render_docstring("Run it:\n\n    python a.py   # `x`\n\n- one `item`\n  continued\n- two")
    assert "<pre><code>python a.py   # `x`</code></pre>" in body
    assert "<ul><li>one <code>item</code> continued</li><li>two</li></ul>" in body


def test_quick_runs_go_apart_and_never_touch_the_full_course(tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs"
    monkeypatch.setattr(run_all, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(run_all, "QUICK_OUTPUTS_DIR", outputs / "quick")
    lesson = fake_lesson(tmp_path / "lesson_fake", "01_draw.py",
                         "from PIL import Image\nImage.new('RGB', (30, 20)).save(out + '/fig.png')\n"
                         "quick = '--quick' in sys.argv\n"
                         + metrics_line({"headline": ["n"], "n": 300})
                         + "if quick:\n    " + metrics_line({"headline": ["n"], "n": 3}))
    assert run_fakes(monkeypatch, [lesson]) == 0
    full = {path: path.read_bytes() for path in outputs.rglob("*") if path.is_file()}
    assert outputs / "index.html" in full and outputs / "lesson_fake" / "01_draw" / "fig.png" in full
    assert "quick run" not in (outputs / "index.html").read_text()
    assert run_fakes(monkeypatch, [lesson], "--quick") == 0
    capsys.readouterr()
    assert {path: path.read_bytes() for path in full} == full  # byte-identical
    assert not [path for path in outputs.rglob("*") if path.is_file() and path not in full
                and outputs / "quick" not in path.parents]
    quick_page = (outputs / "quick" / "index.html").read_text()
    assert "quick run" in quick_page and "n = 3" in quick_page
    assert json.loads((outputs / "quick" / "lesson_fake" / "01_draw" / "metrics.json").read_text())["n"] == 3


def test_a_data_lesson_starts_after_the_lesson_that_prepares_its_data(tmp_path, monkeypatch, capsys):
    """02 reads what 01 writes (--data-dir / --split-dir flags): it starts only once 01 has ended,
    while a lesson that needs no data runs beside 01."""
    times = tmp_path / "times"
    times.mkdir()
    stamp = f"open({str(times)!r} + '/' + os.path.basename(out), 'w').write(f'{{start}} {{time.time()}}')\n"
    first = fake_lesson(tmp_path / "lesson_a", "01_make.py",
                        "start = time.time()\n# parser.add_argument('--split-dir')\ntime.sleep(1.0)\n" + stamp)
    second = fake_lesson(tmp_path / "lesson_a", "02_use.py",
                         "start = time.time()\n# parser.add_argument('--data-dir')\n" + stamp)
    free = fake_lesson(tmp_path / "lesson_a", "03_free.py", "start = time.time()\ntime.sleep(0.3)\n" + stamp)
    other = fake_lesson(tmp_path / "lesson_b", "01_other.py", "start = time.time()\n" + stamp)
    lessons = [first, second, free, other]
    assert run_all.prerequisites(second, lessons) == [first]
    assert run_all.prerequisites(free, lessons) == [] == run_all.prerequisites(other, lessons)
    assert run_fakes(monkeypatch, lessons, "--jobs", "2", "--out-dir", str(tmp_path / "out")) == 0
    span = {name: [float(x) for x in (times / name).read_text().split()] for name in
            ("01_make", "02_use", "03_free", "01_other")}
    assert span["02_use"][0] >= span["01_make"][1]  # started after 01 ended
    assert span["03_free"][0] < span["01_make"][1]  # ran beside 01
    table = table_of(capsys.readouterr().out)  # in course order, whatever order they ended in
    assert table.index("lesson_a/01_make") < table.index("lesson_a/02_use") < table.index("lesson_a/03_free") \
        < table.index("lesson_b/01_other")


def test_choosing_lessons_by_folder_or_name(tmp_path, capsys):
    lessons = [fake_lesson(tmp_path / folder, name, "")
               for folder, name in (("lesson_a", "01_x.py"), ("lesson_a", "02_y.py"), ("lesson_b", "01_z.py"))]
    select = run_all.select_lessons
    assert select(lessons, []) == lessons
    assert select(lessons, ["lesson_b", "lesson_a/02_y"]) == [lessons[1], lessons[2]]  # course order
    assert select(lessons, ["lesson_a/", "lesson_a/01_x.py"]) == lessons[:2]
    with pytest.raises(SystemExit) as stop:
        select(lessons, ["lesson_c"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_runner_refuses_a_missing_device(tmp_path, capsys):
    import torch
    if torch.cuda.device_count() > 7:
        pytest.skip("this machine really has a cuda:7")
    with pytest.raises(SystemExit) as stop:
        run_all.main(["--device", "cuda:7", "--out-dir", str(tmp_path)])
    assert stop.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_ddp_lesson_runs_under_torchrun_with_two_processes_and_holds_two_slots(tmp_path, monkeypatch, capsys):
    lesson = fake_lesson(tmp_path / "lesson_fake", "01_fake_ddp.py",
                         "rank = os.environ['RANK']\n"
                         "open(out + f'/rank{rank}.txt', 'w').write(f\"{os.environ['WORLD_SIZE']} {time.time()}\")\n"
                         "if rank == '0':\n    " + metrics_line({"headline": ["world_size"], "world_size": 2}))
    other = fake_lesson(tmp_path / "lesson_fake", "02_other.py",
                        "open(out + '/started', 'w').write(str(time.time()))\n")
    assert run_fakes(monkeypatch, [lesson, other], "--device", "cpu", "--out-dir", str(tmp_path / "out")) == 0
    out_dir = tmp_path / "out" / "lesson_fake" / "01_fake_ddp"
    assert sorted(path.name for path in out_dir.glob("rank*.txt")) == ["rank0.txt", "rank1.txt"]
    world_size, ended = (out_dir / "rank1.txt").read_text().split()
    assert world_size == "2"
    # Its two processes fill both cores: the other lesson waited for it.
    assert float((tmp_path / "out" / "lesson_fake" / "02_other" / "started").read_text()) > float(ended)
    assert re.search(r"01_fake_ddp\s+ok\s+\S+\s+world_size=2", capsys.readouterr().out)


# --- Ctrl-C, with real processes and signals -------------------------------------------------------

SLEEPER = """\
import signal, subprocess
{ignore}
pids = [os.getpid()]
for own_session in (False, True):  # a grandchild in its group, and one on its own (as torchrun's workers)
    pids.append(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],
                                 start_new_session=own_session).pid)
open({pids!r} + '/' + os.path.basename(out), 'w').write(' '.join(map(str, pids)))
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"  # a zombie has ended, it only waits to be collected
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def interrupted_course(tmp_path: Path, to_group: bool, stubborn: bool) -> tuple:
    """Start the real runner on stand-ins (one fast, two that sleep with children of their own, one
    that must never start), press Ctrl-C once both sleepers run; (CompletedProcess, pids, out_root)."""
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    lessons = [
        fake_lesson(tmp_path / "lesson_a", "01_fast.py", metrics_line({"headline": ["x"], "x": 1})),
        fake_lesson(tmp_path / "lesson_a", "02_sleep.py", SLEEPER.format(ignore="", pids=str(pid_dir))),
        # A stubborn one ignores Ctrl-C (like a process stuck in a collective): it must be killed.
        fake_lesson(tmp_path / "lesson_b", "01_sleep.py", SLEEPER.format(
            ignore="signal.signal(signal.SIGINT, signal.SIG_IGN)" if stubborn else "", pids=str(pid_dir))),
        fake_lesson(tmp_path / "lesson_c", "01_never.py", f"open({str(tmp_path)!r} + '/started', 'w')\n"),
    ]
    out_root = tmp_path / "out"
    program = (f"import sys\nsys.path.insert(0, {str(REPO_ROOT)!r})\nfrom pathlib import Path\n"
               "from course import run_all\n"
               f"run_all.discover_lessons = lambda: [Path(p) for p in {[str(p) for p in lessons]!r}]\n"
               f"sys.exit(run_all.main(['--jobs', '2', '--out-dir', {str(out_root)!r}]))\n")
    runner = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + SIGNAL_TIMEOUT_S
        while len(list(pid_dir.iterdir())) < 2 and time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.05)
        time.sleep(0.2)  # both files written completely
        pids = [int(pid) for path in pid_dir.iterdir() for pid in path.read_text().split()]
        assert len(pids) == 6, runner.poll()
        (os.killpg if to_group else os.kill)(runner.pid, signal.SIGINT)  # a terminal's Ctrl-C, or kill -INT
        stdout, stderr = runner.communicate(timeout=SIGNAL_TIMEOUT_S)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    completed = subprocess.CompletedProcess(runner.args, runner.returncode, stdout.decode(), stderr.decode())
    return completed, pids, out_root


def check_the_course_stopped(completed, pids: list, out_root: Path, tmp_path: Path) -> None:
    assert completed.returncode == 130, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    table = table_of(completed.stdout)
    assert re.search(r"lesson_a/01_fast\s+ok\s+\S+\s+x=1", table)
    assert re.search(r"lesson_a/02_sleep\s+INT", table) and re.search(r"lesson_b/01_sleep\s+INT", table)
    assert "lesson_c" not in table and "1 never started" in completed.stdout
    assert not (tmp_path / "started").exists()  # no new lesson started after Ctrl-C
    page = (out_root / "index.html").read_text()
    assert "interrupted" in page and "lesson_c/01_never" in page  # named as never started
    deadline = time.monotonic() + 5  # the killed grandchildren are collected by init, not by us
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if alive(pid)], "processes left running"


@pytest.mark.skipif(os.name != "posix", reason="signals to process groups are POSIX")
def test_ctrl_c_to_the_process_group_stops_the_whole_course(tmp_path):
    started = time.monotonic()
    completed, pids, out_root = interrupted_course(tmp_path, to_group=True, stubborn=False)
    check_the_course_stopped(completed, pids, out_root, tmp_path)
    assert time.monotonic() - started < SIGNAL_TIMEOUT_S


@pytest.mark.skipif(os.name != "posix", reason="signals to process groups are POSIX")
def test_ctrl_c_to_the_runner_alone_stops_the_whole_course(tmp_path):
    """...and a lesson that ignores Ctrl-C is killed after a few seconds, with what it started."""
    completed, pids, out_root = interrupted_course(tmp_path, to_group=False, stubborn=True)
    check_the_course_stopped(completed, pids, out_root, tmp_path)


def test_runner_reads_its_lessons_output_as_utf8_on_any_console(tmp_path, monkeypatch):
    """On a cp1252 console (the lessons would inherit it) the runner keeps a lesson's UTF-8 output
    whole in console.txt and the page, and prints it ('?' for what cp1252 cannot show) when the
    lesson fails."""
    lesson = fake_lesson(tmp_path / "lesson_fake", "01_unicode.py",
                         "print('w \\u2248 2.07 \\u2192 \\u6570\\u636e')\nsys.exit(1)\n")
    monkeypatch.setenv("PYTHONIOENCODING", "cp1252")
    console_bytes = io.BytesIO()
    for name in ("stdout", "stderr"):
        monkeypatch.setattr(sys, name, io.TextIOWrapper(console_bytes, encoding="cp1252", write_through=True))
    assert run_fakes(monkeypatch, [lesson], "--out-dir", str(tmp_path / "out")) == 1
    printed = console_bytes.getvalue().decode("cp1252")
    assert "w ? 2.07 ? ??" in printed and "Traceback" not in printed
    console = (tmp_path / "out" / "lesson_fake" / "01_unicode" / "console.txt").read_text(encoding="utf-8")
    assert "w \u2248 2.07 \u2192 \u6570\u636e" in console
    assert "\u6570" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
