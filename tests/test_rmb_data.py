"""tools/rmb.py and tools/rmb_synthetic.py: the Dataset's edge cases, the decode-once cache, the split,
and the synthetic photos."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

import tools.rmb as rmb
from tools.rmb import (CachedRMBDataset, RMBDataset, folder_checksum, split_fingerprint, split_rmb)
from tools.rmb_synthetic import MARKER_FILE, synthetic_banknote, write_synthetic_rmb

SMALL = (64, 32)
TRAIN_TRANSFORM = transforms.Compose([transforms.Resize((32, 32)), transforms.RandomCrop(32, padding=4),
                                      transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.25] * 3)])


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
    """100 small synthetic photos per class: the course's counts, drawn in a fraction of a second."""
    root = tmp_path_factory.mktemp("rmb") / "RMB_data"
    write_synthetic_rmb(root, per_class=100, size=SMALL)
    return root


def expect_exit(capsys, function, *fragments):
    with pytest.raises(SystemExit) as stop:
        function()
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error, error
    for fragment in fragments:
        assert str(fragment) in error, error


def make_folder(root, files: dict):
    for name in ("1", "100"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for relative, maker in files.items():
        maker(root / relative)
    return root


def test_dataset_labels_order_and_skipped_files(tmp_path):
    colour = lambda path: Image.new("RGB", (40, 20), (200, 30, 30)).save(path)
    root = make_folder(tmp_path, {
        "1/b.jpg": colour, "1/a.png": colour, "1/Thumbs.db": lambda p: p.write_bytes(b"\0" * 10),
        "1/._a.jpg": lambda p: p.write_bytes(b"\0\5\26\7"),  # a macOS resource fork, not a photo
        "100/.DS_Store": lambda p: p.write_bytes(b"Bud1"), "100/z.JPG": colour, "100/notes.txt": lambda p: p.write_text("x"),
    })
    dataset = RMBDataset(root)
    assert [(path.name, label) for path, label in dataset.samples] == [("a.png", 0), ("b.jpg", 0), ("z.JPG", 1)]
    image, label = dataset[2]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and label == 1


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "1", "CMYK"])
def test_any_image_mode_becomes_rgb(tmp_path, mode):
    suffix = ".jpg" if mode in ("L", "CMYK") else ".png"
    image = Image.new("RGB", (40, 20), (10, 200, 30)).convert(mode)
    root = make_folder(tmp_path, {f"1/x{suffix}": image.save, f"100/y{suffix}": image.save})
    tensor, _ = RMBDataset(root, transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()]))[0]
    assert tensor.shape == (3, 32, 32)


def test_missing_and_empty_folders_are_clear_errors(tmp_path, capsys):
    expect_exit(capsys, lambda: RMBDataset(tmp_path / "nowhere"), tmp_path / "nowhere", "no such folder")
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "Thumbs.db").write_bytes(b"\0")
    expect_exit(capsys, lambda: RMBDataset(tmp_path), tmp_path / "1", "no images")
    Image.new("RGB", (8, 8)).save(tmp_path / "1" / "a.jpg")
    expect_exit(capsys, lambda: RMBDataset(tmp_path), tmp_path / "100", "no such folder")
    (tmp_path / "100").mkdir()
    expect_exit(capsys, lambda: RMBDataset(tmp_path), tmp_path / "100", "no images")


def test_truncated_jpeg_is_a_clear_error(tmp_path, capsys, raw_dir):
    root = make_folder(tmp_path, {})
    good = (raw_dir / "1" / "0000.jpg").read_bytes()
    (root / "1" / "good.jpg").write_bytes(good)
    (root / "100" / "cut.jpg").write_bytes(good[: len(good) // 2])
    dataset = RMBDataset(root)
    dataset[0]
    expect_exit(capsys, lambda: dataset[1], root / "100" / "cut.jpg", "cannot be decoded")


def test_cache_gives_the_same_tensors_and_decodes_once(raw_dir, monkeypatch):
    plain, cached = RMBDataset(raw_dir, TRAIN_TRANSFORM), CachedRMBDataset(raw_dir, TRAIN_TRANSFORM)
    opened = []
    real_open = rmb.open_rgb
    monkeypatch.setattr(rmb, "open_rgb", lambda path, what: opened.append(path) or real_open(path, what))
    indices = [0, 5, 150, 199]
    for epoch in range(3):
        torch.manual_seed(epoch)
        expected = [plain[i][0] for i in indices]
        torch.manual_seed(epoch)
        got = [cached[i][0] for i in indices]
        for a, b in zip(expected, got):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(opened) == 3 * len(indices) + len(indices)  # plain: every time; cached: once each
    assert cached.decoded_count == len(indices)
    torch.manual_seed(0)
    first = cached[0][0]
    assert any(not torch.equal(first, cached[0][0]) for _ in range(5))  # the crop is still random
    with pytest.raises(ValueError):
        CachedRMBDataset(raw_dir, transforms.ToTensor())  # nothing to cache: refused


def test_split_is_80_10_10_reproducible_and_leaves_the_source(raw_dir, tmp_path, capsys):
    before = folder_checksum(raw_dir)
    first = split_rmb(raw_dir, tmp_path / "a", seed=1)
    assert first["counts"] == {part: {"1": n, "100": n} for part, n in (("train", 80), ("valid", 10), ("test", 10))}
    assert first["copied"] and first["data_source"] == "synthetic"
    assert split_rmb(raw_dir, tmp_path / "b", seed=1)["copied"]
    assert split_fingerprint(tmp_path / "a") == split_fingerprint(tmp_path / "b")
    again = split_rmb(raw_dir, tmp_path / "a", seed=1)  # re-running: the same split, nothing copied
    assert not again["copied"] and again["counts"] == first["counts"]
    split_rmb(raw_dir, tmp_path / "c", seed=2)
    assert split_fingerprint(tmp_path / "c") != split_fingerprint(tmp_path / "a")
    expect_exit(capsys, lambda: split_rmb(raw_dir, tmp_path / "a", seed=2), tmp_path / "a", "different split")
    assert folder_checksum(raw_dir) == before
    for name in ("1", "100"):  # the parts are disjoint and together hold every photo
        parts = [{p.name for p in (tmp_path / "a" / part / name).iterdir()} for part in ("train", "valid", "test")]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == {p.name for p in (raw_dir / name).glob("*.jpg")}
    assert not list(tmp_path.glob("*.partial-*"))


def test_split_needs_enough_photos(tmp_path, capsys):
    write_synthetic_rmb(tmp_path / "raw", per_class=5, size=SMALL)
    expect_exit(capsys, lambda: split_rmb(tmp_path / "raw", tmp_path / "split"), tmp_path / "raw" / "1", "at least 10")
    expect_exit(capsys, lambda: split_rmb(tmp_path / "none", tmp_path / "split"), tmp_path / "none")


def test_synthetic_photos_are_seeded_and_photo_like(raw_dir):
    a, b = synthetic_banknote("100", 7), synthetic_banknote("100", 7)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != synthetic_banknote("100", 8).tobytes()
    assert a.tobytes() != synthetic_banknote("100", 7, seed=3).tobytes()
    assert 1050 <= a.width <= 1350 and 520 <= a.height <= 680 and a.mode == "RGB"
    assert (raw_dir / MARKER_FILE).is_file() and rmb.data_source(raw_dir) == "synthetic"
    with pytest.raises(FileExistsError):
        write_synthetic_rmb(raw_dir, per_class=1)  # never writes into a folder that holds something


def test_classes_are_not_told_apart_by_mean_colour(raw_dir):
    """The whole photo's mean colour must not decide the class: a nearest-class-mean rule on it is
    far from perfect (the note's own colour, found among distractors, is what LeNet has to learn)."""
    def mean_colour(path):
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(0)
    features = {name: np.array([mean_colour(p) for p in sorted((raw_dir / name).glob("*.jpg"))])
                for name in ("1", "100")}
    centres = {name: f.mean(0) for name, f in features.items()}
    correct = sum((np.linalg.norm(f - centres[name], axis=1) < np.linalg.norm(f - centres[other], axis=1)).sum()
                  for name, other, f in (("1", "100", features["1"]), ("100", "1", features["100"])))
    assert 0.6 < correct / 200 < 0.92
