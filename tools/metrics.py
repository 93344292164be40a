"""metrics.json: a lesson's numbers, for the reader, the tests and the course runner.

A lesson records a number where it prints it, and marks the few that are its headline (what the
course runner's table and the gallery show first):

    print(f"Stopped at iteration {iteration}")
    record("stop_iteration", iteration, headline=True)

Every record rewrites out_dir/metrics.json at once (flat keys; numbers, strings, lists), so there is
no block at the end of a lesson, and a run that fails halfway leaves what it had measured.
The key "headline" lists the headline keys in the order they were recorded.
"""
import contextlib
import hashlib
import json
import math
import numbers
import os
from pathlib import Path

from tools.errors import fail

METRICS_FILE = "metrics.json"
HEADLINE_KEY = "headline"
FIGURES_FILE = "figures.json"  # written by tools.figures: [{"file", "caption"}] in the order saved

_current = {"out_dir": None, "metrics": {}}  # the running lesson's out-dir and what it recorded


def to_json_value(value):
    """Plain Python numbers, strings, lists and dicts from tensors, NumPy values and tuples.

    NaN and infinity (a diverged run) become None: JSON has no spelling for them.
    """
    import numpy as np  # here, not at the top: the course runner reads metrics without loading torch
    import torch

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


def write_whole(path: Path, write) -> Path:
    """Write a file of the out-dir whole or not at all, and return its path.

    `write(temporary_path)` writes a hidden file beside `path` (same folder, same suffix), which then
    replaces `path` in one step (os.replace): a reader never sees half a file, and a full disk, a
    Ctrl-C or a crash leaves the previous file (or none), never a truncated one. A full disk or a
    folder we may not write is one line naming the file and --out-dir, exit status 2.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        fail(f"--out-dir {path.parent}: cannot write {path.name} ({error.strerror or error})")
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)  # gone already once os.replace has run
    return path


def write_json(path: Path, value, ensure_ascii: bool = True) -> Path:
    """`value` as indented JSON in `path` (UTF-8), written whole (see write_whole)."""
    text = json.dumps(value, indent=2, ensure_ascii=ensure_ascii) + "\n"
    return write_whole(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_metrics(out_dir: Path, metrics: dict) -> Path:
    """Write out_dir/metrics.json (whole, or not at all) and return its path."""
    return write_json(Path(out_dir) / METRICS_FILE, to_json_value(metrics))


def read_metrics(out_dir: Path) -> dict:
    return json.loads((Path(out_dir) / METRICS_FILE).read_text(encoding="utf-8"))


def start_metrics(out_dir: Path, **first) -> None:
    """Begin a fresh metrics.json in out_dir (an older one is replaced), holding `first`."""
    _current["out_dir"] = Path(out_dir)
    _current["metrics"] = {HEADLINE_KEY: []}
    for key, value in first.items():
        _current["metrics"][key] = to_json_value(value)
    write_metrics(out_dir, _current["metrics"])


def record(key: str, value, headline: bool = False) -> None:
    """Keep `value` under `key` in metrics.json, written now."""
    if _current["out_dir"] is None:
        raise RuntimeError("record() before start_lesson(): there is no out-dir to write metrics.json to")
    if key == HEADLINE_KEY:
        raise ValueError(f"{HEADLINE_KEY!r} is reserved for the list of headline keys")
    metrics = _current["metrics"]
    metrics[key] = to_json_value(value)
    if headline and key not in metrics[HEADLINE_KEY]:
        metrics[HEADLINE_KEY].append(key)
    write_metrics(_current["out_dir"], metrics)


def read_figures(out_dir: Path) -> list:
    """[{"file", "caption"}] of a lesson's out-dir, in the order it saved them ([] if none)."""
    path = Path(out_dir) / FIGURES_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def headline_numbers(metrics: dict) -> dict:
    """{key: value} of the keys a lesson marked as headline, in its order."""
    return {key: metrics[key] for key in metrics.get(HEADLINE_KEY, []) if key in metrics}


def file_sha256(path: "str | Path") -> str:
    """The SHA-256 of a file's bytes in hex (what sha256sum prints), read in blocks: a course's GIFs
    are megabytes. The generator's marker, a split's split.json and the course runner's record all
    list what they wrote with it, so that a clean-up removes a file only while it is still theirs."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
