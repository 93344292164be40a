"""Every lesson on the GPU, where there is one: the same quick run as the smoke test, on cuda.

On a machine without CUDA this is skipped (with the reason); the claim tests pin --device cpu,
so the suite passes with or without a GPU.
"""
import pytest
import torch

from conftest import LESSON_SCRIPTS, lesson_id, run_lesson


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
@pytest.mark.parametrize("script", LESSON_SCRIPTS, ids=lesson_id)
def test_lesson_runs_quick_on_cuda(script):
    run = run_lesson(script, "--quick", "--device", "cuda")  # a subprocess, as a user starts it
    assert run.returncode == 0, run.explain()
    assert run.metrics["device"].startswith("cuda")
