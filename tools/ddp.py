"""What lesson_models/03_train_lenet_ddp.py needs around DDP but does not teach: its flags and
checks, how N processes stop together with one line, preparing the photos one process at a time,
and checkpoints.

    add_ddp_flags(parser)                                  # --resume FILE, --timeout S
    args = start_ddp_lesson(parser, rank, local_rank)      # start_lesson, for N processes
    device = device_of_this_process(args.device, local_rank, launched_by_torchrun)
    dist.init_process_group(backend, timeout=args.timeout, **device_id_option(device))
    split_dir, source = in_turns(lambda: prepare_split(args), rank, local_rank)
    checkpoint = read_checkpoint(args.resume, LESSON, MAX_EPOCH, device)   # before the processes meet
    start_epoch = restore(checkpoint, args.resume, net, optimizer, scheduler, history)
    save_checkpoint(path, LESSON, epoch, net, optimizer, scheduler, history)

Errors under torchrun: every process meets a bad flag, a missing device or a refused checkpoint at
the same point, so the first process of each machine (LOCAL_RANK 0) prints the one line and the
others leave with the same status, silently. A process that cannot meet the others, or loses one
(it died, or did not answer within --timeout), says so itself, and leaves at once: its clean-up
would wait for the lost process again.
"""
import argparse
import datetime
import inspect
import io
import os
import sys
import warnings
from pathlib import Path

import torch
import torch.distributed as dist

from tools.cli import int_between, start_lesson
from tools.errors import (RUN_FAILED_EXIT_CODE, LessonError, describe, exit_now, fail, program_name,
                          running_in_notebook_kernel)

CHECKPOINT_PARTS = ("lesson", "epoch", "model", "optimizer", "scheduler", "history")
TIMEOUT_S = 30  # how long a collective waits for the other processes before it fails
PREPARE_TIMEOUT = datetime.timedelta(minutes=10)  # drawing and splitting the photos takes longer
_timeout_seconds = int_between(1, 3600)
# What torch 2.0 (the oldest supported) lacks: init_process_group's device_id, and DistError, the type
# of a failed collective (there a RuntimeError that names gloo or NCCL, which _from_a_collective reads).
_TAKES_DEVICE_ID = "device_id" in inspect.signature(dist.init_process_group).parameters
_DIST_ERROR = getattr(dist, "DistError", ())  # (): no type to match


def add_ddp_flags(parser: argparse.ArgumentParser) -> None:
    """--resume FILE and --timeout S (a datetime.timedelta, as init_process_group takes it)."""
    def timeout(text: str) -> datetime.timedelta:
        return datetime.timedelta(seconds=_timeout_seconds(text))
    parser.add_argument("--resume", type=Path, default=None, metavar="FILE",
                        help="go on from a checkpoint.pt this lesson wrote")
    parser.add_argument("--timeout", type=timeout, default=datetime.timedelta(seconds=TIMEOUT_S), metavar="S",
                        help=f"give up on a silent process after S s (default: {TIMEOUT_S})")


def device_of_this_process(device: torch.device, local_rank: int, launched_by_torchrun: bool) -> torch.device:
    """The device this process trains on. CUDA: one process per GPU, process LOCAL_RANK on
    cuda:LOCAL_RANK (more processes on this machine than GPUs: one line, exit status 2). MPS: the
    CPU, said once (torch.distributed has no MPS backend)."""
    if device.type == "cuda":
        processes_here, gpus = int(os.environ.get("LOCAL_WORLD_SIZE", 1)), torch.cuda.device_count()
        if processes_here > gpus:
            fail(f"--device cuda: {processes_here} processes on this machine but {gpus} GPU(s); "
                 f"start one process per GPU (torchrun --nproc_per_node {gpus})")
        device = torch.device("cuda", local_rank if launched_by_torchrun else device.index or 0)
        torch.cuda.set_device(device)
    elif device.type == "mps":
        if local_rank == 0:
            print("Apple's mps device has no torch.distributed backend: this lesson trains on the CPU.")
        device = torch.device("cpu")
    return device


def device_id_option(device: torch.device) -> dict:
    """init_process_group's device_id for a GPU, where the installed torch takes it: the group is bound
    to this process's GPU and NCCL connects at once. On the CPU, or an older torch, none: NCCL then
    connects at the first collective, on the GPU that torch.cuda.set_device chose."""
    return {"device_id": device} if device.type == "cuda" and _TAKES_DEVICE_ID else {}


def split_batch(batch_size: int, world_size: int) -> int:
    """The batch of each process: batch_size // world_size, which must leave nothing over."""
    if batch_size % world_size:
        fail(f"--batch-size {batch_size} does not split evenly over {world_size} processes; "
             f"give a multiple of {world_size}")
    return batch_size // world_size


# Errors: one line per machine ---------------------------------------------------------------------

def _leave_silently_unless_first(error: BaseException, local_rank: int) -> None:
    """On a process other than its machine's first, leave now, saying nothing, with the status the
    first one gives for the same `error` (if it is one that is said in one line)."""
    described = describe(error)
    if described is not None and local_rank != 0:
        sys.stderr = io.StringIO()  # the line goes nowhere: the machine's first process says it
        exit_now(*described)


def _from_a_collective(error: BaseException) -> bool:
    """A collective that failed because another process died (its connection closed) or did not
    answer within the timeout: torch.distributed's DistError, or gloo's/NCCL's RuntimeError."""
    return isinstance(error, _DIST_ERROR) or any(name in str(error) for name in ("gloo", "NCCL"))


def start_ddp_lesson(parser, rank: int, local_rank: int):
    """start_lesson(parser) for a lesson that torchrun starts once per process, with the error
    handling of this module's docstring (add_ddp_flags' --timeout names the wait in its lines)."""
    try:
        args = start_lesson(parser)
    except BaseException as error:  # noqa: B902 - a bad flag under torchrun: said once per machine
        _leave_silently_unless_first(error, local_rank)
        raise
    if running_in_notebook_kernel():  # one process, and the kernel shows errors itself
        return args
    lesson_hook, stderr = sys.excepthook, sys.stderr  # the one handler start_lesson installed
    seconds = round(args.timeout.total_seconds())

    def distributed_hook(error_type, error, traceback):
        # init_process_group wraps this hook in one that points sys.stderr at a buffer and prints it,
        # prefixed with the rank, once the hook returns; a hook that leaves the process never returns.
        sys.stderr = stderr
        if _from_a_collective(error) and not dist.is_initialized():  # init_process_group failed
            exit_now(f"{program_name()}: failed: rank {rank} could not meet the other processes at "
                     f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')} within {seconds} s: "
                     f"{str(error).splitlines()[0]}", RUN_FAILED_EXIT_CODE)
        if _from_a_collective(error) and dist.get_world_size() > 1:
            cause = str(error).splitlines()[0].split("] ", 1)[-1].split(". ")[0]  # without [file.cc:line]
            exit_now(f"{program_name()}: failed: rank {rank} lost contact with another process (it stopped, "
                     f"or did not answer within {seconds} s): {cause}", RUN_FAILED_EXIT_CODE)
        _leave_silently_unless_first(error, local_rank)
        lesson_hook(error_type, error, traceback)

    sys.excepthook = distributed_hook
    return args


def in_turns(prepare, rank: int, local_rank: int):
    """prepare() on every process, one machine's worth at a time, so that no two write the same
    photos at once: rank 0 first, while the others wait; then the first process of every other
    machine (it finds rank 0's photos on a shared disk, or makes the same ones); then the rest,
    which find them. A LessonError in any turn stops every process with that line. The processes
    wait for each other in a gloo group of their own, with a timeout for the slowest turn
    (drawing the photos: PREPARE_TIMEOUT), not training's --timeout.
    """
    group = dist.new_group(backend="gloo", timeout=PREPARE_TIMEOUT)
    result, failure = None, None
    for my_turn in (rank == 0, local_rank == 0 and rank != 0, local_rank != 0):
        if my_turn:
            try:
                result = prepare()
            except LessonError as error:
                failure = (error.message, error.status)
        failures = [None] * dist.get_world_size(group)
        dist.all_gather_object(failures, failure, group=group)  # every process learns of any failure
        for said in failures:
            if said is not None:
                raise LessonError(*said)
    return result


# Checkpoints --------------------------------------------------------------------------------------

def save_checkpoint(path: Path, lesson: str, epoch: int, net, optimizer, scheduler, history: dict) -> None:
    """Everything a run needs to go on after `epoch`, in one torch.save; written beside and renamed,
    so that a run stopped while saving leaves the previous checkpoint whole."""
    partial = Path(path).with_name(Path(path).name + ".partial")
    torch.save({"lesson": lesson, "epoch": epoch, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "history": history}, partial)
    os.replace(partial, path)


def read_checkpoint(path: Path, lesson: str, max_epoch: int, device) -> dict:
    """The checkpoint in `path`, read before the processes meet (each reads the same file, so each
    refuses a bad one at the same point). A missing file, one that torch cannot read, another
    lesson's, one with a part missing, one whose epochs are all done: one line, exit status 2."""
    what = f"--resume {path}"
    if Path(path).is_dir():
        fail(f"{what}: is a folder, not a checkpoint file")
    if not Path(path).is_file():
        fail(f"{what}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about some foreign files before refusing them
            checkpoint = torch.load(path, map_location=device, weights_only=True)
    except OSError as error:
        fail(f"{what}: cannot be read ({error.strerror or error})")
    except Exception:  # noqa: B902 - a foreign file fails in many ways (UnpicklingError, IndexError, ...)
        fail(f"{what}: not a checkpoint (torch.load cannot read it as one)")
    if not isinstance(checkpoint, dict) or checkpoint.get("lesson") != lesson:
        fail(f"{what}: not a checkpoint of {lesson}")
    missing = [part for part in CHECKPOINT_PARTS if part not in checkpoint]
    epoch = checkpoint.get("epoch")
    if missing or not isinstance(epoch, int) or epoch < 0:
        fail(f"{what}: a damaged checkpoint of {lesson} (" +
             (f"no {', '.join(missing)})" if missing else f"epoch {epoch!r} is not an epoch number)"))
    if epoch + 1 >= max_epoch:
        fail(f"{what}: all {epoch + 1} epochs are done already; ask for more with --epochs")
    return checkpoint


def _misfits(saved: dict, wanted: dict) -> list:
    """How the tensors of a saved state_dict differ from the network's: names and shapes."""
    misfits = [f"{name} is missing" for name in wanted if name not in saved]
    misfits += [f"{name} is not in this network" for name in saved if name not in wanted]
    misfits += [f"{name} is {tuple(saved[name].shape)} there, {tuple(wanted[name].shape)} here"
                for name in wanted if name in saved and getattr(saved[name], "shape", None) != wanted[name].shape]
    return misfits


def restore(checkpoint: dict, path: Path, net, optimizer, scheduler, history: dict) -> int:
    """Load a checkpoint of read_checkpoint into net, optimizer, scheduler and history (the same
    curves, extended in place); returns the first epoch still to train. Weights of another network
    (other tensor shapes: LeNet was edited) or curves of another kind: one line, exit status 2."""
    saved = checkpoint["model"]
    misfits = _misfits(saved, net.state_dict()) if isinstance(saved, dict) else ["it holds no state_dict"]
    if misfits:
        fail(f"--resume {path}: its weights do not fit this network ({'; '.join(misfits[:3])}"
             f"{'; …' if len(misfits) > 3 else ''})")
    curves = checkpoint["history"]
    if not (isinstance(curves, dict) and curves.keys() == history.keys()
            and all(isinstance(curve, list) for curve in curves.values())):
        fail(f"--resume {path}: its curves are not this lesson's ({', '.join(history)})")
    try:
        net.load_state_dict(saved)
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        fail(f"--resume {path}: its optimizer or scheduler state does not fit ({str(error).splitlines()[0]})")
    history.update(curves)
    return checkpoint["epoch"] + 1
