"""tools/doctor.py and tools/versions.py: a good install passes, a broken one is named, any console works.

The broken installs are simulated inside this process (a NumPy bridge that fails, metadata that
reports a torch built for NumPy 1 beside NumPy 2, a torch below the range); the consoles are real
streams of each encoding, and one real process on an ASCII console.
"""
import importlib.util
import io
import subprocess
import sys

import pytest
import torch

import tools.doctor as doctor
import tools.versions as versions
from conftest import LESSON_ENV, REPO_ROOT, WORK_DIR, lesson_script, run_lesson
from tools.errors import LessonError

DOCTOR = REPO_ROOT / "tools" / "doctor.py"
# The order: versions, the bridge, devices, cuDNN/distributed, threads, data, console, --show, notebooks.
ORDER = ["Python", "torch ", "torchvision", "numpy", "matplotlib", "Pillow", "import torch", "NumPy bridge", "cpu:",
         "torch.distributed", "CPU:", "banknote photos", "split", "console encoding", "--show", "notebooks"]


def doctor_output(encoding="utf-8") -> "tuple[int, str]":
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding=encoding)  # strict, as a real console of that encoding
    status = doctor.main(stream)
    stream.flush()
    return status, buffer.getvalue().decode(encoding)


def with_versions(monkeypatch, **wanted):
    """Make the metadata report other versions (torch="2.0.1", numpy="2.1.0") for tools.versions and the doctor."""
    real = versions.installed_version
    fake = lambda name: wanted.get(name, real(name))  # noqa: E731
    monkeypatch.setattr(versions, "installed_version", fake)
    monkeypatch.setattr(doctor, "installed_version", fake)


def test_a_good_install_passes_every_check_in_order():
    status, text = doctor_output()
    assert status == 0, text
    positions = [text.find(f"] {name}") for name in ORDER]
    assert -1 not in positions and positions == sorted(positions), list(zip(ORDER, positions))
    assert "[problem" not in text and "Everything the course needs works." in text
    assert "课程所需的一切都正常" in text  # UTF-8: the Chinese lines too


def test_a_broken_numpy_bridge_is_named_and_exits_1(monkeypatch):
    def no_numpy(self):
        raise RuntimeError("Numpy is not available")
    monkeypatch.setattr(torch.Tensor, "numpy", no_numpy)
    status, text = doctor_output()
    assert status == 1
    assert "[problem] NumPy bridge: torch.zeros(2).numpy() fails" in text and "Numpy is not available" in text
    assert 'pip install "numpy<2"' in text


def test_a_torch_built_for_numpy_1_beside_numpy_2_is_named(monkeypatch):
    with_versions(monkeypatch, torch="2.0.1", numpy="2.1.0")
    status, text = doctor_output()
    assert status == 1
    assert "torch 2.0.1 was built for NumPy 1 and cannot use NumPy 2.1.0" in text


@pytest.mark.parametrize("encoding", ["cp1252", "gbk", "ascii"])
def test_any_console_encoding_works(encoding):
    status, text = doctor_output(encoding)
    assert status == 0 and "Everything the course needs works." in text
    assert ("课程" in text) == (encoding == "gbk")  # Chinese only where the console can show it


def test_an_ascii_console_never_crashes_a_real_process():
    completed = subprocess.run([sys.executable, str(DOCTOR)], cwd=WORK_DIR, capture_output=True, timeout=120,
                               env=dict(LESSON_ENV, PYTHONIOENCODING="ascii", PYTHONPATH=""))
    assert completed.returncode == 0, completed.stderr.decode("ascii", "replace")
    completed.stdout.decode("ascii")  # nothing but ASCII reached the console
    assert b"Traceback" not in completed.stderr
    assert completed.stderr.decode("ascii").strip() == "Everything the course needs works."


# --- tools/versions.py: what every lesson checks in start_lesson ---------------------------------

def test_requirements_name_a_lower_bound_for_every_course_package():
    bounds = versions.minimum_versions()
    assert set(bounds) == set(versions.COURSE_PACKAGES)
    assert versions.version_tuple(bounds["torch"]) >= (2, 0) and versions.version_tuple("2.0.1+cu117") == (2, 0, 1)
    # NumPy 2 is admitted only where no torch before 2.3 exists (Python 3.13 and newer).
    assert 'numpy>=1.24,<2; python_version < "3.13"' in (REPO_ROOT / "requirements.txt").read_text()


@pytest.mark.parametrize("wanted, named", [
    ({"torch": "2.0.1", "numpy": "2.1.0"}, ["torch 2.0.1", "NumPy 2.1.0", 'pip install "numpy<2"']),
    ({"torch": "1.13.1"}, ["torch 1.13.1", "2.0.1 or newer", "pip install --upgrade"]),
    ({"numpy": "1.21.6"}, ["numpy 1.21.6", "1.24 or newer"]),
])
def test_a_known_bad_install_is_one_line_exit_2(monkeypatch, wanted, named):
    with_versions(monkeypatch, **wanted)
    with pytest.raises(LessonError) as stop:
        versions.check_versions()
    assert stop.value.status == 2 and "\n" not in stop.value.line()
    assert all(part in stop.value.line() for part in named), stop.value.line()
    assert "python tools/doctor.py" in stop.value.line()


def test_a_package_without_metadata_but_importable_is_not_a_problem(monkeypatch):
    """A torch built from source may have no metadata: only a module that is missing is reported."""
    with_versions(monkeypatch, torchvision=None)
    versions.check_versions()  # torchvision imports: no complaint
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "torchvision" else real_find_spec(name, *rest))
    assert versions.version_problems() == ["torchvision is not installed: pip install -r requirements.txt"]


def test_a_lesson_stops_before_any_work_on_a_bad_pair(monkeypatch, tmp_path):
    with_versions(monkeypatch, torch="2.0.1", numpy="2.1.0")
    run = run_lesson(lesson_script("lesson_models", "05_module_inside"), in_process=True, out_dir=tmp_path / "out")
    assert run.returncode == 2 and run.stdout == "", run.explain()
    assert run.stderr.count("\n") == 1 and "NumPy 2.1.0" in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()  # stopped before the out-dir was made


def test_a_lesson_stops_in_one_line_when_the_bridge_fails(monkeypatch):
    def no_numpy(self):
        raise RuntimeError("Numpy is not available")
    monkeypatch.setattr(torch.Tensor, "numpy", no_numpy)
    with pytest.raises(LessonError) as stop:
        versions.check_numpy_bridge()
    assert stop.value.status == 2 and "Numpy is not available" in stop.value.line()
