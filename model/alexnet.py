"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012) with named layers, the same network as
torchvision's `alexnet()`: 61,100,840 parameters for 1,000 classes, (B, 3, 224, 224) → (B, 1000).

torchvision numbers its layers (`features.0`, `classifier.6`); here they have names (`features.conv1`,
`classifier.fc8`), so that `print(net)` reads like the paper. `load_torchvision_state_dict` renames
torchvision's weights onto ours, after which both networks compute the same function.

The original ran on two GTX 580 GPUs with 3 GB each: most layers were split into two halves, one per
GPU, that only talked to each other at conv3 and the fully connected layers. torchvision's version
(the "one weird trick" variant) runs on one device, with 64/192/384/256/256 channels instead of the
paper's 96/256/384/384/256.
"""
from collections import OrderedDict

import torch
import torch.nn as nn

# torchvision's positional names → ours. Only layers with weights appear (ReLU, pooling and dropout
# have none).
TORCHVISION_TO_NAMED = {
    "features.0": "features.conv1",
    "features.3": "features.conv2",
    "features.6": "features.conv3",
    "features.8": "features.conv4",
    "features.10": "features.conv5",
    "classifier.1": "classifier.fc6",
    "classifier.4": "classifier.fc7",
    "classifier.6": "classifier.fc8",
}


class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2)),  # (B, 64, 55, 55)
            ("relu1", nn.ReLU(inplace=True)),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),  # (B, 64, 27, 27)
            ("conv2", nn.Conv2d(64, 192, kernel_size=5, padding=2)),  # (B, 192, 27, 27)
            ("relu2", nn.ReLU(inplace=True)),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),  # (B, 192, 13, 13)
            ("conv3", nn.Conv2d(192, 384, kernel_size=3, padding=1)),  # (B, 384, 13, 13)
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(384, 256, kernel_size=3, padding=1)),  # (B, 256, 13, 13)
            ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(256, 256, kernel_size=3, padding=1)),  # (B, 256, 13, 13)
            ("relu5", nn.ReLU(inplace=True)),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),  # (B, 256, 6, 6)
        ]))
        # Makes the classifier's input (B, 256, 6, 6) whatever the image size (at least 63×63).
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(OrderedDict([
            ("dropout6", nn.Dropout(p=dropout)),
            ("fc6", nn.Linear(256 * 6 * 6, 4096)),  # 37,752,832 of the 61,100,840 parameters
            ("relu6", nn.ReLU(inplace=True)),
            ("dropout7", nn.Dropout(p=dropout)),
            ("fc7", nn.Linear(4096, 4096)),
            ("relu7", nn.ReLU(inplace=True)),
            ("fc8", nn.Linear(4096, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, 224, 224)
        out = self.features(x)  # (B, 256, 6, 6)
        out = self.avgpool(out)  # (B, 256, 6, 6)
        out = torch.flatten(out, 1)  # (B, 9216)
        return self.classifier(out)  # (B, num_classes)

    def load_torchvision_state_dict(self, state_dict: dict) -> None:
        """Load the state_dict of torchvision's `AlexNet()` (or `alexnet(weights=...)`) into this net.

        Every key is renamed (`features.0.weight` → `features.conv1.weight`) and loaded strictly:
        a missing, extra or mis-shaped tensor is an error, never silently skipped.
        """
        renamed = {}
        for key, tensor in state_dict.items():
            layer, _, parameter = key.rpartition(".")
            if layer not in TORCHVISION_TO_NAMED:
                raise KeyError(f"{key!r} is not a parameter of torchvision's AlexNet")
            renamed[f"{TORCHVISION_TO_NAMED[layer]}.{parameter}"] = tensor
        self.load_state_dict(renamed, strict=True)
