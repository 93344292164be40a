"""course/clean.py removes what runs wrote, while its bytes are what they wrote, and nothing else.

Each case of issue 20 places the generator's and a lesson's real files (tools/rmb_synthetic.py's
photos and marker, tools/rmb_prepare.copy_split's split.json, course/run_all.py's record) beside
the user's files, notes the SHA-256 of every user file, runs clean, and checks them unchanged.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course import clean, run_all
from tools.errors import LessonError
from tools.rmb_dataset import CLASS_NAMES
from tools.rmb_prepare import SPLIT_PARTS, copy_split
from tools.rmb_synthetic import MARKER_FILE, write_synthetic_rmb

PHOTOS_PER_CLASS = 3  # one photo for each part of the split: the smallest real split
SMALL_PHOTO = (48, 24)


def checksums(root: Path) -> dict:
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in Path(root).rglob("*") if path.is_file()}


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """(outputs, data) in tmp_path, as clean sees them; data/RMB_data drawn by the generator and
    data/rmb_split copied from it, as lesson 01 does."""
    outputs, data = tmp_path / "outputs", tmp_path / "data"
    raw, split = data / "RMB_data", data / "rmb_split"
    write_synthetic_rmb(raw, per_class=PHOTOS_PER_CLASS, size=SMALL_PHOTO)
    plan = {part: {name: [sorted((raw / name).glob("*.jpg"))[index]] for name in CLASS_NAMES}
            for index, part in enumerate(SPLIT_PARTS)}
    assert copy_split(plan, split, raw, seed=1)
    monkeypatch.setattr(clean, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(clean, "DATA_DIR", data)
    return outputs, data


def write_run(out_root: Path, files: dict) -> None:
    """What a course run leaves: `files` ({relative path: bytes}) and the runner's record of them."""
    record = run_all.OutDirRecord(out_root)
    for relative, content in files.items():
        (out_root / relative).parent.mkdir(parents=True, exist_ok=True)
        (out_root / relative).write_bytes(content)
    record.update()
    record.save()


def test_clean_removes_what_runs_wrote_and_keeps_the_users(folders, capsys):
    outputs, data = folders
    write_run(outputs, {"index.html": b"<p>page</p>", "lesson_x/01_y/metrics.json": b"{}",
                        "lesson_x/01_y/figure.png": b"png"})
    write_run(outputs / "quick", {"lesson_x/01_y/metrics.json": b"{\"quick\": 1}"})
    mine = {outputs / "my_notes.txt": b"mine", outputs / "lesson_x" / "01_y" / "holiday.jpg": b"photo",
            data / "RMB_data" / "1" / "my_photo.jpg": b"the user's",
            data / "rmb_split" / "train" / "1" / "my_extra.jpg": b"an extra photo",
            data / "rmb_split" / "my_notes.txt": b"notes", data / "my_split" / "train" / "1" / "a.jpg": b"own split"}
    for path, content in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    before = checksums(data) | checksums(outputs)

    assert clean.main(["--dry-run"]) == 0
    assert checksums(data) | checksums(outputs) == before  # a dry run removes nothing
    assert "would remove" in capsys.readouterr().out
    assert clean.main([]) == 0
    out = capsys.readouterr().out
    left = checksums(data) | checksums(outputs)
    assert left == {path: before[path] for path in mine}  # exactly the user's files, unchanged
    for path in mine:
        assert f"kept {path}:" in out or "my_split" in path.parts, out  # my_split: not clean's to look into
    assert not (data / "RMB_data" / "100").exists()  # emptied by the removal, so removed


def test_a_photo_saved_under_a_generated_name_is_kept(folders, capsys):
    """Issue 20: the user saves a photo as data/RMB_data/1/0001.jpg, a name the generator used."""
    _, data = folders
    photo = data / "RMB_data" / "1" / "0001.jpg"
    photo.write_bytes(b"the user's own photo")
    before = checksums(photo.parent)[photo]
    clean.main([])
    assert checksums(photo.parent) == {photo: before}
    assert f"kept {photo}: its content is not what tools/rmb_synthetic.py wrote" in capsys.readouterr().out


def test_an_old_marker_without_checksums_names_nothing(tmp_path, monkeypatch, capsys):
    raw = tmp_path / "data" / "RMB_data"
    (raw / "1").mkdir(parents=True)
    for name in ("0000.jpg", "0042.jpg"):  # the generator's names; 0042 is the user's photo
        (raw / "1" / name).write_bytes(name.encode())
    for text in ("Synthetic banknote photos drawn by tools/rmb_synthetic.py.\n",  # the oldest: prose
                 "# drawn by tools/rmb_synthetic.py\n1/0000.jpg\n1/0042.jpg\n"):  # paths, no checksums
        (raw / MARKER_FILE).write_text(text)
        before = checksums(raw)
        monkeypatch.setattr(clean, "OUTPUTS_DIR", tmp_path / "outputs")
        monkeypatch.setattr(clean, "DATA_DIR", tmp_path / "data")
        clean.main([])
        assert checksums(raw) == before
        assert "without checksums" in capsys.readouterr().out


@pytest.mark.parametrize("listed", ["../../precious.txt", "ABSOLUTE", "link/precious.txt"])
def test_marker_paths_that_leave_the_folder_are_never_followed(folders, tmp_path, listed, capsys):
    """Issue 20: marker lines '../../precious.txt' or an absolute path, with the right checksum."""
    _, data = folders
    raw = data / "RMB_data"
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"precious")
    (raw / "link").symlink_to(tmp_path, target_is_directory=True)
    name = str(precious) if listed == "ABSOLUTE" else listed
    sha = hashlib.sha256(b"precious").hexdigest()
    with open(raw / MARKER_FILE, "a", encoding="utf-8") as marker:
        marker.write(f"{sha}  {name}\n")
    clean.main([])
    assert precious.read_bytes() == b"precious"
    assert f"kept {name}: listed in" in capsys.readouterr().out


def test_a_folder_a_running_process_writes_is_kept_and_one_of_an_ended_run_removed(folders):
    _, data = folders
    live = data / f"RMB_data{clean.PARTIAL}{os.getpid()}"  # this test process is alive
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = data / f"rmb_split{clean.PARTIAL}{int(ended.stdout)}"
    for folder in (live, dead):
        (folder / "1").mkdir(parents=True)
        (folder / "1" / "0000.jpg").write_bytes(b"being drawn")
    before = checksums(live)
    clean.main([])
    assert checksums(live) == before
    assert not dead.exists()


def test_outputs_as_a_link_is_kept_and_data_still_cleaned(folders, tmp_path, capsys):
    outputs, data = folders
    elsewhere = tmp_path / "elsewhere"
    write_run(elsewhere, {"index.html": b"<p>page</p>"})
    outputs.symlink_to(elsewhere, target_is_directory=True)
    before = checksums(elsewhere)
    assert clean.main([]) == 0
    out = capsys.readouterr().out
    assert checksums(elsewhere) == before and outputs.is_symlink()
    assert f"kept {outputs}: a link" in out and "Traceback" not in out
    assert not (data / "RMB_data").exists() and not (data / "rmb_split").exists()  # data/ was cleaned


def test_a_run_record_names_only_files_with_its_checksums(tmp_path, monkeypatch):
    """A file the run wrote and the user then changed stays; so does a file the record lists
    outside its folder."""
    outputs = tmp_path / "outputs"
    write_run(outputs, {"lesson_x/01_y/metrics.json": b"{}", "lesson_x/01_y/figure.png": b"png"})
    (outputs / "lesson_x" / "01_y" / "figure.png").write_bytes(b"edited by the user")
    monkeypatch.setattr(clean, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(clean, "DATA_DIR", tmp_path / "data")
    clean.main([])
    assert sorted(path.name for path in outputs.rglob("*") if path.is_file()) == ["figure.png"]


def test_a_bad_flag_is_one_line():
    with pytest.raises(LessonError) as refusal:
        clean.main(["--bogus"])
    assert refusal.value.status == 2 and "--bogus" in refusal.value.line() and "\n" not in refusal.value.line()
