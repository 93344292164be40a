# %% [markdown]
"""nn.Module from the inside: the dictionaries that hold a module's state, and how `__setattr__` fills them.

Goes with the notes' 模型创建与nn.Module, before the containers. Every module keeps its state in
dictionaries (`_parameters`, `_buffers`, `_modules` and the hook dictionaries); an assignment
`self.x = value` goes through `nn.Module.__setattr__`, which looks at the value's type: a Parameter
lands in `_parameters`, a Module in `_modules`, a Buffer in `_buffers`, anything else (a plain
tensor too) in the object's `__dict__`, where `.parameters()`, `state_dict()` and `.to()` never look.
A leaf module such as a conv layer has an empty `_modules`. Nothing is trained; LeNet stays random.

    python lesson_models/05_module_inside.py
    python -m pdb lesson_models/05_module_inside.py     # then the `b ...` line the lesson prints

A good breakpoint: inside `nn.Module.__setattr__` (torch/nn/modules/module.py; the lesson prints the
line for your torch), with the condition `name == "temperature"`, then step through the assignment.
In VS Code set "justMyCode": false in launch.json so that the debugger enters torch's code.
"""
# %%
import sys
from pathlib import Path

# This repo's `tools` and `model` first on sys.path, from any working directory. A notebook kernel
# has no file name: it runs in the lesson's folder.
LESSON_DIR = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(LESSON_DIR.parent))
from tools.errors import install_error_hook  # noqa: E402
install_error_hook()  # from here on, Ctrl-C or a bad input is one line on stderr, never a traceback

import inspect

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
from matplotlib.colors import to_rgba

from model.lenet import LeNet
from tools.cli import lesson_parser, start_lesson
from tools.figures import BLACK, BLUE, GREEN, ORANGE, VERMILLION, save_figure
from tools.metrics import record

parser = lesson_parser("lesson_models/05_module_inside.py", __doc__, default_seed=1, quick=None)
args = start_lesson(parser)
device = args.device

# The 8 dictionaries the notes list (written for an older torch); today's torch has them all, and more.
NOTES_DICTIONARIES = ("_parameters", "_buffers", "_backward_hooks", "_forward_hooks", "_forward_pre_hooks",
                      "_state_dict_hooks", "_load_state_dict_pre_hooks", "_modules")
HOMES = ("_parameters", "_modules", "_buffers", "__dict__")  # where __setattr__ can put a value


def dictionaries(module: nn.Module) -> dict:
    """{name: keys} of every dictionary nn.Module.__init__ gave `module`, in the order it made them."""
    return {name: list(value) for name, value in vars(module).items() if isinstance(value, dict)}


# %% LeNet's dictionaries: its layers in _modules, nothing of its own in _parameters
lenet = LeNet(classes=2)
lenet_dictionaries = dictionaries(lenet)
print(f"LeNet keeps its state in {len(lenet_dictionaries)} dictionaries (torch {torch.__version__}; "
      f"the notes list {len(NOTES_DICTIONARIES)}, marked *):")
for name, keys in lenet_dictionaries.items():
    kind = type(getattr(lenet, name)).__name__  # a plain dict is ordered too (since Python 3.7)
    print(f"  {'*' if name in NOTES_DICTIONARIES else ' '} {name:<30} {kind:<12} {keys}")
record("dictionary_count", len(lenet_dictionaries), headline=True)
hook_dictionaries = [name for name in lenet_dictionaries if "hook" in name]
print(f"The {len(hook_dictionaries)} hook dictionaries are empty until a hook is registered "
      f"(register_forward_hook and friends); all {len(lenet_dictionaries)} are ordered: items come back "
      "in the order they were added, which is why print(lenet) lists the layers as __init__ made them.")

# %% A leaf module: conv1 holds its weight and bias itself, and no submodules
conv1_dictionaries = dictionaries(lenet.conv1)
print(f"lenet.conv1._parameters: {conv1_dictionaries['_parameters']}, "
      f"_modules: {conv1_dictionaries['_modules']} (a leaf)")

# .parameters() finds LeNet's parameters by walking _modules and reading each module's _parameters;
# named_parameters() joins the two keys: "conv1" + "." + "weight".
layer_parameters = {name: sum(p.numel() for p in layer._parameters.values())
                    for name, layer in lenet._modules.items()}  # conv1: 6·3·5·5 + 6 = 456, ...
lenet_parameters = sum(p.numel() for p in lenet.parameters())
print(f"Parameters per submodule, read from each one's _parameters: {layer_parameters}")
print(f"lenet.parameters() walks them all: {lenet_parameters:,} parameters, "
      f"names {[name for name, _ in lenet.named_parameters()][:4]} ...")
record("lenet_parameters", lenet_parameters, headline=True)

# %% nn.Module.__setattr__ routes every assignment by the type of the value
# For the learner who steps in: the line of __setattr__ where the routing starts, in this torch.
setattr_lines, setattr_first_line = inspect.getsourcelines(nn.Module.__setattr__)
routing_line = setattr_first_line + next((i for i, line in enumerate(setattr_lines)
                                          if "isinstance(value, Parameter)" in line), 0)
print(f"Breakpoint: nn.Module.__setattr__ starts at torch/nn/modules/module.py:{setattr_first_line}; "
      f"under pdb: b torch/nn/modules/module.py:{routing_line}, name == \"temperature\"")

state_keys_before = list(lenet.state_dict())  # conv1.weight … fc3.bias: 10 keys
lenet.temperature = nn.Parameter(torch.ones(1))  # a Parameter: → _parameters, learned
lenet.head = nn.Linear(2, 2)  # a Module: → _modules (with its own weight and bias)
if hasattr(nn, "Buffer"):  # torch 2.5 or newer
    lenet.std = nn.Buffer(torch.ones(3))  # a Buffer: → _buffers, saved and moved, not learned
    buffer_statement = "lenet.std = nn.Buffer(torch.ones(3))"
else:  # an older torch has no nn.Buffer: the method every torch has puts it in the same place
    lenet.register_buffer("std", torch.ones(3))
    buffer_statement = 'lenet.register_buffer("std", torch.ones(3))'
    print(f"torch {torch.__version__} has no nn.Buffer (new in torch 2.5): {buffer_statement} instead")
lenet.mean = torch.zeros(3)  # a plain tensor: → __dict__, registered nowhere
statements = {"temperature": "lenet.temperature = nn.Parameter(torch.ones(1))",  # the lines above, for printing
              "head": "lenet.head = nn.Linear(2, 2)",
              "std": buffer_statement,
              "mean": "lenet.mean = torch.zeros(3)"}

# lenet.temperature still reads back: an attribute missing from __dict__ is looked up by
# nn.Module.__getattr__ in _parameters, _buffers and _modules.
homes = {name: next(home for home in HOMES if name in getattr(lenet, home)) for name in statements}
for name, home in homes.items():
    print(f"  {statements[name]:<48} → lenet.{home}")
record("homes", homes, headline=True)

# %% What each home means: .parameters(), state_dict() and .to() only see the registered ones
parameters_after = sum(p.numel() for p in lenet.parameters())  # + 1 (temperature) + 6 (head)
state_keys_added = [key for key in lenet.state_dict() if key not in state_keys_before]
print(f"Parameters now: {parameters_after:,} (+1 temperature, +6 head); state_dict keys added: "
      f"{state_keys_added}; 'mean' in state_dict: {'mean' in lenet.state_dict()}")

# .to() converts and moves what it can see. float16 exists on every device, so the dtype shows the
# difference even on a CPU-only computer; on a GPU the device column shows it too.
lenet.to(device, torch.float16)
after_to = {"temperature": lenet.temperature, "head.weight": lenet.head.weight, "std": lenet.std, "mean": lenet.mean}
print("After lenet.to(device, torch.float16):")
for name, tensor in after_to.items():
    print(f"  lenet.{name:<12} {str(tensor.dtype):<14} {tensor.device}")

# %% Figure: where each assignment lands, and what that home means
home_facts = {  # (in .parameters(), in state_dict, moved by .to())
    "_parameters": ("✓", "✓", "✓"), "_modules": ("✓", "✓", "✓"),
    "_buffers": ("✗", "✓", "✓"), "__dict__": ("✗", "✗", "✗"),
}
home_colours = {"_parameters": BLUE, "_modules": GREEN, "_buffers": ORANGE, "__dict__": VERMILLION}
fig, ax = plt.subplots(figsize=(11, 5))
ax.set(xlim=(0, 1), ylim=(0, 1))
ax.axis("off")
rows = [0.80, 0.58, 0.36, 0.14]  # one row per home, top to bottom
for (name, home), y in zip(homes.items(), rows):
    colour = home_colours[home]
    ax.text(0.44, y, statements[name], family="monospace", fontsize=10, ha="right", va="center",
            bbox={"boxstyle": "round,pad=0.4", "fc": to_rgba(colour, 0.08), "ec": colour})
    contents = [key for key in getattr(lenet, home) if not key.startswith("_")]  # __dict__: skip torch's own
    listed = ", ".join(contents if len(contents) <= 6 else contents[:5] + ["…"])
    on_parameters, on_state, on_to = home_facts[home]
    ax.text(0.60, y, f"lenet.{home}  {{{listed}}}\n.parameters() {on_parameters}   state_dict {on_state}   "
            f".to() {on_to}", fontsize=11, va="center", linespacing=1.6,
            bbox={"boxstyle": "round,pad=0.5", "fc": to_rgba(colour, 0.15), "ec": colour, "lw": 2})
    ax.annotate("", xy=(0.59, y), xytext=(0.455, y),
                arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2, "mutation_scale": 18})
ax.text(0.52, 0.96, "nn.Module.__setattr__\nlooks at the value's type", ha="center", va="center",
        family="monospace", fontsize=10, color=BLACK)
fig.suptitle("Where an assignment to a module lands: a plain tensor is registered nowhere")
save_figure(fig, args.out_dir, "setattr_routing",
            caption="nn.Module.__setattr__ sends a Parameter to _parameters, a Module to _modules, a Buffer to "
                    "_buffers and a plain tensor to __dict__, where .parameters(), state_dict and .to() never look.",
            show=args.show)

print(f"Summary: LeNet's {lenet_parameters:,} parameters live in its submodules' _parameters, found through "
      f"_modules; a plain tensor attribute stays {lenet.mean.dtype} on {lenet.mean.device} when the rest "
      f"moves. Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `lenet-modules-steps` (the course's: step into LeNet(classes=2)),
# `lenet-parameters` (count LeNet's parameters by hand).
# Read one with `python tools/exercises.py show lenet-modules-steps`; hand in your answer with
# `python tools/exercises.py check lenet-modules-steps "..."`.
