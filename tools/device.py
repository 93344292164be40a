"""Pick the device a lesson runs on: `auto` prefers cuda, then mps, then cpu.

An explicit device that is not there is an error, never a silent fallback to the CPU: a learner who
asked for the GPU must know they are not on it.
"""
import os
import re
from typing import TYPE_CHECKING

from tools.errors import fail

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps"
_CUDA_PATTERN = re.compile(r"cuda(?::(\d+))?")


def mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def resolve_device(name: str) -> "torch.device":
    """Turn a `--device` value into a torch.device that really exists on this machine."""
    import torch  # here, not at the top: the course runner checks flags without loading torch

    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not mps_available():
            fail("--device mps: MPS is not available on this machine (it needs Apple silicon and a "
                 "macOS build of PyTorch); use --device auto or cpu")
        return torch.device("mps")
    cuda_match = _CUDA_PATTERN.fullmatch(name)
    if cuda_match:
        if not torch.cuda.is_available():
            fail(f"--device {name}: CUDA is not available on this machine "
                 f"(torch {torch.__version__}); use --device auto or cpu")
        index = int(cuda_match.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            fail(f"--device {name}: this machine has {count} CUDA device(s), "
                 f"numbered 0 to {count - 1}")
        return torch.device("cuda", index)
    fail(f"--device {name!r}: expected one of {DEVICE_CHOICES}")


MAX_DEFAULT_THREADS = 4  # LeNet-sized steps gain nothing from more, and lose much when cores are busy


def usable_cores() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer than exist)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads() -> int:
    """Half the usable cores, at most MAX_DEFAULT_THREADS, at least 1.

    PyTorch's default (one thread per core) suits large matrices; these lessons' are small, so
    every step waits for the slowest of its threads, and when another program holds a core, a
    thread that cannot run stalls them all (the README's busy-machine table shows it).
    """
    return max(1, min(MAX_DEFAULT_THREADS, usable_cores() // 2))


def set_cpu_threads(requested: "int | None" = None) -> int:
    """Give torch `requested` intra-op threads; without a request keep what OMP_NUM_THREADS chose if
    it is set (the course runner gives each lesson its share that way; a learner may set it too),
    else default_threads(). Returns the count."""
    import torch

    if requested is None and os.environ.get("OMP_NUM_THREADS", "").strip():
        return torch.get_num_threads()
    torch.set_num_threads(requested or default_threads())
    return torch.get_num_threads()
