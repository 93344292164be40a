"""metrics.json: a lesson's headline numbers, for the reader, the tests and the course runner."""
import json
import math
import numbers
from pathlib import Path

import numpy as np
import torch

METRICS_FILE = "metrics.json"


def to_json_value(value):
    """Plain Python numbers, strings, lists and dicts from tensors, NumPy values and tuples.

    NaN and infinity (a diverged run) become None: JSON has no spelling for them.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()  # a 0-d tensor gives a Python number
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, str, numbers.Integral)):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"metrics.json cannot hold a {type(value).__name__}: {value!r}")


def write_metrics(out_dir: Path, metrics: dict) -> Path:
    """Write out_dir/metrics.json and return its path."""
    path = Path(out_dir) / METRICS_FILE
    path.write_text(json.dumps(to_json_value(metrics), indent=2) + "\n", encoding="utf-8")
    return path


def read_metrics(out_dir: Path) -> dict:
    return json.loads((Path(out_dir) / METRICS_FILE).read_text(encoding="utf-8"))
