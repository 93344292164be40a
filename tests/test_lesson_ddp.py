"""lesson_models/03_train_lenet_ddp.py: the five steps on several processes, run for real.

Runs, all on the photos that the lesson's plain --quick run (in this process, a world of one) drew:
  A  torchrun --standalone --nproc_per_node 2            (5 epochs, 1 thread)   the lesson's claims
  B  two torchrun launchers, --nnodes 2, one process each (2 epochs)            two "machines" meet
  C  torchrun --standalone --nproc_per_node 2 --resume B's checkpoint           ends with A's weights
  D  two plain processes wired as torchrun wires them (2 threads each): the proof, then rank 1 frozen
  E  the same pair with a device no machine has: one line from the machine's first process
and the refused checkpoints in this process (they stop before training, most before the processes meet).
"""
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from conftest import LESSON_ENV, TMP_ROOT, WORK_DIR, lesson_script, run_lesson

SCRIPT = lesson_script("lesson_models", "03_train_lenet_ddp")
QUICK_EPOCHS = 5
STOP_AFTER_EPOCHS = 2
RUN_TIMEOUT_S = 240  # one run on a busy two-core machine takes 10–40 s
LOST_PROCESS_TIMEOUT_S = 5  # --timeout of the run where one process is frozen
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
# As run_lesson's -W flags, for every worker that torchrun starts.
WARNINGS_AS_ERRORS = "error::DeprecationWarning,error::FutureWarning"
PROOF_LINE = re.compile(r"largest weight difference is (\S+) \(the weights moved up to (\S+);")
WORLD_LINE = re.compile(r"World: (\d+) process(?:es)?, backend gloo, rank 0 on cpu \(threads: (\d+)\)")
SUMMARY_LINE = re.compile(r"Summary: 2 processes, \d+ epochs: valid ([\d.]+)%, test ([\d.]+)%")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun's launcher needs a POSIX system")


@pytest.fixture(scope="module")
def world_of_one():
    """The plain --quick run, in this process: no torchrun, one process. It draws the quick photos."""
    run = run_lesson(SCRIPT, "--quick", in_process=True)
    assert run.returncode == 0, run.explain()
    return run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_env(**extra) -> dict:
    temporary = TMP_ROOT / "ddp" / "tmp"  # torchrun leaves a torchelastic_* folder per run there
    temporary.mkdir(parents=True, exist_ok=True)
    return dict(LESSON_ENV, PYTHONWARNINGS=WARNINGS_AS_ERRORS, PYTHONUNBUFFERED="1", TMPDIR=str(temporary), **extra)


def run_bounded(command: list, env: "dict | None" = None) -> subprocess.CompletedProcess:
    """Run `command` in a session of its own and kill the whole session (torchrun and every worker)
    if it outlives RUN_TIMEOUT_S: a hang fails the test instead of stalling the suite."""
    process = subprocess.Popen(command, cwd=WORK_DIR, env=env or worker_env(), text=True, encoding="utf-8",
                               errors="replace", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        stderr += f"\n(killed after {RUN_TIMEOUT_S} s)"
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def explain(completed) -> str:
    return (f"{' '.join(map(str, completed.args))} exited {completed.returncode}\n--- stdout (end) ---\n"
            f"{completed.stdout[-3000:]}\n--- stderr (end) ---\n{completed.stderr[-3000:]}")


def lesson_flags(out_dir, data_dir, *flags) -> list:
    return [str(SCRIPT), "--quick", "--device", "cpu", "--out-dir", str(out_dir), "--data-dir", str(data_dir), *flags]


def start_pair(flags: list, **env) -> list:
    """Ranks 0 and 1 as two plain processes, wired as torchrun wires them (one machine)."""
    wiring = worker_env(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                        **env)
    return [subprocess.Popen([sys.executable, *flags], cwd=WORK_DIR, env=dict(wiring, RANK=str(rank), LOCAL_RANK=str(rank)),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                             start_new_session=True) for rank in (0, 1)]


@pytest.fixture(scope="module")
def ddp_runs(world_of_one):
    root, split = TMP_ROOT / "ddp", world_of_one.variables["split_dir"]
    out = {name: root / name for name in ("standalone", "two_launchers", "resumed")}

    def standalone():
        return run_bounded([*TORCHRUN, "--standalone", "--nproc_per_node", "2", *lesson_flags(out["standalone"], split)])

    def two_launchers():
        port = free_port()
        with ThreadPoolExecutor(2) as pool:
            nodes = [pool.submit(run_bounded, [*TORCHRUN, "--nnodes", "2", "--node_rank", str(node), "--nproc_per_node",
                                               "1", "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}",
                                               *lesson_flags(out["two_launchers"], split,
                                                             "--epochs", str(STOP_AFTER_EPOCHS))])
                     for node in (0, 1)]
            return [node.result() for node in nodes]

    with ThreadPoolExecutor(2) as pool:
        standalone_run, launcher_runs = pool.submit(standalone), pool.submit(two_launchers)
        standalone_run, launcher_runs = standalone_run.result(), launcher_runs.result()
    resumed = run_bounded([*TORCHRUN, "--standalone", "--nproc_per_node", "2",
                           *lesson_flags(out["resumed"], split, "--resume", str(out["two_launchers"] / "checkpoint.pt"))])
    return {"standalone": standalone_run, "two_launchers": launcher_runs, "resumed": resumed, "out": out}


def test_plain_python_is_a_world_of_one(world_of_one):
    """No torchrun: one process; DDP over one process is the single process exactly."""
    lesson = world_of_one.variables
    assert lesson["world_size"] == 1 and lesson["difference"] == 0.0
    assert max(lesson["moved"]) > 1e-3  # the epoch did move the weights: the comparison compares something
    assert lesson["history"]["valid_acc"][-1] >= 0.9 and lesson["test_acc"] >= 0.9, lesson["history"]
    assert len(lesson["history"]["train_loss"]) == QUICK_EPOCHS * lesson["iterations_per_epoch"]


def test_two_processes_take_the_steps_of_one_and_learn(ddp_runs, world_of_one):
    run, out_dir = ddp_runs["standalone"], ddp_runs["out"]["standalone"]
    assert run.returncode == 0, explain(run)
    assert "Traceback" not in run.stderr and "terminate called" not in run.stderr, explain(run)
    assert WORLD_LINE.search(run.stdout).groups() == ("2", "1"), explain(run)  # two processes, one thread each
    # The proof: the same epoch as 2 × batch 8 under DDP and as 1 × batch 16 ends with the same
    # weights up to float32 rounding (the weights move by ~1e-2 in that epoch), within the lesson's limit.
    difference, moved = map(float, PROOF_LINE.search(run.stdout).groups())
    assert difference <= world_of_one.variables["ROUNDING_LIMIT"] == 1e-5 and moved > 1e-3, explain(run)
    valid, test = map(float, SUMMARY_LINE.search(run.stdout).groups())
    assert valid >= 90 and test >= 90, explain(run)
    # Only rank 0 prints the notes' lines, writes the figures and the checkpoint.
    last_epoch = f"Training:Epoch[{QUICK_EPOCHS - 1:0>3}/{QUICK_EPOCHS:0>3}] Iteration[010/010]"
    assert run.stdout.count(last_epoch) == 1 and run.stdout.count("Summary:") == 1, explain(run)
    assert {path.name for path in out_dir.iterdir()} >= {"training_curves.png", "ddp_vs_single.png",
                                                         "checkpoint.pt", "metrics.json"}


def test_two_launchers_meet_at_a_rendezvous_as_two_machines_would(ddp_runs):
    node_0, node_1 = ddp_runs["two_launchers"]
    assert node_0.returncode == 0, explain(node_0)
    assert node_1.returncode == 0, explain(node_1)
    printed = node_0.stdout + node_1.stdout
    # Exactly one of the two launchers has rank 0, and it alone prints.
    assert printed.count("World: 2 processes") == 1 and printed.count("Summary: 2 processes, 2 epochs") == 1, printed
    assert float(PROOF_LINE.search(printed).group(1)) <= 1e-5, printed


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")  # torch 2.0's own torch.load says it
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


def test_on_two_threads_the_proof_holds_and_a_frozen_process_stops_the_other(world_of_one):
    """D: ranks 0 and 1 with two intra-op threads each. First the proof (within the lesson's limit
    on two threads too); once training runs, rank 1 is frozen (SIGSTOP): its connections stay open
    and silent, as those of a machine that lost power. Rank 0 must stop within --timeout with one
    line. (A killed process closes its connections and is noticed at once.)"""
    flags = lesson_flags(TMP_ROOT / "ddp" / "frozen", world_of_one.variables["split_dir"], "--epochs", "50",
                         "--timeout", str(LOST_PROCESS_TIMEOUT_S))
    ranks = start_pair(flags, OMP_NUM_THREADS="2")
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
            rank.communicate()
    before = "".join(printed)
    assert WORLD_LINE.search(before).groups() == ("2", "2"), before
    assert float(PROOF_LINE.search(before).group(1)) <= world_of_one.variables["ROUNDING_LIMIT"], before
    assert ranks[0].returncode == 1, stderr
    assert stderr.strip().count("\n") == 0 and "failed: rank 0 lost contact with another process" in stderr, stderr
    assert "Summary:" not in stdout
    assert seconds < LOST_PROCESS_TIMEOUT_S + 15, f"rank 0 took {seconds:.0f} s to stop"


def test_an_error_every_process_meets_is_said_once_per_machine(tmp_path):
    """E: a device that no machine has (cuda:99), met by both processes before they meet: the
    machine's first process (LOCAL_RANK 0) says it in one line, the other leaves silently; both exit 2."""
    ranks = start_pair([str(SCRIPT), "--quick", "--device", "cuda:99", "--out-dir", str(tmp_path)])
    try:
        results = [rank.communicate(timeout=RUN_TIMEOUT_S) for rank in ranks]
    finally:
        for rank in ranks:
            if rank.poll() is None:
                os.killpg(rank.pid, signal.SIGKILL)
                rank.communicate()
    assert [rank.returncode for rank in ranks] == [2, 2], results
    (_, first_stderr), (second_stdout, second_stderr) = results
    assert first_stderr.strip().count("\n") == 0 and "error: --device cuda:99" in first_stderr, results
    assert second_stderr == "" and second_stdout == "", results


def refused_run(tmp_path, *flags):
    """An in-process run that must stop with one line and exit 2, printing no warning first."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = run_lesson(SCRIPT, "--quick", *flags, in_process=True, out_dir=tmp_path / "out")
    assert run.returncode == 2, run.explain()
    assert run.stderr.count("\n") == 1 and "error: --resume" in run.stderr, run.explain()
    assert "Training:" not in run.stdout, run.explain()
    assert not caught, [str(warning.message) for warning in caught]
    return run.stderr


def test_resume_of_a_missing_or_foreign_file_is_one_line(tmp_path):
    assert "no such file" in refused_run(tmp_path, "--resume", str(tmp_path / "no_such_checkpoint.pt"))
    notes, foreign = tmp_path / "notes.pt", tmp_path / "foreign.pkl"
    notes.write_text("my notes, not a checkpoint\n", encoding="utf-8")
    foreign.write_bytes(pickle.dumps({"lesson": "mine", "weights": [1, 2, 3]}, protocol=4))  # torch warns on protocol 4
    for path in (notes, foreign):
        assert "not a checkpoint (torch.load cannot read it" in refused_run(tmp_path, "--resume", str(path))
    if Path("/proc/self/status").is_file():  # a file that is there but no file to unpickle (IndexError)
        assert "not a checkpoint" in refused_run(tmp_path, "--resume", "/proc/self/status")


def test_resume_of_a_damaged_or_finished_checkpoint_is_one_line(world_of_one, tmp_path):
    finished = world_of_one.out_dir / "checkpoint.pt"  # all 5 --quick epochs done
    assert "all 5 epochs are done already" in refused_run(tmp_path, "--resume", str(finished))
    saved = torch.load(finished, weights_only=True)
    no_epoch, edited_lenet = tmp_path / "no_epoch.pt", tmp_path / "edited_lenet.pt"
    torch.save({key: value for key, value in saved.items() if key != "epoch"}, no_epoch)
    # What editing LeNet to 8 first filters makes: other shapes under the same names
    model = dict(saved["model"], **{"conv1.weight": torch.zeros(8, 3, 5, 5), "conv1.bias": torch.zeros(8),
                                    "conv2.weight": torch.zeros(16, 8, 5, 5)})
    torch.save(dict(saved, epoch=1, model=model), edited_lenet)
    assert "damaged checkpoint" in refused_run(tmp_path, "--resume", str(no_epoch))
    line = refused_run(tmp_path, "--resume", str(edited_lenet), "--data-dir", str(world_of_one.variables["split_dir"]))
    dist.destroy_process_group()  # refused after the processes met: leave no group behind in this test process
    assert "do not fit this network" in line and "conv1.weight is (8, 3, 5, 5) there, (6, 3, 5, 5) here" in line


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the check counts this machine's GPUs")
def test_more_processes_than_gpus_is_refused(tmp_path):
    processes = torch.cuda.device_count() + 1
    env = worker_env(RANK="0", LOCAL_RANK="0", WORLD_SIZE=str(processes), LOCAL_WORLD_SIZE=str(processes),
                     MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    run = run_bounded([sys.executable, str(SCRIPT), "--quick", "--device", "cuda", "--out-dir", str(tmp_path)], env)
    assert run.returncode == 2, explain(run)
    assert "one process per GPU" in run.stderr and run.stderr.strip().count("\n") == 0, explain(run)
