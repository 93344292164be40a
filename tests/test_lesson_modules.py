"""Claim tests of lesson_models/05–07: nn.Module from the inside, the containers, AlexNet.

Each lesson runs once inside this test process (run_lesson(..., in_process=True)); the tests read
what it computed from its variables and what it printed.
"""
import inspect
import re

import torch
import torch.nn as nn

from conftest import lesson_script, run_lesson

INSIDE = lesson_script("lesson_models", "05_module_inside")
CONTAINERS = lesson_script("lesson_models", "06_module_containers")
ALEXNET = lesson_script("lesson_models", "07_alexnet")

# The notes' 8 ordered dictionaries (written for an older torch): today's torch still has all of them.
NOTES_DICTIONARIES = {"_parameters", "_buffers", "_backward_hooks", "_forward_hooks", "_forward_pre_hooks",
                      "_state_dict_hooks", "_load_state_dict_pre_hooks", "_modules"}
LENET_LAYERS = {"conv1": 6 * 3 * 25 + 6, "conv2": 16 * 6 * 25 + 16, "fc1": 400 * 120 + 120,
                "fc2": 120 * 84 + 84, "fc3": 84 * 2 + 2}  # LeNet(classes=2): 61,326 in all


def finished(script):
    run = run_lesson(script, in_process=True)
    assert run.returncode == 0, run.explain()
    return run


def test_module_keeps_its_state_in_dictionaries():
    run = finished(INSIDE)
    lenet = run.variables["lenet_dictionaries"]
    assert NOTES_DICTIONARIES <= set(lenet) and run.metrics["dictionary_count"] == len(lenet)
    # LeNet's own _parameters is empty: its parameters sit in the submodules that _modules holds.
    assert lenet["_parameters"] == [] and lenet["_buffers"] == []
    assert lenet["_modules"] == list(LENET_LAYERS)
    hooks = [name for name in lenet if "hook" in name]
    assert len(hooks) >= 5 and all(lenet[name] == [] for name in hooks)
    conv1 = run.variables["conv1_dictionaries"]  # a leaf
    assert conv1["_parameters"] == ["weight", "bias"] and conv1["_modules"] == []
    assert run.variables["layer_parameters"] == LENET_LAYERS
    assert run.metrics["lenet_parameters"] == sum(LENET_LAYERS.values()) == 61_326
    for name in NOTES_DICTIONARIES:  # the printed table marks the notes' dictionaries
        assert re.search(rf"^  \* {name} ", run.stdout, re.M), name


def test_setattr_routes_by_type():
    run = finished(INSIDE)
    assert run.metrics["homes"] == {"temperature": "_parameters", "head": "_modules", "std": "_buffers",
                                    "mean": "__dict__"}
    assert run.variables["parameters_after"] == 61_326 + 1 + 6  # temperature, head (2×2 + 2)
    assert sorted(run.variables["state_keys_added"]) == ["head.bias", "head.weight", "std", "temperature"]
    dtypes = {name: tensor.dtype for name, tensor in run.variables["after_to"].items()}
    assert dtypes == {"temperature": torch.float16, "head.weight": torch.float16, "std": torch.float16,
                      "mean": torch.float32}
    # nn.Buffer where this torch has it (2.5+), register_buffer before: the lesson says which.
    spelling = "nn.Buffer(" if hasattr(nn, "Buffer") else "register_buffer("
    assert spelling in run.variables["buffer_statement"] and run.variables["buffer_statement"] in run.stdout
    assert (run.out_dir / "setattr_routing.png").is_file()
    # The breakpoint the lesson prints is a line of this torch's nn.Module.__setattr__ where the routing starts.
    found = re.search(r"b torch/nn/modules/module\.py:(\d+), name == \"temperature\"", run.stdout)
    assert found, run.stdout
    source, first_line = inspect.getsourcelines(nn.Module.__setattr__)
    line = int(found.group(1))
    assert first_line < line < first_line + len(source)
    assert "isinstance(value, Parameter)" in source[line - first_line]


def test_an_older_torch_registers_the_buffer_with_register_buffer(monkeypatch, tmp_path):
    """torch before 2.5 has no nn.Buffer: the lesson takes register_buffer, says so, and the buffer
    lands in _buffers all the same."""
    monkeypatch.delattr(nn, "Buffer", raising=False)
    run = run_lesson(INSIDE, in_process=True, out_dir=tmp_path)
    assert run.returncode == 0, run.explain()
    assert "has no nn.Buffer" in run.stdout and 'lenet.register_buffer("std", torch.ones(3))' in run.stdout
    assert run.metrics["homes"]["std"] == "_buffers" and "std" in run.variables["state_keys_added"]


def test_containers_lesson():
    run = finished(CONTAINERS)
    found = run.variables
    assert run.metrics["lenet_parameters"] == [61_326] * 3 and found["lenet_max_difference"] == 0
    assert found["named_layers"][:3] == ["conv1", "relu1", "pool1"]
    assert run.metrics["module_list_parameters"] == 20 * (10 * 10 + 10) == 2_200
    assert found["module_list_state_entries"] == 40
    assert tuple(found["conv_output"].shape) == (4, 10, 30, 30)
    assert tuple(found["pool_output"].shape) == (4, 10, 10, 10)
    # The plain list: in __dict__, so no parameters, nothing saved, nothing converted by .to().
    assert found["plain_list_home"] == "__dict__"
    assert run.metrics["plain_list_parameters"] == 0 and found["plain_list_state_entries"] == 0
    assert found["layers_converted"] == {"ModuleList": 20, "plain list": 0}
    # float16 where this torch can multiply it on the CPU, else bfloat16; the lesson says which.
    assert found["half"] in (torch.float16, torch.bfloat16)
    assert f"Plain list forward in {found['half']} fails" in run.stdout
    assert (run.out_dir / "containers.png").is_file()


def test_half_precision_falls_back_where_float16_cannot_multiply(monkeypatch):
    """The path an old torch takes (no float16 matmul on the CPU), taken here by refusing float16."""
    half_precision = finished(CONTAINERS).variables["half_precision"]
    assert half_precision(torch.device("cpu")) in (torch.float16, torch.bfloat16)
    real_forward = nn.Linear.forward

    def no_float16(self, x):
        if x.dtype == torch.float16:
            raise RuntimeError('"addmm_impl_cpu_" not implemented for \'Half\'')
        return real_forward(self, x)
    monkeypatch.setattr(nn.Linear, "forward", no_float16)
    assert half_precision(torch.device("cpu")) == torch.bfloat16


def test_alexnet_lesson():
    run = finished(ALEXNET)
    found = run.variables
    assert run.metrics["our_parameters"] == found["torchvision_parameters"] == 61_100_840
    assert tuple(found["our_output"].shape) == (1, 1000) and run.metrics["max_output_difference"] == 0
    layers = found["layer_parameters"]
    assert list(layers)[0] == "features.conv1" and list(layers)[-1] == "classifier.fc8" and len(layers) == 8
    assert layers["classifier.fc6"] == 256 * 6 * 6 * 4096 + 4096 == 37_752_832
    assert sum(layers.values()) == 61_100_840
    fully_connected = sum(count for name, count in layers.items() if name.startswith("classifier."))
    assert fully_connected == 58_631_144 and 61_100_840 - fully_connected == 2_469_696  # fc6-fc8; conv1-conv5
    assert "avgpool+flatten: (1, 9216)" in run.stdout
    assert 0.955 < run.metrics["fully_connected_share"] < 0.965  # 58,631,144 / 61,100,840
    # groups=2: each output channel sees 32 of the 64 input channels, the weights halve, the biases stay.
    assert found["conv2_parameters"] == 192 * 64 * 25 + 192 == 307_392
    assert run.metrics["conv2_groups2_parameters"] == 192 * 32 * 25 + 192 == 153_792
    assert "features.pool5: (1, 256, 6, 6)" in run.stdout  # the shape table is printed, not drawn
    assert (run.out_dir / "alexnet_parameters.png").is_file()
