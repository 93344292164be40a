"""The debugger exercises' authority: the real path through the installed PyTorch.

The learner steps into `for i, data in enumerate(train_loader)` (until RMBDataset.__getitem__)
and into `net = LeNet(classes=2)`, and writes down the Class.function steps. Here the same calls
run under sys.setprofile, which sees every Python function call, so the answer is the learner's
own torch version, not a list copied from one. A learner may skip frames; not the ones that
matter (REQUIRED), and never invent or reorder one.
"""
import sys
import tempfile
from pathlib import Path

from tools.exercise_set.answers import parse_steps, say, step_matches

# Steps that a correct list must name, wherever the installed torch has them.
DATALOADER_REQUIRED = ("DataLoader.__iter__", "_BaseDataLoaderIter.__next__", "_SingleProcessDataLoaderIter._next_data",
                       "_BaseDataLoaderIter._next_index", "_MapDatasetFetcher.fetch", "RMBDataset.__getitem__")
LENET_REQUIRED = ("LeNet.__init__", "Module.__init__", "Conv2d.__init__", "Module.__setattr__", "Linear.__init__")
# Frames a solution leaves out: helpers one steps over without losing the thread.
TRIVIAL = ("__len__", "__instancecheck__", "__getattr__", "num_samples", "_auto_collation", "_index_sampler",
           "_get_distributed_settings", "parse", "_reverse_repeat_tuple")
# Builtins a learner may write although no Python frame is entered for them.
BUILTINS = {"enumerate", "iter", "next", "for"}


def trace_calls(call, modules: tuple) -> list:
    """[(module, qualname, depth)] of every Python function entered while `call()` runs, in the
    order entered, kept only for the modules whose name starts with one of `modules`."""
    frames, depth = [], [0]

    def profile(frame, event, arg):
        if event == "call":
            depth[0] += 1
            module = frame.f_globals.get("__name__", "")
            if module.startswith(modules):
                frames.append((module, frame.f_code.co_qualname, depth[0]))
        elif event == "return":
            depth[0] -= 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(previous)
    return frames


def dataloader_trace() -> list:
    """The frames from `next(iter(train_loader))` up to the first RMBDataset.__getitem__, with the
    course's train_loader (shuffle=True) over four tiny photos per class in a temporary folder."""
    from PIL import Image
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from tools.rmb_dataset import CLASS_NAMES, RMBDataset

    with tempfile.TemporaryDirectory(prefix="exercise-rmb-") as data_dir:
        for label, name in enumerate(CLASS_NAMES):
            (Path(data_dir) / name).mkdir()
            for index in range(4):
                Image.new("RGB", (16, 8), (200 * label, 40 * index, 90)).save(Path(data_dir) / name / f"{index}.png")
        train_data = RMBDataset(data_dir, transform=transforms.Compose([transforms.Resize((32, 32)),
                                                                        transforms.ToTensor()]))
        train_loader = DataLoader(dataset=train_data, batch_size=2, shuffle=True)
        frames = trace_calls(lambda: next(iter(train_loader)), ("torch.utils.data", RMBDataset.__module__))
    stop = next(index for index, frame in enumerate(frames) if frame[1] == "RMBDataset.__getitem__")
    return frames[:stop + 1]


def lenet_trace() -> list:
    """The frames of `net = LeNet(classes=2)`."""
    from model.lenet import LeNet

    return trace_calls(lambda: LeNet(classes=2), ("torch.nn", LeNet.__module__))


def condensed(frames: list, max_depth: int = 99) -> list:
    """The frames a worked solution lists: no trivial helpers, no comprehensions, at most max_depth
    calls below the first frame."""
    top = min(frame[2] for frame in frames)
    return [frame for frame in frames
            if frame[2] - top < max_depth and "<" not in frame[1] and frame[1].rpartition(".")[2] not in TRIVIAL]


def spell(frames: list) -> str:
    """One step per line, indented by call depth."""
    top = min(frame[2] for frame in frames)
    return "\n".join("  " * (depth - top) + qualname for _, qualname, depth in frames)


def check_steps(text: str, frames: list, required: tuple, goal: str) -> "str | None":
    """None if the learner's steps follow `frames` in order and name every required step that the
    installed torch has; else what is wrong."""
    steps = [step for step in parse_steps(text) if step[1] or step[2] not in BUILTINS]
    if not steps:
        return say("no steps found: write one Class.function per line (or separated by ->)",
                   "没有找到步骤：每行写一个 类名.函数名（或用 -> 分隔）")
    position, named = 0, set()
    for step in steps:
        found = next((index for index in range(position, len(frames)) if _names(step, frames[index])), None)
        if found is None:
            previous = frames[position - 1][1] if position else None
            return say(f"'{step[0]}' is not on the path{f' after {previous}' if previous else ''} {goal} in "
                       "your torch (misnamed, out of order, or past the end)",
                       f"'{step[0]}' 不在你的 torch 的这条调用路径上{f'（在 {previous} 之后）' if previous else ''}"
                       "：名字不对、顺序不对，或超出了终点")
        named.add(frames[found][1])
        position = found + 1
    present = {frame[1] for frame in frames}
    missing = [name for name in required if name in present and name not in named]
    if missing:
        return say(f"a step that matters is missing: {missing[0]} (step into it, do not step over it)",
                   f"缺少一个关键步骤：{missing[0]}（用 step into 进入它，而不是 step over）")
    return None


def _names(step, frame) -> bool:
    module, qualname, _ = frame
    if not step[1]:  # 'LeNet' alone: calling a class enters its __init__
        owner = qualname.rpartition(".")[0].rpartition(".")[2].lower()
        if qualname.endswith(".__init__") and step[2] == owner.replace("_", ""):
            return True
    return step_matches(step, (module, qualname))
