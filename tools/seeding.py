"""One seed for every random number generator a lesson touches."""
import os
import random

MAX_SEED = 2**32 - 1  # NumPy's legacy generator accepts seeds in [0, 2**32 - 1]


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python's `random`, NumPy, and torch on the CPU and every CUDA device.

    With `deterministic=True` PyTorch also refuses non-deterministic kernels and cuDNN stops
    benchmarking, so two runs on the same GPU give the same bits (slower, and some operations raise).
    """
    import numpy as np  # here, not at the top: the course runner reads MAX_SEED without loading torch
    import torch

    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and, lazily, every CUDA device
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        # cuBLAS needs this workspace setting to be deterministic (see torch.use_deterministic_algorithms).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
