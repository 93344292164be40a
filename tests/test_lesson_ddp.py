"""lesson_models/03_train_lenet_ddp.py: the five steps on several processes, run for real.

Runs, all on the photos that the lesson's own --quick run drew (quick_data/rmb_split beside its out-dir):
  A  torchrun --standalone --nproc_per_node 2            (5 epochs)       the lesson's claims
  B  two torchrun launchers, --nnodes 2, one process each (2 epochs)      two "machines" meet
  C  torchrun --standalone --nproc_per_node 2 --resume B's checkpoint     ends with A's weights
and two plain processes wired as torchrun wires them, one of which is then frozen.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from conftest import lesson_script, plan_runs, run_in_process

SCRIPT = lesson_script("lesson_models", "03_train_lenet_ddp")
QUICK_EPOCHS = 5
STOP_AFTER_EPOCHS = 2
RUN_TIMEOUT_S = 240  # one run on a busy two-core machine takes 10–30 s
LOST_PROCESS_TIMEOUT_S = 5  # --timeout of the run where one process is frozen
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
# As the lesson runner's -W flags, for every worker that torchrun starts.
WARNINGS_AS_ERRORS = "error::DeprecationWarning,error::FutureWarning"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun's launcher needs a POSIX system")


def _missing_checkpoint(runner):
    return SCRIPT, "--quick", "--resume", str(runner.tmp_root / "no_such_checkpoint.pt")


def _foreign_checkpoint(runner):
    path = runner.tmp_root / "notes.pt"
    path.write_text("my notes, not a checkpoint\n", encoding="utf-8")
    return SCRIPT, "--quick", "--resume", str(path)


plan_runs((SCRIPT, "--quick"))  # the refused checkpoints stop before training: in this process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_bounded(command: list, runner, env: "dict | None" = None) -> subprocess.CompletedProcess:
    """Run `command` in a session of its own and kill the whole session (torchrun and every worker)
    if it outlives RUN_TIMEOUT_S: a hang fails the test instead of stalling the suite."""
    process = subprocess.Popen(command, cwd=runner.work_dir, env=env or worker_env(runner), text=True,
                               encoding="utf-8", errors="replace", stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        stderr += f"\n(killed after {RUN_TIMEOUT_S} s)"
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def worker_env(runner) -> dict:
    temporary = runner.tmp_root / "ddp" / "tmp"  # torchrun leaves a torchelastic_* folder per run there
    temporary.mkdir(parents=True, exist_ok=True)
    return dict(runner.env, PYTHONWARNINGS=WARNINGS_AS_ERRORS, PYTHONUNBUFFERED="1", TMPDIR=str(temporary))


def explain(completed: subprocess.CompletedProcess) -> str:
    return (f"{' '.join(map(str, completed.args))} exited {completed.returncode}\n--- stdout (end) ---\n"
            f"{completed.stdout[-3000:]}\n--- stderr (end) ---\n{completed.stderr[-3000:]}")


def lesson_flags(out_dir, data_dir, *flags) -> list:
    return [str(SCRIPT), "--quick", "--device", "cpu", "--out-dir", str(out_dir), "--data-dir", str(data_dir), *flags]


@pytest.fixture(scope="module")
def quick_split(lesson_runner):
    """The split that the lesson's plain --quick run drew under its out-dir (also the smoke run)."""
    quick = lesson_runner.run(SCRIPT, "--quick")
    assert quick.returncode == 0, quick.explain()
    return quick.out_dir.parent / "quick_data" / "rmb_split"


@pytest.fixture(scope="module")
def ddp_runs(lesson_runner, quick_split):
    root = lesson_runner.tmp_root / "ddp"
    out = {name: root / name for name in ("standalone", "two_launchers", "resumed")}

    def standalone():
        return run_bounded([*TORCHRUN, "--standalone", "--nproc_per_node", "2",
                            *lesson_flags(out["standalone"], quick_split)], lesson_runner)

    def two_launchers():
        port = free_port()
        with ThreadPoolExecutor(2) as pool:
            nodes = [pool.submit(run_bounded, [*TORCHRUN, "--nnodes", "2", "--node_rank", str(node),
                                               "--nproc_per_node", "1", "--rdzv_backend", "c10d",
                                               "--rdzv_endpoint", f"127.0.0.1:{port}",
                                               *lesson_flags(out["two_launchers"], quick_split,
                                                             "--epochs", str(STOP_AFTER_EPOCHS))], lesson_runner)
                     for node in (0, 1)]
            return [node.result() for node in nodes]

    with ThreadPoolExecutor(2) as pool:
        standalone_run, launcher_runs = pool.submit(standalone), pool.submit(two_launchers)
        standalone_run, launcher_runs = standalone_run.result(), launcher_runs.result()
    resumed = run_bounded([*TORCHRUN, "--standalone", "--nproc_per_node", "2",
                           *lesson_flags(out["resumed"], quick_split,
                                         "--resume", str(out["two_launchers"] / "checkpoint.pt"))], lesson_runner)
    return {"standalone": standalone_run, "two_launchers": launcher_runs, "resumed": resumed, "out": out}


def metrics_of(out_dir) -> dict:
    from tools.metrics import read_metrics
    return read_metrics(out_dir)


def test_two_processes_take_the_steps_of_one_and_learn(ddp_runs):
    run, out_dir = ddp_runs["standalone"], ddp_runs["out"]["standalone"]
    assert run.returncode == 0, explain(run)
    assert "Traceback" not in run.stderr and "terminate called" not in run.stderr, explain(run)
    metrics = metrics_of(out_dir)
    assert metrics["world_size"] == 2
    # The proof: the same epoch as 2 × batch 8 under DDP and as 1 × batch 16 ends with the same
    # weights up to float32 rounding (the weights move by ~1e-2 in that epoch).
    assert metrics["ddp_vs_single_max_abs_difference"] <= 1e-5
    assert metrics["valid_acc"] >= 0.9 and metrics["test_acc"] >= 0.9, metrics
    assert metrics["images_per_second"] > 0
    # Only rank 0 prints the notes' lines, writes the figures and the checkpoint.
    last_epoch = f"Training:Epoch[{QUICK_EPOCHS - 1:0>3}/{QUICK_EPOCHS:0>3}] Iteration[010/010]"
    assert run.stdout.count(last_epoch) == 1, explain(run)
    assert run.stdout.count("Summary:") == 1, explain(run)
    assert {path.name for path in out_dir.iterdir()} >= {"training_curves.png", "ddp_vs_single.png",
                                                         "checkpoint.pt", "metrics.json"}


def test_plain_python_is_a_world_of_one(lesson_runner):
    """The smoke run: no torchrun, one process; DDP over one process is the single process exactly."""
    run = lesson_runner.run(SCRIPT, "--quick")
    assert run.returncode == 0, run.explain()
    assert run.metrics["world_size"] == 1
    assert run.metrics["ddp_vs_single_max_abs_difference"] == 0.0


def test_two_launchers_meet_at_a_rendezvous_as_two_machines_would(ddp_runs):
    node_0, node_1 = ddp_runs["two_launchers"]
    assert node_0.returncode == 0, explain(node_0)
    assert node_1.returncode == 0, explain(node_1)
    metrics = metrics_of(ddp_runs["out"]["two_launchers"])
    assert metrics["world_size"] == 2
    assert metrics["ddp_vs_single_max_abs_difference"] <= 1e-5
    # Exactly one of the two launchers has rank 0, and it alone prints the training lines.
    assert (node_0.stdout + node_1.stdout).count("Summary: 2 processes, 2 epochs") == 1


def test_a_stopped_run_resumed_ends_with_the_uninterrupted_weights(ddp_runs):
    """B stopped after 2 epochs (two launchers); C resumed its checkpoint on one machine for the
    other 3 epochs; A ran all 5 at once. Same data order, same crops, same steps: the same weights."""
    resumed = ddp_runs["resumed"]
    assert resumed.returncode == 0, explain(resumed)
    assert f"epoch {STOP_AFTER_EPOCHS} of {QUICK_EPOCHS} is next" in resumed.stdout, explain(resumed)
    stopped = torch.load(ddp_runs["out"]["two_launchers"] / "checkpoint.pt", weights_only=True)
    uninterrupted = torch.load(ddp_runs["out"]["standalone"] / "checkpoint.pt", weights_only=True)
    finished = torch.load(ddp_runs["out"]["resumed"] / "checkpoint.pt", weights_only=True)
    assert stopped["epoch"] == STOP_AFTER_EPOCHS - 1
    assert finished["epoch"] == uninterrupted["epoch"] == QUICK_EPOCHS - 1
    assert finished["model"].keys() == uninterrupted["model"].keys()
    for name, weight in uninterrupted["model"].items():
        assert torch.equal(finished["model"][name], weight), name  # bit for bit
        assert not torch.equal(stopped["model"][name], weight), f"{name} did not move in epochs 2 to 4"
    assert finished["history"] == uninterrupted["history"]  # the curves too: loss of every step, accuracies


def test_a_process_that_stops_answering_stops_the_others_within_the_timeout(lesson_runner, quick_split):
    """Two processes wired as torchrun wires them; once training runs, rank 1 is frozen (SIGSTOP): its
    connections stay open and silent, as those of a machine that lost power. Rank 0 must stop within
    --timeout with one line. (A killed process closes its connections and is noticed at once.)"""
    port = free_port()
    env = dict(worker_env(lesson_runner), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
               LOCAL_WORLD_SIZE="2")
    out_dir = lesson_runner.tmp_root / "ddp" / "frozen"
    command = [sys.executable, *lesson_flags(out_dir, quick_split, "--epochs", "50",
                                             "--timeout", str(LOST_PROCESS_TIMEOUT_S))]
    ranks = [subprocess.Popen(command, cwd=lesson_runner.work_dir, env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)),
                              stdout=subprocess.PIPE if rank == 0 else subprocess.DEVNULL, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, start_new_session=True) for rank in (0, 1)]
    watchdog = threading.Timer(RUN_TIMEOUT_S, lambda: [os.killpg(rank.pid, signal.SIGKILL) for rank in ranks])
    watchdog.start()
    try:
        printed = []
        for line in ranks[0].stdout:  # wait until training runs: rank 1 cannot be more than a step ahead
            printed.append(line)
            if line.startswith("Training:Epoch"):
                break
        assert printed and printed[-1].startswith("Training:Epoch"), "".join(printed) + ranks[0].stderr.read()
        os.kill(ranks[1].pid, signal.SIGSTOP)
        lost_at = time.monotonic()
        stdout, stderr = ranks[0].communicate()
        seconds = time.monotonic() - lost_at
    finally:
        watchdog.cancel()
        for rank in ranks:
            if rank.poll() is None:
                os.killpg(rank.pid, signal.SIGKILL)
            rank.wait()
    assert ranks[0].returncode == 1, stderr
    assert stderr.strip().count("\n") == 0 and "lost contact with another process" in stderr, stderr
    assert "Summary:" not in stdout
    assert seconds < LOST_PROCESS_TIMEOUT_S + 15, f"rank 0 took {seconds:.0f} s to stop"


@pytest.mark.parametrize("request_of", [_missing_checkpoint, _foreign_checkpoint], ids=["missing", "foreign"])
def test_resume_of_a_missing_or_foreign_file_is_one_line(lesson_runner, request_of, tmp_path):
    run = run_in_process(*lesson_runner.resolve(request_of), out_dir=tmp_path)
    assert run.returncode == 2, run.explain()
    assert run.stderr.strip().count("\n") == 0 and "--resume" in run.stderr, run.explain()
    assert ("no such file" if request_of is _missing_checkpoint else "not a checkpoint") in run.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the check counts this machine's GPUs")
def test_more_processes_than_gpus_is_refused(lesson_runner):
    processes = torch.cuda.device_count() + 1
    env = dict(worker_env(lesson_runner), RANK="0", LOCAL_RANK="0", WORLD_SIZE=str(processes),
               LOCAL_WORLD_SIZE=str(processes), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    run = run_bounded([sys.executable, str(SCRIPT), "--quick", "--device", "cuda", "--out-dir",
                       str(lesson_runner.tmp_root / "ddp" / "gpus")], lesson_runner, env)
    assert run.returncode == 2, explain(run)
    assert "one process per GPU" in run.stderr and run.stderr.strip().count("\n") == 0, explain(run)
