"""course/clean.py removes what runs made and never a photo or folder of the user's."""
from course import clean


def test_clean_removes_generated_things_and_keeps_the_users(tmp_path, monkeypatch, capsys):
    outputs, data = tmp_path / "outputs", tmp_path / "data"
    (outputs / "lesson_x" / "01_y").mkdir(parents=True)
    (outputs / "lesson_x" / "01_y" / "metrics.json").write_text("{}")
    raw = data / "RMB_data"
    for name in ("1", "100"):
        (raw / name).mkdir(parents=True)
        (raw / name / "0000.jpg").write_bytes(b"drawn")
    (raw / "1" / "my_photo.jpg").write_bytes(b"the user's")
    (raw / clean.MARKER_FILE).write_text("# drawn by tools/rmb_synthetic.py\n1/0000.jpg\n100/0000.jpg\n")
    (data / "rmb_split" / "train").mkdir(parents=True)
    (data / "rmb_split" / clean.SPLIT_MANIFEST).write_text("{}")
    (data / "my_split" / "train").mkdir(parents=True)  # no manifest: the user's own
    (data / "RMB_data.partial-99999").mkdir()
    monkeypatch.setattr(clean, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(clean, "DATA_DIR", data)

    assert clean.main(["--dry-run"]) == 0
    assert outputs.is_dir() and (raw / "1" / "0000.jpg").is_file()  # a dry run removes nothing
    assert clean.main([]) == 0
    assert not outputs.exists() and not (data / "rmb_split").exists() and not (data / "RMB_data.partial-99999").exists()
    assert sorted(path.relative_to(data).as_posix() for path in data.rglob("*")) == \
        ["RMB_data", "RMB_data/1", "RMB_data/1/my_photo.jpg", "my_split", "my_split/train"]
    assert "kept" in capsys.readouterr().out


def test_clean_knows_the_old_marker_without_a_list(tmp_path, monkeypatch):
    raw = tmp_path / "data" / "RMB_data"
    (raw / "1").mkdir(parents=True)
    (raw / "1" / "0000.jpg").write_bytes(b"drawn")
    (raw / "1" / "mine.jpg").write_bytes(b"the user's")
    (raw / clean.MARKER_FILE).write_text("Synthetic banknote photos drawn by tools/rmb_synthetic.py.\n")
    monkeypatch.setattr(clean, "OUTPUTS_DIR", tmp_path / "outputs")
    monkeypatch.setattr(clean, "DATA_DIR", tmp_path / "data")
    clean.main([])
    assert sorted(path.name for path in raw.rglob("*")) == ["1", "mine.jpg"]
