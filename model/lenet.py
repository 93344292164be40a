"""LeNet for 32×32 RGB images, written three ways: as the notes build it in nn.Module, and with
nn.Sequential containers (positional and named layers).

All three have the same layers in the same order, hence the same 61,326 parameters for two classes
and the same output once given the same weights:

    conv(3→6, 5×5) → relu → maxpool 2    # (B, 3, 32, 32) → (B, 6, 28, 28) → (B, 6, 14, 14)
    conv(6→16, 5×5) → relu → maxpool 2   # → (B, 16, 10, 10) → (B, 16, 5, 5)
    flatten                              # → (B, 400)
    fc 400→120 → relu → fc 120→84 → relu → fc 84→classes
"""
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

FLAT_FEATURES = 16 * 5 * 5  # what the second pooling leaves of a 32×32 input: (16, 5, 5)
LINEAR_INIT_STD = 0.1  # the notes' N(0, 0.1) for the fully connected weights


def initialize_weights(module: nn.Module) -> None:
    """The notes' initialisation of every layer inside `module`.

    Conv2d: xavier_normal weights; Linear: N(0, 0.1) weights; BatchNorm2d: weight 1 and bias 0;
    every bias 0.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.xavier_normal_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, mean=0.0, std=LINEAR_INIT_STD)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class LeNet(nn.Module):
    """LeNet as the notes write it: layers built in __init__, wired together in forward."""

    def __init__(self, classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(FLAT_FEATURES, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, 32, 32)
        out = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 6, 14, 14)
        out = F.max_pool2d(F.relu(self.conv2(out)), 2)  # (B, 16, 5, 5)
        out = out.view(out.size(0), -1)  # (B, 400)
        out = F.relu(self.fc1(out))  # (B, 120)
        out = F.relu(self.fc2(out))  # (B, 84)
        return self.fc3(out)  # (B, classes): logits, CrossEntropyLoss applies the softmax

    def initialize_weights(self) -> None:
        initialize_weights(self)


class LeNetSequential(nn.Module):
    """The same network as two nn.Sequential blocks: `features` (convolutions) and `classifier`."""

    def __init__(self, classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 5),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(FLAT_FEATURES, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, 32, 32)
        out = self.features(x)  # (B, 16, 5, 5)
        out = out.view(out.size(0), -1)  # (B, 400)
        return self.classifier(out)  # (B, classes)

    def initialize_weights(self) -> None:
        initialize_weights(self)


class LeNetSequentialOrderDict(nn.Module):
    """The same again, with named layers: print(net) shows conv1, relu1, pool1, ... fc3."""

    def __init__(self, classes: int):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 6, 5)),
            ("relu1", nn.ReLU(inplace=True)),
            ("pool1", nn.MaxPool2d(kernel_size=2, stride=2)),
            ("conv2", nn.Conv2d(6, 16, 5)),
            ("relu2", nn.ReLU(inplace=True)),
            ("pool2", nn.MaxPool2d(kernel_size=2, stride=2)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(FLAT_FEATURES, 120)),
            ("relu3", nn.ReLU()),
            ("fc2", nn.Linear(120, 84)),
            ("relu4", nn.ReLU(inplace=True)),
            ("fc3", nn.Linear(84, classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, 32, 32)
        out = self.features(x)  # (B, 16, 5, 5)
        out = out.view(out.size(0), -1)  # (B, 400)
        return self.classifier(out)  # (B, classes)

    def initialize_weights(self) -> None:
        initialize_weights(self)
