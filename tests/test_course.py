"""The course runner (course/run_all.py): its order, what it writes and removes, how it stops.

One real run of the runner (lesson_models 01 and 02, --quick, on the CPU) shows that the lesson
training on the split starts only after the lesson that makes it has ended; the schedule of the
whole of lesson_models is checked with the real lesson list and stand-in timing. The rest use
stand-in lessons, which take milliseconds, and real processes and signals. Files placed beforehand
are compared by SHA-256 afterwards: the runner removes and overwrites nothing it did not write.
"""
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from conftest import LESSON_ENV, WORK_DIR  # noqa: E402
from course import run_all  # noqa: E402
from tools.errors import LessonError  # noqa: E402

RUN_ALL = REPO_ROOT / "course" / "run_all.py"
# The real run of the ordering test: the lesson that makes the split and one that trains on it.
SPLIT_SUBSET = ("lesson_models/01_split_dataset", "lesson_models/02_train_lenet")
RUN_TIMEOUT_S = 300
SIGNAL_TIMEOUT_S = 30  # a Ctrl-C test never waits longer than this for anything


def table_of(stdout: str) -> str:
    return stdout.split("headline numbers", 1)[1].split("Wall time", 1)[0]


# --- The real runner, on a subset ------------------------------------------------------------------

@pytest.fixture(scope="module")
def split_course(tmp_path_factory):
    """(CompletedProcess, out_root) of `python course/run_all.py --quick --device cpu --jobs 2
    --out-dir D <SPLIT_SUBSET>`: two slots, so 02 would start beside 01 if nothing held it back."""
    out_root = tmp_path_factory.mktemp("split_course") / "out"
    command = [sys.executable, str(RUN_ALL), "--quick", "--device", "cpu", "--jobs", "2", "--out-dir", str(out_root),
               *SPLIT_SUBSET]
    completed = subprocess.run(command, cwd=WORK_DIR, capture_output=True, env=LESSON_ENV, encoding="utf-8",
                               errors="replace", timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    return completed, out_root


def recorded(out_root: Path) -> dict:
    return json.loads((out_root / run_all.RECORD_FILE).read_text(encoding="utf-8"))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_lessons_on_the_split_start_after_the_lesson_that_makes_it(split_course):
    completed, out_root = split_course
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    times = recorded(out_root)["lessons"]
    writer, reader = times["lesson_models/01_split_dataset"], times["lesson_models/02_train_lenet"]
    assert writer["status"] == reader["status"] == "ok"
    assert writer["started"] < writer["ended"] <= reader["started"] < reader["ended"]
    # 02 found the split that 01 made (quick_data/ beside the out-dirs): it did not run 01 itself.
    console = (out_root / "lesson_models" / "02_train_lenet" / "console.txt").read_text(encoding="utf-8")
    assert "is missing: running" not in console and "does not exist: drawing" not in console, console[:2000]


def test_the_record_lists_every_file_of_the_run_with_its_checksum(split_course):
    completed, out_root = split_course
    files = recorded(out_root)["files"]
    present = {path.relative_to(out_root).as_posix(): sha256_of(path) for path in out_root.rglob("*")
               if path.is_file() and path.name != run_all.RECORD_FILE}
    assert files == present
    assert {"index.html", "lesson_models/01_split_dataset/console.txt", "lesson_models/02_train_lenet/metrics.json",
            "lesson_models/quick_data/rmb_split/split.json"} <= files.keys()


def test_runner_runs_the_chosen_lessons_in_course_order(split_course):
    completed, out_root = split_course
    lessons = run_all.select_lessons(run_all.discover_lessons(), list(SPLIT_SUBSET))
    assert [run_all.lesson_name(script) for script in lessons] == list(SPLIT_SUBSET)
    table = table_of(completed.stdout)
    positions = [table.index(run_all.lesson_name(script)) for script in lessons]
    assert positions == sorted(positions)  # the notes' order, whatever order they finished in
    for script in lessons:
        assert re.search(rf"{re.escape(run_all.lesson_name(script))}\s+ok\s+\d+\.\d", table), table
    assert re.search(r"all lessons\s+2/2", table)
    assert sorted(path.name for path in out_root.iterdir()) == ["index.html", "lesson_models", run_all.RECORD_FILE]


def test_headline_numbers_are_each_lessons_own_list(split_course):
    completed, out_root = split_course
    table = table_of(completed.stdout)
    for name in SPLIT_SUBSET:
        metrics = json.loads((out_root / name / "metrics.json").read_text())
        assert metrics["headline"], name
        row = next(line for line in table.splitlines() if name in line)
        shown = re.findall(r"(\S+)=", row.split("  ok  ", 1)[1])
        assert shown == metrics["headline"], (row, metrics["headline"])


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


def checksums(root: Path) -> dict:
    """{relative path: SHA-256} of every file under root."""
    return {path.relative_to(root).as_posix(): sha256_of(path) for path in root.rglob("*") if path.is_file()}


def test_runner_reports_a_failing_lesson_and_removes_only_what_it_wrote(tmp_path, monkeypatch, capsys):
    good = fake_lesson(tmp_path / "lesson_fake", "01_good.py",
                       metrics_line({"headline": ["answer"], "answer": 42, "other": 7}) + "print('fine')\n")
    # The first run of 02 succeeds and draws figures; the second fails before it writes anything.
    bad = fake_lesson(tmp_path / "lesson_fake", "02_bad.py",
                      "from PIL import Image\n"
                      f"if not os.path.exists({str(tmp_path / 'ran_once')!r}):\n"
                      f"    open({str(tmp_path / 'ran_once')!r}, 'w').close()\n"
                      "    " + metrics_line({"headline": ["stale_number"], "stale_number": 987654321}) +
                      "    open(out + '/figures.json', 'w').write('[{\"file\": \"old.png\", \"caption\": \"Old.\"}]')\n"
                      "    for name in ('old.png', 'old.jpg', 'old.gif'):\n"
                      "        Image.new('RGB', (4, 4)).save(out + '/' + name)\n"
                      "    sys.exit(0)\n"
                      "print('about to fail')\nraise RuntimeError('the lesson broke here')\n")
    out_root = tmp_path / "out"
    assert run_fakes(monkeypatch, [good, bad], "--out-dir", str(out_root)) == 0
    old = out_root / "lesson_fake" / "02_bad"
    assert {"old.png", "old.jpg", "old.gif", "metrics.json"} <= {path.name for path in old.iterdir()}
    # The user's files beside them, one with the name and the bytes a lesson's figure could have.
    (old / "keep").mkdir()
    Image.new("RGB", (4, 4)).save(old / "keep" / "photo.png")
    (old / "notes.txt").write_text("the user's")
    (out_root / "lesson_fake" / "holiday.jpg").write_bytes((old / "old.jpg").read_bytes())
    users = {name: sha for name, sha in checksums(out_root).items()
             if name.endswith(("photo.png", "notes.txt", "holiday.jpg"))}
    capsys.readouterr()

    status = run_fakes(monkeypatch, [good, bad], "--out-dir", str(out_root), "--allow-other-files")
    out, err = capsys.readouterr()
    assert status == 1
    assert re.search(r"lesson_fake/01_good\s+ok\s+\S+\s+answer=42\s*$", out, re.M)  # its own headline only
    assert re.search(r"lesson_fake/02_bad\s+FAIL 1\s+\S+\s*$", out, re.M)  # no numbers: it has none
    assert "the lesson broke here" in err  # the failing lesson's error is shown
    assert sorted(path.relative_to(old).as_posix() for path in old.rglob("*")) == \
        ["console.txt", "keep", "keep/photo.png", "notes.txt"]  # what the first run wrote, and only that, is gone
    assert {name: sha for name, sha in checksums(out_root).items() if name in users} == users
    page = (out_root / "index.html").read_text()
    assert "failed (exit 1)" in page and "the lesson broke here" in page
    assert "old.png" not in page and "stale_number" not in page and "987654321" not in page
    assert not set(users) & set(recorded(out_root)["files"])  # never counted as the runner's


def test_runner_refuses_an_out_dir_holding_files_it_did_not_write(tmp_path, monkeypatch):
    """Issue 20: the user's index.html and a photo in a lesson's out-dir, before
    `run_all.py --quick lesson_layers/04_linear --out-dir DIR`: one line naming the flag, nothing
    changed; with the flag the page still cannot be written over: one line naming it."""
    out_root = tmp_path / "out"
    (out_root / "lesson_layers" / "04_linear").mkdir(parents=True)
    (out_root / "index.html").write_text("<p>my own page</p>")
    Image.new("RGB", (8, 8), "red").save(out_root / "lesson_layers" / "04_linear" / "holiday.jpg")
    before = checksums(out_root)
    monkeypatch.setattr(run_all, "RunningLesson", None)  # nothing may start
    for extra, named in (((), "--allow-other-files"), (("--allow-other-files",), "index.html")):
        with pytest.raises(LessonError) as refusal:
            run_all.main(["--quick", "lesson_layers/04_linear", "--out-dir", str(out_root), *extra])
        assert refusal.value.status == 2 and "\n" not in refusal.value.line() and named in refusal.value.line()
        assert checksums(out_root) == before
    assert not (out_root / run_all.RECORD_FILE).exists()


def test_beside_the_users_files_a_run_keeps_them_and_a_second_run_needs_no_flag(tmp_path, monkeypatch, capsys):
    lesson = fake_lesson(tmp_path / "lesson_layers", "04_linear.py",
                         "from PIL import Image\nImage.new('RGB', (4, 4)).save(out + '/linear.png')\n"
                         + metrics_line({"headline": ["n"], "n": 1}))
    out_root = tmp_path / "out"
    (out_root / "lesson_layers" / "04_linear").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(out_root / "lesson_layers" / "04_linear" / "holiday.jpg")
    (out_root / "my_notes.txt").write_text("mine")
    before = checksums(out_root)
    assert run_fakes(monkeypatch, [lesson], "--out-dir", str(out_root), "--allow-other-files") == 0
    assert run_fakes(monkeypatch, [lesson], "--out-dir", str(out_root), "--allow-other-files") == 0
    after = checksums(out_root)
    assert {name: after.get(name) for name in before} == before
    assert "lesson_layers/04_linear/linear.png" in recorded(out_root)["files"]
    with pytest.raises(LessonError) as refusal:  # the user's files are still not the runner's
        run_fakes(monkeypatch, [lesson], "--out-dir", str(out_root))
    assert "2 file(s)" in refusal.value.line()
    (out_root / "my_notes.txt").unlink()
    (out_root / "lesson_layers" / "04_linear" / "holiday.jpg").unlink()
    assert run_fakes(monkeypatch, [lesson], "--out-dir", str(out_root)) == 0  # only its own files: no flag
    capsys.readouterr()


def test_a_lesson_without_headline_shows_its_first_numbers_and_accuracies_as_percentages(tmp_path, monkeypatch, capsys):
    old_shape = fake_lesson(tmp_path / "lesson_fake", "01_old.py", metrics_line(
        {"device": "cpu", "a": 1, "b": 2.5, "valid_acc": 0.995, "d": 4, "curve": [0.1] * 40}))
    assert run_fakes(monkeypatch, [old_shape], "--out-dir", str(tmp_path / "out")) == 0
    assert re.search(r"lesson_fake/01_old\s+ok\s+\S+\s+a=1  b=2.5  valid_acc=99.5 %$", capsys.readouterr().out, re.M)
    page = (tmp_path / "out" / "index.html").read_text()
    assert re.search(r"valid_acc\W+99\.5 %", page) and "0.995" not in page


def test_quick_runs_go_apart_and_never_touch_the_full_course(tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs"
    monkeypatch.setattr(run_all, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(run_all, "QUICK_OUTPUTS_DIR", outputs / "quick")
    lesson = fake_lesson(tmp_path / "lesson_fake", "01_draw.py",
                         "from PIL import Image\nImage.new('RGB', (30, 20)).save(out + '/fig.png')\n"
                         "quick = '--quick' in sys.argv\n"
                         + metrics_line({"headline": ["n"], "n": 300})
                         + "if quick:\n    " + metrics_line({"headline": ["n"], "n": 3}))
    alone = outputs / "quick" / "lesson_x" / "01_y" / "metrics.json"  # what a quick lesson run on its own left
    alone.parent.mkdir(parents=True)
    alone.write_text('{"n": 1}')
    assert run_fakes(monkeypatch, [lesson]) == 0  # outputs/quick is not the full course's: no refusal
    full = {path: path.read_bytes() for path in outputs.rglob("*") if path.is_file() and path != alone}
    assert outputs / "index.html" in full and outputs / "lesson_fake" / "01_draw" / "fig.png" in full
    assert "quick run" not in (outputs / "index.html").read_text()
    assert run_fakes(monkeypatch, [lesson], "--quick", "--allow-other-files") == 0
    capsys.readouterr()
    assert {path: path.read_bytes() for path in full} == full  # byte-identical
    assert alone.read_text() == '{"n": 1}'
    assert not [path for path in outputs.rglob("*") if path.is_file() and path not in full
                and outputs / "quick" not in path.parents]
    quick_page = (outputs / "quick" / "index.html").read_text()
    assert "quick run" in quick_page and re.search(r"\bn\W+3\b", quick_page)
    assert json.loads((outputs / "quick" / "lesson_fake" / "01_draw" / "metrics.json").read_text())["n"] == 3


def test_the_split_table_names_real_lessons_and_every_lesson_that_trains_on_the_split():
    names = {run_all.lesson_name(script): script for script in run_all.discover_lessons()}
    assert run_all.SPLIT_WRITER in names and set(run_all.SPLIT_READERS) <= set(names)
    # A guard for new lessons: one that takes the split's flags must be in the table.
    takes_the_split = {name for name, script in names.items()
                       if re.search(r"add_split_flags\(|[\"']--data-dir[\"']", script.read_text(encoding="utf-8"))}
    assert takes_the_split == set(run_all.SPLIT_READERS)


def test_the_schedule_of_lesson_models(tmp_path, monkeypatch, capsys):
    """The real lesson list and table, stand-in processes (01 takes 2 s, the others 0.3 s), two
    slots: 02-04 start only after 01 has ended, while 05-07 start beside it (how many of them
    before 01 ends depends on how fast processes start); the times are the record's."""
    def stand_in(script, out_dir, flags, processes):
        return [sys.executable, "-c", f"import time; time.sleep({2 if script.stem.startswith('01') else 0.3})"]

    monkeypatch.setattr(run_all, "lesson_command", stand_in)
    monkeypatch.setattr(run_all, "ddp_processes", lambda device: 2)  # as on the CPU, without importing torch
    assert run_all.main(["lesson_models", "--jobs", "2", "--out-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    times = recorded(tmp_path)["lessons"]
    assert sorted(times) == [run_all.lesson_name(script) for script in run_all.discover_lessons()
                             if script.parent.name == "lesson_models"]
    writer = times[run_all.SPLIT_WRITER]
    for reader in run_all.SPLIT_READERS:
        assert times[reader]["started"] >= writer["ended"], reader
    beside = sorted(name for name in times if name not in run_all.SPLIT_READERS and name != run_all.SPLIT_WRITER)
    assert beside and times[beside[0]]["started"] < writer["ended"]  # the free slot was not left idle


def test_without_the_split_lesson_the_first_reader_makes_the_split_for_the_others(tmp_path):
    lessons = run_all.select_lessons(run_all.discover_lessons(), list(run_all.SPLIT_READERS) + ["lesson_models/05_module_inside"])
    first, *others = [script for script in lessons if run_all.lesson_name(script) in run_all.SPLIT_READERS]
    assert run_all.prerequisites(first, lessons) == []
    assert all(run_all.prerequisites(script, lessons) == [first] for script in others)
    assert run_all.prerequisites(lessons[-1], lessons) == []


def test_choosing_lessons_by_folder_or_name(tmp_path, capsys):
    lessons = [fake_lesson(tmp_path / folder, name, "")
               for folder, name in (("lesson_a", "01_x.py"), ("lesson_a", "02_y.py"), ("lesson_b", "01_z.py"))]
    select = run_all.select_lessons
    assert select(lessons, []) == lessons
    assert select(lessons, ["lesson_b", "lesson_a/02_y"]) == [lessons[1], lessons[2]]  # course order
    assert select(lessons, ["lesson_a/", "lesson_a/01_x.py"]) == lessons[:2]
    with pytest.raises(LessonError) as stop:
        select(lessons, ["lesson_c"])
    assert stop.value.status == 2 and "lesson_c" in stop.value.line() and "\n" not in stop.value.line()


def test_runner_refuses_a_missing_device(tmp_path, capsys):
    import torch
    if torch.cuda.device_count() > 7:
        pytest.skip("this machine really has a cuda:7")
    with pytest.raises(LessonError) as stop:
        run_all.main(["--device", "cuda:7", "--out-dir", str(tmp_path)])
    assert stop.value.status == 2 and "cuda:7" in stop.value.line() and "\n" not in stop.value.line()


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


def interrupted_course(tmp_path: Path, sig: int, to_group: bool, stubborn: bool) -> tuple:
    """Start the real runner on stand-ins (one fast, two that sleep with children of their own, one
    that must never start), send `sig` once both sleepers run, to the runner's process group (as a
    terminal does) or to the runner alone; (CompletedProcess, pids, out_root, time of the signal)."""
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
        signalled = time.monotonic()
        (os.killpg if to_group else os.kill)(runner.pid, sig)  # a terminal's Ctrl-C or hangup, or kill -SIG
        stdout, stderr = runner.communicate(timeout=SIGNAL_TIMEOUT_S)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    completed = subprocess.CompletedProcess(runner.args, runner.returncode, stdout.decode(), stderr.decode())
    return completed, pids, out_root, signalled


def check_nothing_left_running(pids: list, signalled: float) -> None:
    """Every lesson and what it started has ended within 5 s of the signal."""
    while any(map(alive, pids)) and time.monotonic() < signalled + 5:
        time.sleep(0.05)
    assert not [pid for pid in pids if alive(pid)], "processes left running 5 s after the signal"


def check_the_course_stopped(completed, pids: list, out_root: Path, tmp_path: Path, signalled: float,
                             printed: bool = True) -> None:
    assert completed.returncode == 130, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    check_nothing_left_running(pids, signalled)
    if printed:
        table = table_of(completed.stdout)
        assert re.search(r"lesson_a/01_fast\s+ok\s+\S+\s+x=1", table)
        assert re.search(r"lesson_a/02_sleep\s+INT", table) and re.search(r"lesson_b/01_sleep\s+INT", table)
        assert "lesson_c" not in table and "1 never started" in completed.stdout
    assert not (tmp_path / "started").exists()  # no new lesson started after the signal
    page = (out_root / "index.html").read_text()
    assert "interrupted" in page and "lesson_c/01_never" in page  # named as never started
    times = recorded(out_root)["lessons"]
    assert times["lesson_a/02_sleep"]["status"] == times["lesson_b/01_sleep"]["status"] == "INT"


@pytest.mark.skipif(os.name != "posix", reason="signals to process groups are POSIX")
def test_ctrl_c_to_the_process_group_stops_the_whole_course(tmp_path):
    completed, pids, out_root, signalled = interrupted_course(tmp_path, signal.SIGINT, to_group=True, stubborn=False)
    check_the_course_stopped(completed, pids, out_root, tmp_path, signalled)


@pytest.mark.skipif(os.name != "posix", reason="signals to process groups are POSIX")
def test_sigterm_to_the_runner_alone_stops_the_whole_course(tmp_path):
    """...and a lesson that ignores Ctrl-C is killed after a few seconds, with what it started."""
    completed, pids, out_root, signalled = interrupted_course(tmp_path, signal.SIGTERM, to_group=False, stubborn=True)
    check_the_course_stopped(completed, pids, out_root, tmp_path, signalled)


@pytest.mark.skipif(os.name != "posix", reason="signals to process groups are POSIX")
def test_closing_the_terminal_stops_the_whole_course(tmp_path):
    """SIGHUP to the runner's group: it stops every lesson, writes the page, and prints nothing
    more (the terminal is gone)."""
    completed, pids, out_root, signalled = interrupted_course(tmp_path, signal.SIGHUP, to_group=True, stubborn=False)
    check_the_course_stopped(completed, pids, out_root, tmp_path, signalled, printed=False)
    assert "lesson_a/02_sleep" not in completed.stdout


@pytest.mark.skipif(os.name != "posix", reason="a watchdog on POSIX only")
def test_killing_the_runner_leaves_no_lesson_running(tmp_path):
    """SIGKILL of the runner alone: its watchdog kills the lessons and their children, those in
    a session of their own (as torchrun's workers) too, within 5 s."""
    completed, pids, out_root, signalled = interrupted_course(tmp_path, signal.SIGKILL, to_group=False, stubborn=True)
    assert completed.returncode == -signal.SIGKILL
    check_nothing_left_running(pids, signalled)
    assert not (tmp_path / "started").exists()


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


@pytest.mark.skipif(os.name != "posix", reason="a file size limit (RLIMIT_FSIZE) stands in for a full disk")
def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_half_file(tmp_path):
    """Writes past 4 kB fail as on a full disk (EFBIG instead of ENOSPC, the same OSError path):
    the table still prints, then one line names console.txt, exit 2, no traceback, no half file."""
    import resource

    lesson = fake_lesson(tmp_path / "lesson_fake", "01_loud.py",
                         metrics_line({"headline": ["x"], "x": 1}) + "print('many words ' * 500)\n")
    out_root = tmp_path / "out"
    program = (f"import sys\nsys.path.insert(0, {str(REPO_ROOT)!r})\nfrom pathlib import Path\n"
               "from course import run_all\nfrom tools.errors import install_error_hook\ninstall_error_hook()\n"
               f"run_all.discover_lessons = lambda: [Path({str(lesson)!r})]\n"
               f"sys.exit(run_all.main(['--out-dir', {str(out_root)!r}]))\n")

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))

    completed = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True,
                               timeout=RUN_TIMEOUT_S, preexec_fn=small_disk, stdin=subprocess.DEVNULL)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    lines = completed.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in completed.stdout + completed.stderr, completed.stderr
    assert str(out_root / "lesson_fake" / "01_loud" / "console.txt") in lines[0] and "--out-dir" in lines[0]
    assert re.search(r"lesson_fake/01_loud\s+ok\s+\S+\s+x=1", table_of(completed.stdout))
    out_dir = out_root / "lesson_fake" / "01_loud"
    assert sorted(path.name for path in out_dir.iterdir()) == ["metrics.json"]  # no half console.txt
    page = out_root / "index.html"
    assert not page.exists() or page.read_text(encoding="utf-8").rstrip().endswith("</html>")  # whole or none


def test_the_benchmarks_refusals_are_one_line(tmp_path):
    from course import benchmark_rmb_pipeline as benchmark

    (tmp_path / "a_file").write_text("not a folder")
    for argv, named in ((["--data-dir", str(tmp_path / "missing")], "no such folder"),
                        (["--data-dir", str(tmp_path / "a_file")], "not a folder"),
                        (["--data-dir", str(tmp_path)], str(tmp_path / "train")),  # a folder, but no split
                        (["--epochs", "0"], "--epochs"), (["--bogus"], "--bogus")):
        with pytest.raises(LessonError) as refusal:
            benchmark.main(argv)
        line = refusal.value.line()
        assert refusal.value.status == 2 and named in line and "\n" not in line, (argv, line)


def test_a_page_that_cannot_be_written_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    import errno

    def full_disk(root, *args, **kwargs):
        (Path(root) / "index.html").write_text("<!DOCTYPE html><html><body><h1>half a pa")  # what a full disk leaves
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(root) / "index.html"))

    lesson = fake_lesson(tmp_path / "lesson_fake", "01_ok.py", metrics_line({"headline": ["x"], "x": 1}))
    monkeypatch.setattr(run_all, "write_gallery", full_disk)
    with pytest.raises(LessonError) as refusal:
        run_fakes(monkeypatch, [lesson], "--out-dir", str(tmp_path / "out"))
    line = refusal.value.line()
    assert refusal.value.status == 2 and "\n" not in line
    assert str(tmp_path / "out" / "index.html") in line and "No space left on device" in line and "--out-dir" in line
    assert re.search(r"lesson_fake/01_ok\s+ok\s+\S+\s+x=1", capsys.readouterr().out)  # the table came first
    assert not (tmp_path / "out" / "index.html").exists()  # no half page
    assert "index.html" not in recorded(tmp_path / "out")["files"]
