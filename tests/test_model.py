"""model/: parameter counts, output shapes, the initialisation, and AlexNet's weight transfer."""
import pytest
import torch
import torch.nn as nn
import torchvision

from model.alexnet import AlexNet
from model.lenet import LeNet, LeNetSequential, LeNetSequentialOrderDict, initialize_weights

LENETS = (LeNet, LeNetSequential, LeNetSequentialOrderDict)


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("network", LENETS)
def test_lenet_parameters_and_shape(network):
    net = network(2)
    assert count(net) == 61_326
    assert net(torch.randn(4, 3, 32, 32)).shape == (4, 2)
    assert network(10)(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_three_lenets_compute_the_same_function():
    torch.manual_seed(0)
    reference = LeNet(2)
    images = torch.randn(5, 3, 32, 32)
    for network in LENETS[1:]:
        net = network(2)
        assert not torch.allclose(net(images), reference(images))  # different random weights first
        with torch.no_grad():
            for target, source in zip(net.parameters(), reference.parameters()):
                target.copy_(source)
        torch.testing.assert_close(net(images), reference(images), rtol=0, atol=0)


def test_ordered_dict_names():
    net = LeNetSequentialOrderDict(2)
    assert [n for n, _ in net.features.named_children()] == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
    assert [n for n, _ in net.classifier.named_children()] == ["fc1", "relu3", "fc2", "relu4", "fc3"]
    assert "conv1" in str(net) and "fc3" in str(net)


def test_initialize_weights():
    torch.manual_seed(0)
    net = LeNet(2)
    net.initialize_weights()
    for layer in (net.conv1, net.conv2, net.fc1, net.fc2, net.fc3):
        assert torch.count_nonzero(layer.bias) == 0
    assert 0.09 < net.fc1.weight.std().item() < 0.11  # N(0, 0.1), 48,000 samples
    # xavier_normal: std = sqrt(2 / (fan_in + fan_out)) = sqrt(2 / (6·25 + 16·25)) for conv2
    expected = (2 / (6 * 25 + 16 * 25)) ** 0.5
    assert abs(net.conv2.weight.std().item() - expected) < 0.15 * expected
    batch_norm = nn.Sequential(nn.BatchNorm2d(3))
    nn.init.constant_(batch_norm[0].weight, 5.0)
    nn.init.constant_(batch_norm[0].bias, 5.0)
    initialize_weights(batch_norm)
    assert torch.all(batch_norm[0].weight == 1) and torch.all(batch_norm[0].bias == 0)


@pytest.fixture(scope="module")
def alexnets():
    torch.manual_seed(0)
    return torchvision.models.AlexNet(), AlexNet()


def test_alexnet_parameters_and_names(alexnets):
    reference, ours = alexnets
    assert count(ours) == count(reference) == 61_100_840
    assert count(ours.classifier.fc6) == 37_752_832
    assert [n for n, _ in ours.features.named_children()][:3] == ["conv1", "relu1", "pool1"]
    assert ours.classifier.dropout6.p == ours.classifier.dropout7.p == 0.5


def test_alexnet_weight_transfer(alexnets):
    reference, ours = alexnets
    image = torch.randn(1, 3, 224, 224)
    reference.eval()
    ours.eval()
    with torch.no_grad():
        before = ours(image)
        ours.load_torchvision_state_dict(reference.state_dict())
        after, expected = ours(image), reference(image)
    assert after.shape == (1, 1000)
    assert not torch.allclose(before, expected)  # the transfer is what made them equal
    torch.testing.assert_close(after, expected, rtol=0, atol=0)


def test_alexnet_transfer_refuses_wrong_state_dicts(alexnets):
    reference, ours = alexnets
    state = reference.state_dict()
    with pytest.raises(KeyError):
        ours.load_torchvision_state_dict({**state, "features.1.weight": torch.zeros(1)})
    with pytest.raises(RuntimeError):  # a missing tensor is not silently skipped
        ours.load_torchvision_state_dict({k: v for k, v in state.items() if k != "classifier.6.bias"})
