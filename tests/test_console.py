"""Consoles that are not UTF-8: English Windows (cp1252) and Chinese Windows (gbk).

A character the console cannot show becomes '?', never a UnicodeEncodeError: every lesson's --help
under both encodings, and whole runs of the lessons whose text the encoding can show least, on a
strict console stream inside the test process (tests/test_doctor.py runs a real ASCII console).
"""
import io
import runpy
import sys

import pytest

from conftest import LESSON_SCRIPTS, lesson_id, run_lesson

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


# For each encoding, the lesson whose source it can show least.
CHOSEN = {encoding: max(LESSON_SCRIPTS, key=lambda script: unencodable(script, encoding)) for encoding in ENCODINGS}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_lesson_full_of_symbols_runs_on_the_console(encoding):
    """The chosen lesson's --quick run on a strict console of that encoding (inside this process:
    the same lesson code, without the imports), beside the same run on a UTF-8 console."""
    script = CHOSEN[encoding]
    run = run_lesson(script, "--quick", in_process=True, console_encoding=encoding)
    utf8_stdout = run_lesson(script, "--quick", in_process=True).stdout
    assert run.returncode == 0, f"{lesson_id(script)} under {encoding}:\n{run.explain()}"
    assert "UnicodeEncodeError" not in run.stderr
    assert run.stdout.strip(), "the lesson printed nothing"
    if any(not _encodes(char, encoding) for char in utf8_stdout):
        assert "?" in run.stdout  # what the console cannot show was replaced, not fatal
    assert run.stdout.count("\n") == utf8_stdout.count("\n")  # every line printed, none cut short


def test_encodings_are_checked_for_real():
    """The chosen lessons hold characters these consoles cannot show (else the test proves nothing)."""
    assert all(max(unencodable(script, encoding) for script in LESSON_SCRIPTS) > 0 for encoding in ENCODINGS)
