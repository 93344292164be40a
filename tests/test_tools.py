"""Unit tests of the shared helpers in tools/: seeding, device and threads, flags, figures, metrics, images."""
import io
import json
import os
import random
import signal
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from conftest import REPO_ROOT, run_lesson
from tools import OUTPUTS_DIR, QUICK_OUTPUTS_DIR
from tools.cli import (default_out_dir, learning_rate, lesson_parser, make_console_safe, momentum,
                       non_negative_int, positive_int, prepare_out_dir, start_lesson)
from tools.device import default_threads, resolve_device, set_cpu_threads, usable_cores
from tools.errors import LessonError
from tools.figures import PALETTE, GifRecorder, save_figure
from tools.images import open_rgb, to_rgb, transform_invert
from tools.metrics import headline_numbers, read_figures, read_metrics, record, to_json_value, write_metrics
from tools.rmb_dataset import NORM_MEAN, NORM_STD
from tools.seeding import set_seed


def refused(stop) -> str:
    """The line a refused input prints (exit status 2): one line, naming what was wrong."""
    error = stop.value
    assert isinstance(error, LessonError) and error.status == 2, error
    assert "\n" not in error.line(), error.line()
    return error.line()


# --- seeding -------------------------------------------------------------------------------------

def test_set_seed_repeats_every_generator():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3).tolist()
    set_seed(123)
    first = draw()
    set_seed(123)
    assert draw() == first
    set_seed(124)
    assert draw() != first


def test_set_seed_rejects_out_of_range():
    with pytest.raises(ValueError):
        set_seed(-1)


def test_deterministic_mode_switches_torch_and_back():
    try:
        set_seed(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


# --- device --------------------------------------------------------------------------------------

def test_auto_and_cpu_devices_exist():
    assert resolve_device("cpu") == torch.device("cpu")
    auto = resolve_device("auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert auto.type == expected


@pytest.mark.parametrize("name", ["cuda:7", "gpu", "cuda:x"])
def test_missing_or_unknown_device_is_one_line_exit_2(name):
    if name == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine really has a cuda:7")
    with pytest.raises(LessonError) as stop:
        resolve_device(name)
    assert name in refused(stop)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_cpu_machine_is_refused_not_replaced():
    with pytest.raises(LessonError) as stop:
        resolve_device("cuda")
    assert "CUDA is not available" in refused(stop)


# --- threads -------------------------------------------------------------------------------------

@pytest.fixture
def torch_threads():
    """The tests change torch's thread count: put it back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_default_threads_are_half_the_cores_at_most_four(monkeypatch):
    for cores, expected in ((1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)):
        monkeypatch.setattr("tools.device.usable_cores", lambda: cores)
        assert default_threads() == expected
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


def test_threads_asked_for_win_then_omp_num_threads_then_the_default(monkeypatch, torch_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert set_cpu_threads(2) == 2 == torch.get_num_threads()  # asked for
    torch.set_num_threads(3)
    assert set_cpu_threads(None) == 3  # OMP_NUM_THREADS set (the course runner's share): left alone
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert set_cpu_threads(None) == default_threads() == torch.get_num_threads()


def test_start_lesson_sets_the_threads(tmp_path, monkeypatch, torch_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(7)
    start_lesson(make_parser(), ["--device", "cpu", "--out-dir", str(tmp_path)])
    assert torch.get_num_threads() == default_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a learner's (or the course runner's) choice stands
    torch.set_num_threads(2)
    start_lesson(make_parser(), ["--device", "cpu", "--out-dir", str(tmp_path)])
    assert torch.get_num_threads() == 2


# --- flags ---------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def keep_process_hooks():
    """start_lesson installs an exception hook and a SIGTERM handler: give pytest its own back."""
    hook, term = sys.excepthook, signal.getsignal(signal.SIGTERM)
    yield
    sys.excepthook = hook
    signal.signal(signal.SIGTERM, term)


def make_parser(quick=None):
    parser = lesson_parser("lesson_demo/07_demo.py", "demo", default_seed=42, quick=quick)
    parser.add_argument("--epochs", type=non_negative_int, default=10)
    parser.add_argument("--lr", type=learning_rate, default=0.1)
    parser.add_argument("--momentum", type=momentum, default=0.9)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    return parser


def test_shared_flags_defaults():
    args = make_parser().parse_args([])
    assert (args.device, args.seed, args.show, args.quick, args.deterministic) == ("auto", 42, False, False, False)
    assert args.out_dir is None  # start_lesson fills it in: it depends on --quick
    assert default_out_dir("lesson_demo/07_demo.py") == OUTPUTS_DIR / "lesson_demo" / "07_demo"
    assert default_out_dir("lesson_demo/07_demo.py", quick=True) == QUICK_OUTPUTS_DIR / "lesson_demo" / "07_demo"


def test_quick_help_says_what_quick_does():
    assert "fewer layers" in make_parser(quick="fewer layers").format_help()
    assert "no smaller mode" in " ".join(make_parser().format_help().split())


def test_start_lesson_seeds_resolves_device_and_creates_out_dir(tmp_path):
    out_dir = tmp_path / "a" / "b"
    args = start_lesson(make_parser(), ["--device", "cpu", "--out-dir", str(out_dir), "--seed", "5", "--quick"])
    first = torch.rand(2)
    assert args.device == torch.device("cpu") and args.seed == 5 and args.quick
    assert out_dir.is_dir() and args.out_dir == out_dir.resolve()
    set_seed(5)
    assert torch.equal(torch.rand(2), first)  # start_lesson seeded the generators
    assert read_metrics(out_dir) == {"headline": [], "device": "cpu"}  # a fresh metrics.json


def test_record_writes_at_once_and_keeps_the_headline_order(tmp_path):
    start_lesson(make_parser(), ["--device", "cpu", "--out-dir", str(tmp_path)])
    record("accuracy", torch.tensor(0.5), headline=True)
    record("curve", [1.0, 2.0])
    record("loss", 0.25, headline=True)
    assert read_metrics(tmp_path) == {"headline": ["accuracy", "loss"], "device": "cpu", "accuracy": 0.5,
                                      "curve": [1.0, 2.0], "loss": 0.25}
    assert headline_numbers(read_metrics(tmp_path)) == {"accuracy": 0.5, "loss": 0.25}
    with pytest.raises(ValueError):
        record("headline", 1)


@pytest.mark.parametrize("argv, named", [
    (["--seed", "abc"], "--seed"),
    (["--epochs", "-1"], "--epochs"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "1e308"], "--lr"),
    (["--momentum", "-1"], "--momentum"),
    (["--momentum", "-0.5"], "--momentum"),
    (["--momentum", "1"], "--momentum"),
    (["--momentum", "2"], "--momentum"),
    (["--momentum", "1e10"], "--momentum"),
    (["--momentum", "nan"], "--momentum"),
    (["--momentum", "inf"], "--momentum"),
    (["--batch-size", str(2**70)], "--batch-size"),
    (["--seed", "-3"], "--seed"),
    (["--out-dir", ""], "--out-dir"),
    (["--no-such-flag"], "--no-such-flag"),
])
def test_bad_flags_are_one_line_exit_2(argv, named):
    with pytest.raises(LessonError) as stop:
        start_lesson(make_parser(), argv)
    assert named in refused(stop)


def test_out_dir_that_is_a_file_is_refused(tmp_path):
    a_file = tmp_path / "taken.txt"
    a_file.write_text("mine")
    with pytest.raises(LessonError) as stop:
        prepare_out_dir(a_file)
    assert "is a file" in refused(stop)
    assert a_file.read_text() == "mine"  # nothing the user owns is changed


@pytest.mark.parametrize("make_path", [
    lambda tmp: tmp / "taken.txt" / "sub",  # below a file
    lambda tmp: tmp / ("x" * 300),  # a name longer than any file system allows
    lambda tmp: Path("/proc/self/no_such_place"),  # a folder nobody may create
])
def test_out_dir_that_cannot_be_made_or_written_is_refused(tmp_path, make_path):
    (tmp_path / "taken.txt").write_text("mine")
    with pytest.raises(LessonError) as stop:
        prepare_out_dir(make_path(tmp_path))
    assert "--out-dir" in refused(stop)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_out_dir_is_refused_before_any_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(LessonError) as stop:
        prepare_out_dir(locked)
    assert "cannot be created or written" in refused(stop)


def test_notebook_kernel_takes_its_flags_from_lesson_args(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/x/ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"])
    monkeypatch.setenv("LESSON_ARGS", f"--quick --device cpu --out-dir '{tmp_path / 'a folder'}'")
    args = start_lesson(make_parser())  # would fail on "-f" if the kernel's argv were parsed
    assert args.seed == 42 and args.quick and args.out_dir == (tmp_path / "a folder").resolve()


def test_console_safe_on_cp1252_and_gbk():
    for encoding in ("cp1252", "gbk"):
        buffer = io.BytesIO()
        stream = io.TextIOWrapper(buffer, encoding=encoding)
        old = sys.stdout
        sys.stdout = stream
        try:
            make_console_safe()
            print("sigmoid′ ≤ ¼, √2, 模型获得100元 → ok")
            stream.flush()
        finally:
            sys.stdout = old
        assert buffer.getvalue().decode(encoding).endswith("ok\n")


# --- figures -------------------------------------------------------------------------------------

def test_save_figure_writes_png_lists_it_and_closes(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert save_figure(fig, tmp_path, "line", caption="A falling line") is None  # no path echoed in a notebook
    with Image.open(tmp_path / "line.png") as image:
        assert image.format == "PNG" and image.width > 100
    assert not plt.fignum_exists(fig.number)
    fig, ax = plt.subplots()
    ax.imshow(np.random.default_rng(0).random((50, 50, 3)))
    save_figure(fig, tmp_path, "photo", caption="Noise", photo=True)
    with Image.open(tmp_path / "photo.jpg") as image:
        assert image.format == "JPEG"
    assert read_figures(tmp_path) == [{"file": "line.png", "caption": "A falling line"},
                                      {"file": "photo.jpg", "caption": "Noise"}]


def test_save_figure_refuses_a_figure_too_wide_to_read(tmp_path):
    fig, _ = plt.subplots(figsize=(18, 4))
    with pytest.raises(ValueError, match="inches wide"):
        save_figure(fig, tmp_path, "wide", caption="too wide")
    plt.close(fig)


def test_shared_palette_is_colour_blind_safe():
    cycle = [entry["color"] for entry in plt.rcParams["axes.prop_cycle"]]
    assert cycle[:len(PALETTE)] == list(PALETTE)
    assert plt.rcParams["font.size"] >= 11


def test_gif_recorder_writes_every_frame_and_holds_the_last(tmp_path):
    fig, ax = plt.subplots(figsize=(2, 2))
    with GifRecorder(fig, tmp_path / "count.gif", fps=4, caption="Counting") as gif:
        for step in range(3):
            ax.clear()
            ax.bar([0], [step + 1])
            ax.set_ylim(0, 4)
            gif.frame()
    plt.close(fig)
    with Image.open(tmp_path / "count.gif") as image:
        assert image.format == "GIF" and image.n_frames == 3
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
    assert durations[:-1] == [250, 250] and durations[-1] >= 2000
    assert read_figures(tmp_path) == [{"file": "count.gif", "caption": "Counting"}]


def test_gif_recorder_without_frames_is_an_error(tmp_path):
    fig, _ = plt.subplots()
    with pytest.raises(ValueError):
        with GifRecorder(fig, tmp_path / "empty.gif", fps=2, caption="nothing"):
            pass
    plt.close(fig)


# --- metrics -------------------------------------------------------------------------------------

def test_metrics_round_trip_converts_tensors_and_numpy(tmp_path):
    metrics = {"loss": torch.tensor(0.25), "acc": np.float32(0.5), "epochs": np.int64(3),
               "shape": torch.Size([1, 3]), "curve": torch.tensor([1.0, 2.0]), "nan": float("nan"),
               "nested": {"a": (1, 2)}, "name": "cpu", "flag": True, "none": None}
    write_metrics(tmp_path, metrics)
    loaded = read_metrics(tmp_path)
    assert loaded == {"loss": 0.25, "acc": 0.5, "epochs": 3, "shape": [1, 3], "curve": [1.0, 2.0],
                      "nan": None, "nested": {"a": [1, 2]}, "name": "cpu", "flag": True, "none": None}
    json.loads((tmp_path / "metrics.json").read_text())  # valid JSON, no NaN literal


def test_metrics_refuse_objects():
    with pytest.raises(TypeError):
        to_json_value({"model": object()})


# --- images --------------------------------------------------------------------------------------

def photo_like(mode="RGB", size=(40, 30)) -> Image.Image:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(array).convert(mode)


def test_transform_invert_round_trip_rgb():
    image = photo_like()
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(NORM_MEAN, NORM_STD)])
    tensor = transform(image)
    before = tensor.clone()
    restored = transform_invert(tensor, transform)
    assert torch.equal(tensor, before), "the input tensor was modified"
    assert restored.mode == "RGB" and restored.size == image.size
    difference = np.abs(np.asarray(restored, dtype=int) - np.asarray(image, dtype=int))
    assert difference.max() <= 1


def test_transform_invert_round_trip_grayscale_and_batch_of_one():
    image = photo_like("L")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.25])])
    restored = transform_invert(transform(image).unsqueeze(0), transform)  # (1, 1, H, W)
    assert restored.mode == "L"
    assert np.abs(np.asarray(restored, dtype=int) - np.asarray(image, dtype=int)).max() <= 1


def test_transform_invert_clamps_instead_of_wrapping():
    transform = transforms.Compose([transforms.ToTensor()])
    too_bright = torch.full((3, 2, 2), 1.2)  # 306 after ×255: uint8 would wrap it round to 50
    too_dark = torch.full((3, 2, 2), -0.2)
    assert np.asarray(transform_invert(too_bright, transform)).min() == 255
    assert np.asarray(transform_invert(too_dark, transform)).max() == 0


def test_transform_invert_rejects_wrong_shapes():
    transform = transforms.Compose([transforms.ToTensor()])
    with pytest.raises(ValueError):
        transform_invert(torch.zeros(4, 5, 5), transform)
    with pytest.raises(ValueError):
        transform_invert(torch.zeros(3, 5, 5), transforms.Compose([transforms.Normalize([0], [1])]))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "CMYK", "I;16"])
def test_to_rgb_handles_every_mode(mode):
    image = photo_like("RGB")
    image = image.convert(mode) if mode != "I;16" else image.convert("L").convert("I;16")
    converted = to_rgb(image)
    assert converted.mode == "RGB" and converted.size == image.size


def test_transparent_pixels_become_white():
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert to_rgb(image).getpixel((0, 0)) == (255, 255, 255)


def test_open_rgb_reads_and_refuses(tmp_path):
    photo_like("RGBA").save(tmp_path / "ok.png")
    assert open_rgb(tmp_path / "ok.png").mode == "RGB"

    photo_like().save(tmp_path / "whole.jpg", quality=90)
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.txt").write_text("not a picture")
    for name in ["missing.jpg", "truncated.jpg", "notes.txt"]:
        with pytest.raises(LessonError) as stop:
            open_rgb(tmp_path / name, what="--image")
        assert name in refused(stop)


# --- the lesson contract as a user meets it ------------------------------------------------------

LINEAR = REPO_ROOT / "lesson_regression" / "01_linear_regression.py"


def test_lesson_refuses_an_out_dir_that_is_a_file_in_one_line(tmp_path):
    """As a user meets it, in a real process: one line on stderr, exit 2, the file untouched."""
    users_file = tmp_path / "a_file.txt"
    users_file.write_text("mine")
    run = run_lesson(LINEAR, "--out-dir", str(users_file))  # a later --out-dir wins over run_lesson's own
    assert run.returncode == 2, run.explain()
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert "--out-dir" in run.stderr and "is a file" in run.stderr
    assert users_file.read_text() == "mine"


def test_lesson_refuses_a_missing_device_in_one_line(tmp_path):
    if torch.cuda.device_count() > 7:
        pytest.skip("this machine really has a cuda:7")
    run = run_lesson(LINEAR, "--device", "cuda:7", in_process=True, out_dir=tmp_path)  # stops before any work
    assert run.returncode == 2, run.explain()
    assert run.stderr.count("\n") == 1 and "cuda:7" in run.stderr, run.stderr
