"""Consoles that are not UTF-8: English Windows (cp1252) and Chinese Windows (gbk).

A character the console cannot show becomes '?', never a UnicodeEncodeError: every lesson's --help
under both encodings, and whole runs of the lessons whose text the encoding can show least (cp1252
as a real process, gbk inside the test process, both on a strict console stream).
"""
import io
import runpy
import subprocess
import sys

import pytest

from conftest import LESSON_SCRIPTS, LESSON_TIMEOUT_S, lesson_id, plan_runs, run_in_process

ENCODINGS = ("cp1252", "gbk")


def unencodable(script, encoding: str) -> int:
    """How many characters of the lesson's source the encoding cannot show."""
    return sum(1 for char in script.read_text(encoding="utf-8") if not _encodes(char, encoding))


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_help_prints_on_the_console(script, encoding, monkeypatch):
    """--help run in this process with stdout encoded as on Windows (fast: torch is imported already)."""
    buffer = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buffer, encoding=encoding))
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(script), run_name="__main__")
    assert stop.value.code == 0
    sys.stdout.flush()
    text = buffer.getvalue().decode(encoding)
    assert "--device" in text and len(text.splitlines()) <= 40, f"--help has {len(text.splitlines())} lines"


# For each encoding, the lesson whose source it can show least; its UTF-8 --quick run (the smoke
# test's) is what its output is compared with, so it starts early.
CHOSEN = {encoding: max(LESSON_SCRIPTS, key=lambda script: unencodable(script, encoding)) for encoding in ENCODINGS}
plan_runs(*{(script, "--quick") for script in CHOSEN.values()})


@pytest.fixture(scope="module")
def console_runs(lesson_runner, tmp_path_factory):
    """For each encoding, a --quick run of the lesson chosen for it, on a console of that encoding:
    cp1252 as a real process, gbk inside this process (the same lesson code, without the imports)."""
    script = CHOSEN["cp1252"]
    env = dict(lesson_runner.env, PYTHONIOENCODING="cp1252")
    completed = subprocess.run(lesson_runner.command(script, ("--quick",), tmp_path_factory.mktemp("cp1252")),
                               env=env, cwd=lesson_runner.work_dir, capture_output=True,
                               timeout=LESSON_TIMEOUT_S, stdin=subprocess.DEVNULL)
    cp1252 = (completed.returncode, completed.stdout.decode("cp1252"), completed.stderr.decode("cp1252", "replace"))
    in_process = run_in_process(CHOSEN["gbk"], "--quick", out_dir=tmp_path_factory.mktemp("gbk"), console_encoding="gbk")
    return {"cp1252": cp1252, "gbk": (in_process.returncode, in_process.stdout, in_process.stderr)}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_lesson_full_of_symbols_runs_on_the_console(console_runs, encoding, lesson_runner):
    script = CHOSEN[encoding]
    returncode, stdout, stderr = console_runs[encoding]
    utf8_stdout = lesson_runner.run(script, "--quick").stdout  # the same run on a UTF-8 console
    assert returncode == 0, f"{lesson_id(script)} under {encoding}:\n{stderr[-3000:]}"
    assert "UnicodeEncodeError" not in stderr
    assert stdout.strip(), "the lesson printed nothing"
    if any(not _encodes(char, encoding) for char in utf8_stdout):
        assert "?" in stdout  # what the console cannot show was replaced, not fatal


def test_encodings_are_checked_for_real():
    """The chosen lessons hold characters these consoles cannot show (else the test proves nothing)."""
    assert all(max(unencodable(script, encoding) for script in LESSON_SCRIPTS) > 0 for encoding in ENCODINGS)
