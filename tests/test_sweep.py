"""The hostile-user sweep of issue 20 that stays: signals at any moment, a bad MPLBACKEND, a full
disk, and a run of a million iterations. Each case runs in temporary folders, places files of the
user's beside the run (checked by SHA-256 afterwards: nothing of theirs changes), and asserts the
one line on stderr and the exit status.

A subprocess only where the process is what is tested (signals, the environment, peak memory); the
full disk runs the lesson inside the test process. Peak memory of the complete million-iteration
runs, which take minutes, is printed by running this file:

    OMP_NUM_THREADS=1 python tests/test_sweep.py
"""
import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import LESSON_ENV, lesson_script, run_lesson
from tools.metrics import read_figures, read_metrics

LINEAR = lesson_script("lesson_regression", "01_linear_regression")
LOGISTIC = lesson_script("lesson_regression", "02_logistic_regression")
MODULE_INSIDE = lesson_script("lesson_models", "05_module_inside")  # quick, and it draws a figure
WAIT_S = 120  # for a lesson to reach the point a case needs: generous on a loaded machine
STOP_WITHIN_S = 15  # a signalled lesson must be gone this soon
MIB = 1024 * 1024
MEMORY_LIMIT = 1024 * MIB  # the bound for a run of --iterations 1000000

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and /proc")


def place_user_files(*folders: Path) -> dict:
    """A note and a photo of the user's in each folder: {path: SHA-256}."""
    placed = {}
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in (("my_notes.txt", f"notes in {folder.name}\n".encode()),
                              ("holiday.jpg", b"\xff\xd8\xff\xe0 not really a photo " + os.urandom(64))):
            (folder / name).write_bytes(content)
            placed[folder / name] = hashlib.sha256(content).hexdigest()
    return placed


def assert_unchanged(placed: dict) -> None:
    for path, digest in placed.items():
        assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} changed"


def start(script: Path, *flags, cwd: Path, env: "dict | None" = None) -> subprocess.Popen:
    """The lesson as a user starts it, its output unbuffered so that the test can follow it."""
    return subprocess.Popen([sys.executable, str(script), "--device", "cpu", *flags], cwd=cwd,
                            env=dict(env or LESSON_ENV, PYTHONUNBUFFERED="1"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")


def finish(process: subprocess.Popen, timeout: "float | None" = STOP_WITHIN_S) -> "tuple[int, str, str, int]":
    """(exit status, stdout, stderr, peak resident bytes) of a process; a failure if it outlives timeout.

    Reaped with os.wait4, whose ru_maxrss is the child's peak memory, but on Linux counted from this
    process's own at the fork: an upper bound, close only from a small parent (the benchmark below);
    0 if something (poll) had reaped it already."""
    output = {}
    readers = [threading.Thread(target=lambda name=name: output.__setitem__(name, getattr(process, name).read()))
               for name in ("stdout", "stderr")]
    for reader in readers:
        reader.start()
    killed = []
    watchdog = threading.Timer(timeout, lambda: killed.append(process.kill())) if timeout else None
    if watchdog:
        watchdog.start()
    peak = 0
    if process.returncode is None and hasattr(os, "wait4"):
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode, peak = os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024
    process.wait()
    if watchdog:
        watchdog.cancel()
    for reader in readers:
        reader.join()
    if killed:
        pytest.fail(f"still running {timeout} s after the signal:\n{output['stderr'][-2000:]}")
    return process.returncode, output["stdout"], output["stderr"], peak


def wait_until(condition, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the lesson never reached {what} (exit status {process.poll()}): {process.stderr.read()[-2000:]}")
        time.sleep(0.002)


def loading_torch(pid: int) -> bool:
    """True once torch's C++ library is mapped: the lesson is inside `import torch`."""
    with contextlib.suppress(OSError):
        return "libtorch_cpu" in Path(f"/proc/{pid}/maps").read_text()
    return False


# --- Ctrl-C and SIGTERM --------------------------------------------------------------------------

@posix_only
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see where the imports are")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_during_the_imports_is_interrupted(tmp_path, signum):
    out_dir = tmp_path / "out"
    placed = place_user_files(tmp_path, out_dir)
    lesson = start(MODULE_INSIDE, "--out-dir", out_dir, cwd=tmp_path)
    wait_until(lambda: loading_torch(lesson.pid), "import torch", lesson)
    lesson.send_signal(signum)
    returncode, stdout, stderr, _ = finish(lesson)
    assert (returncode, stderr) == (130, f"{MODULE_INSIDE.name}: interrupted\n")
    assert stdout == "" and not (out_dir / "metrics.json").exists()  # it was indeed before start_lesson
    assert_unchanged(placed)


@posix_only
def test_signals_after_the_summary_end_cleanly(tmp_path):
    """Ctrl-C and SIGTERM, one after the other every few milliseconds from the summary line until the
    process is gone: over its last statement and the whole interpreter exit (seconds with torch)."""
    out_dir = tmp_path / "out"
    placed = place_user_files(tmp_path, out_dir)
    lesson = start(MODULE_INSIDE, "--out-dir", out_dir, cwd=tmp_path)
    summary = next((line for line in lesson.stdout if line.startswith("Summary:")), None)
    assert summary is not None, lesson.stderr.read()[-2000:]
    sent = 0
    while lesson.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            lesson.send_signal((signal.SIGINT, signal.SIGTERM)[sent % 2])
            sent += 1
        time.sleep(0.005)
    returncode, _, stderr, _ = finish(lesson)
    # The summary is the last statement: the run has finished and written everything, so it exits
    # as it would have, never by the signal (no word), with a traceback or with "interrupted".
    assert (returncode, stderr) == (0, ""), f"after {sent} signals"
    assert sent > 0
    assert read_metrics(out_dir)["lenet_parameters"] > 0
    assert [figure["file"] for figure in read_figures(out_dir)] == ["setattr_routing.png"]
    assert (out_dir / "setattr_routing.png").stat().st_size > 0
    assert_unchanged(placed)


def test_in_a_notebook_kernel_the_hook_leaves_everything_to_the_kernel(monkeypatch):
    from tools.errors import install_error_hook
    monkeypatch.setattr(sys, "argv", ["/venv/lib/ipykernel_launcher.py", "-f", "kernel-1.json"])
    monkeypatch.setenv("MPLBACKEND", "bogus")  # not checked either: the kernel sets its own backend
    hooks = lambda: (sys.excepthook, signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))  # noqa: E731
    before = hooks()
    install_error_hook()
    assert hooks() == before


# --- the environment -----------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["bogus", "module://no_such_backend"])
def test_a_bad_mplbackend_is_one_line(tmp_path, backend):
    placed = place_user_files(tmp_path)
    lesson = start(MODULE_INSIDE, "--out-dir", tmp_path / "out", cwd=tmp_path, env=dict(LESSON_ENV, MPLBACKEND=backend))
    returncode, stdout, stderr, _ = finish(lesson, timeout=WAIT_S)
    assert returncode == 2 and stdout == "", stderr
    assert re.fullmatch(rf"{MODULE_INSIDE.name}: error: MPLBACKEND='{re.escape(backend)}'[^\n]*Agg[^\n]*\n", stderr)
    assert not (tmp_path / "out").exists()  # refused before anything was done
    assert_unchanged(placed)


# --- a full disk ---------------------------------------------------------------------------------

@contextlib.contextmanager
def small_disk(folder: Path, size: int):
    """`folder` as a tmpfs of `size` bytes (as root, on Linux); else a file-size limit of `size` for
    this process (the same OSError half-way through a write, as EFBIG instead of ENOSPC)."""
    import resource  # POSIX only
    folder.mkdir()
    mounted = (sys.platform.startswith("linux") and os.geteuid() == 0
               and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                  capture_output=True).returncode == 0)
    if mounted:
        try:
            yield "No space left on device"
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
        return
    limits, on_too_large = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, limits[1]))
    try:
        yield "File too large"
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, on_too_large)


@pytest.mark.skipif(os.name != "posix", reason="tmpfs or RLIMIT_FSIZE")
def test_a_full_disk_names_the_file_and_leaves_no_partial_file(tmp_path):
    placed = place_user_files(tmp_path)
    with small_disk(tmp_path / "disk", 64 * 1024) as cause:
        out_dir = tmp_path / "disk" / "out"
        placed |= place_user_files(out_dir)  # ~200 bytes of the user's on the small disk
        run = run_lesson(LINEAR, in_process=True, out_dir=out_dir)  # metrics.json fits, training.gif (~70 kB) not
        left = sorted(path.name for path in out_dir.iterdir())
        metrics = read_metrics(out_dir)
        assert_unchanged(placed)
    assert run.returncode == 2
    assert run.stderr == f"{LINEAR.name}: error: --out-dir {out_dir}: cannot write training.gif ({cause})\n"
    assert left == ["holiday.jpg", "metrics.json", "my_notes.txt"]  # no partial GIF, no hidden temporary
    assert metrics["stop_iteration"] > 0  # what it had measured, whole
    assert "Summary" not in run.stdout


# --- bounded memory ------------------------------------------------------------------------------

def resident_bytes(pid: int, field: str = "VmRSS") -> int:
    """The process's resident memory now (VmRSS) or its peak so far (VmHWM), from /proc. The peak of
    wait4's rusage is no use here: it counts the test process's own memory, inherited at the fork."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) * 1024


@posix_only
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_a_million_iterations_keep_a_bounded_animation_and_stop_on_ctrl_c(tmp_path):
    """`--iterations 1000000 --lr 1e-12` (the loss never reaches the stop rule): the resident memory
    after 2,000 and after 10,000 iterations must not grow with them (a GIF that kept a frame every
    10 iterations grew ~0.5 MB a frame here, to 17 GB over the whole run), the peak stays under
    1 GiB, and Ctrl-C stops the run at once. The complete run: `python tests/test_sweep.py`."""
    placed = place_user_files(tmp_path)
    lesson = start(LINEAR, "--iterations", "1000000", "--lr", "1e-12", "--out-dir", tmp_path / "out", cwd=tmp_path)
    resident = {}
    for line in lesson.stdout:
        match = re.match(r"Iteration:\s+(\d+) ", line)
        if match and int(match.group(1)) in (2000, 10000):
            resident[int(match.group(1))] = resident_bytes(lesson.pid)
            if len(resident) == 2:
                break
    if len(resident) < 2:
        lesson.kill()
        pytest.fail(f"the run ended before iteration 10,000: {finish(lesson)[2][-2000:]}")
    peak = resident_bytes(lesson.pid, "VmHWM")  # the peak of the 10,000 iterations, imports included
    lesson.send_signal(signal.SIGINT)
    returncode, _, stderr, _ = finish(lesson)
    assert (returncode, stderr) == (130, f"{LINEAR.name}: interrupted\n")
    growth = resident[10000] - resident[2000]
    assert growth < 200 * MIB, f"memory grew {growth / MIB:.0f} MiB in 8,000 iterations"
    assert 0 < peak < MEMORY_LIMIT, f"peak {peak / MIB:.0f} MiB"
    assert not (tmp_path / "out" / "training.gif").exists()  # an interrupted run writes no GIF
    assert_unchanged(placed)


def benchmark() -> None:
    """The two complete runs the issue names: wall time, exit status and peak resident memory."""
    import tempfile
    for script, flags in ((LINEAR, ("--iterations", "1000000", "--lr", "1e-12")),
                          (LOGISTIC, ("--iterations", "1000000", "--lr", "1e-9"))):
        with tempfile.TemporaryDirectory() as folder:
            started = time.monotonic()
            lesson = start(script, *flags, "--out-dir", Path(folder) / "out", cwd=Path(folder))
            lesson.stdout.read()  # drain it: the run prints every 20 iterations
            returncode, _, stderr, peak = finish(lesson, timeout=None)
            print(f"{script.parent.name}/{script.name} {' '.join(flags)}: exit {returncode} after "
                  f"{time.monotonic() - started:.0f} s, peak {peak / MIB:.0f} MiB "
                  f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); {stderr.strip()[-200:]}")


if __name__ == "__main__":
    import shutil

    from conftest import TMP_ROOT
    try:
        benchmark()
    finally:
        shutil.rmtree(TMP_ROOT, ignore_errors=True)  # what pytest's session end would remove
