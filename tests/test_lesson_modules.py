"""Claim tests of lesson_models/05–07: nn.Module from the inside, the containers, AlexNet.

Each test reads its lesson's --quick run (the same run the smoke test uses: no extra lesson process).
The `script` parameter tells conftest which --quick run to start early, so that running this file
alone starts these three lessons only.
"""
import inspect
import re

import pytest
import torch.nn as nn

from conftest import lesson_id, lesson_script

INSIDE = lesson_script("lesson_models", "05_module_inside")
CONTAINERS = lesson_script("lesson_models", "06_module_containers")
ALEXNET = lesson_script("lesson_models", "07_alexnet")

# The notes' 8 ordered dictionaries (written for an older torch): today's torch still has all of them.
NOTES_DICTIONARIES = {"_parameters", "_buffers", "_backward_hooks", "_forward_hooks", "_forward_pre_hooks",
                      "_state_dict_hooks", "_load_state_dict_pre_hooks", "_modules"}
LENET_LAYERS = {"conv1": 6 * 3 * 25 + 6, "conv2": 16 * 6 * 25 + 16, "fc1": 400 * 120 + 120,
                "fc2": 120 * 84 + 84, "fc3": 84 * 2 + 2}  # LeNet(classes=2): 61,326 in all


def finished(run):
    assert run.returncode == 0, run.explain()
    return run.metrics


@pytest.mark.parametrize("script", [INSIDE], ids=lesson_id)
def test_module_keeps_its_state_in_dictionaries(quick_runs, script):
    run = quick_runs[script]
    metrics = finished(run)
    lenet = metrics["lenet_dictionaries"]
    assert NOTES_DICTIONARIES <= set(lenet) and metrics["dictionary_count"] == len(lenet) >= len(NOTES_DICTIONARIES)
    # LeNet's own _parameters is empty: its parameters sit in the submodules that _modules holds.
    assert lenet["_parameters"] == [] and lenet["_buffers"] == []
    assert lenet["_modules"] == list(LENET_LAYERS)
    hooks = [name for name in lenet if "hook" in name]
    assert len(hooks) >= 5 and all(lenet[name] == [] for name in hooks)
    conv1 = metrics["conv1_dictionaries"]  # a leaf
    assert conv1["_parameters"] == ["weight", "bias"] and conv1["_modules"] == []
    assert metrics["layer_parameters"] == LENET_LAYERS
    assert metrics["lenet_parameters"] == sum(LENET_LAYERS.values()) == 61_326
    for name in NOTES_DICTIONARIES:  # the printed table marks the notes' dictionaries
        assert re.search(rf"^  \* {name} ", run.stdout, re.M), name


@pytest.mark.parametrize("script", [INSIDE], ids=lesson_id)
def test_setattr_routes_by_type(quick_runs, script):
    run = quick_runs[script]
    metrics = finished(run)
    assert metrics["homes"] == {"temperature": "_parameters", "head": "_modules", "std": "_buffers",
                                "mean": "__dict__"}
    assert metrics["parameters_after_assignments"] == 61_326 + 1 + 6  # temperature, head (2×2 + 2)
    assert sorted(metrics["state_dict_keys_added"]) == ["head.bias", "head.weight", "std", "temperature"]
    assert metrics["dtype_after_to"] == {"temperature": "torch.float16", "head.weight": "torch.float16",
                                         "std": "torch.float16", "mean": "torch.float32"}
    assert (run.out_dir / "setattr_routing.png").is_file()
    # The breakpoint the lesson prints is a line of this torch's nn.Module.__setattr__ where the routing starts.
    found = re.search(r"b torch/nn/modules/module\.py:(\d+), name == \"temperature\"", run.stdout)
    assert found, run.stdout
    source, first_line = inspect.getsourcelines(nn.Module.__setattr__)
    line = int(found.group(1))
    assert first_line < line < first_line + len(source)
    assert "isinstance(value, Parameter)" in source[line - first_line]


@pytest.mark.parametrize("script", [CONTAINERS], ids=lesson_id)
def test_containers_lesson(quick_runs, script):
    run = quick_runs[script]
    metrics = finished(run)
    assert metrics["lenet_parameters"] == [61_326] * 3 and metrics["lenet_max_output_difference"] == 0
    assert metrics["ordered_dict_layer_names"][:3] == ["conv1", "relu1", "pool1"]
    assert metrics["module_list_parameters"] == 20 * (10 * 10 + 10) == 2_200
    assert metrics["module_list_state_dict_entries"] == 40
    assert metrics["module_dict_conv_shape"] == [4, 10, 30, 30]
    assert metrics["module_dict_pool_shape"] == [4, 10, 10, 10]
    # The plain list: in __dict__, so no parameters, nothing saved, nothing converted by .to().
    assert metrics["plain_list_home"] == "__dict__"
    assert metrics["plain_list_parameters"] == 0 and metrics["plain_list_state_dict_entries"] == 0
    assert metrics["layers_converted_by_to"] == {"ModuleList": 20, "plain list": 0}
    assert "Plain list forward in float16 fails" in run.stdout
    assert (run.out_dir / "containers.png").is_file()


@pytest.mark.parametrize("script", [ALEXNET], ids=lesson_id)
def test_alexnet_lesson(quick_runs, script):
    run = quick_runs[script]
    metrics = finished(run)
    assert metrics["our_parameters"] == metrics["torchvision_parameters"] == 61_100_840
    assert metrics["output_shape"] == [1, 1000] and metrics["max_output_difference"] == 0
    layers = metrics["layer_parameters"]
    assert list(layers)[0] == "features.conv1" and list(layers)[-1] == "classifier.fc8" and len(layers) == 8
    assert layers["classifier.fc6"] == 256 * 6 * 6 * 4096 + 4096 == 37_752_832
    assert sum(layers.values()) == 61_100_840
    assert 0.955 < metrics["fully_connected_share"] < 0.965  # 58,631,144 / 61,100,840
    # groups=2: each output channel sees 32 of the 64 input channels, the weights halve, the biases stay.
    assert metrics["conv2_parameters"] == 192 * 64 * 25 + 192 == 307_392
    assert metrics["conv2_groups2_parameters"] == 192 * 32 * 25 + 192 == 153_792
    assert "features.pool5: (1, 256, 6, 6)" in run.stdout  # the shape table is printed, not drawn
    assert (run.out_dir / "alexnet_parameters.png").is_file()
