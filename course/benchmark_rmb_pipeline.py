"""Benchmark: the course's decode-every-epoch RMBDataset against RMBDataset(resize_once=(32, 32)).

    python course/benchmark_rmb_pipeline.py [--data-dir data/rmb_split] [--epochs 10] [--seed 1]

Both pipelines train LeNet(2) for 10 epochs on the same split with the same seed, in this one
process, as lesson_models/02_train_lenet.py does (batch 16, SGD lr 0.01 momentum 0.9), validating
after each epoch. Each time covers building the datasets and the whole training loop, so
resize_once pays for its one decode of every photo. Given the same seed both see the same pixels
and the same random crops, so their accuracies must be equal. Target: resize_once takes at most
a fifth of the time. Without data/rmb_split, the split is prepared first (synthetic photos drawn if
data/RMB_data is missing), as lesson 02 does. Timings depend on the machine and on what else runs.
A bad flag or folder is one line on stderr (exit 2); Ctrl-C or SIGTERM at any moment, "interrupted" (130).
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.errors import install_error_hook  # noqa: E402
if __name__ == "__main__":
    install_error_hook()  # before torch is imported: Ctrl-C during the imports is "interrupted" too

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from torchvision import transforms  # noqa: E402

from model.lenet import LeNet  # noqa: E402
from tools import DATA_DIR  # noqa: E402
from tools.cli import LessonArgumentParser, folder_path, positive_int, seed_int  # noqa: E402
from tools.rmb_dataset import NORM_MEAN, NORM_STD, RMBDataset  # noqa: E402
from tools.errors import fail  # noqa: E402
from tools.rmb_prepare import ensure_rmb_split, existing_folder  # noqa: E402
from tools.seeding import set_seed  # noqa: E402

IMAGE_SIZE = (32, 32)
TARGET_RATIO = 1 / 5


def train(split_dir: Path, resize_once, epochs: int, seed: int) -> dict:
    set_seed(seed)
    start = time.perf_counter()
    train_transform = transforms.Compose([transforms.Resize(IMAGE_SIZE), transforms.RandomCrop(32, padding=4),
                                          transforms.ToTensor(), transforms.Normalize(NORM_MEAN, NORM_STD)])
    valid_transform = transforms.Compose([transforms.Resize(IMAGE_SIZE), transforms.ToTensor(),
                                          transforms.Normalize(NORM_MEAN, NORM_STD)])
    train_loader = DataLoader(RMBDataset(split_dir / "train", train_transform, resize_once), batch_size=16,
                              shuffle=True)
    valid_loader = DataLoader(RMBDataset(split_dir / "valid", valid_transform, resize_once), batch_size=16)
    net = LeNet(2)
    net.initialize_weights()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    for _ in range(epochs):
        net.train()
        correct = total = 0
        for inputs, labels in train_loader:
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct += (outputs.argmax(1) == labels).sum().item()
            total += labels.numel()
        net.eval()
        valid_correct = valid_total = 0
        with torch.no_grad():
            for inputs, labels in valid_loader:
                valid_correct += (net(inputs).argmax(1) == labels).sum().item()
                valid_total += labels.numel()
    return {"seconds": time.perf_counter() - start, "train_acc": correct / total,
            "valid_acc": valid_correct / valid_total}


def main(argv=None) -> None:
    parser = LessonArgumentParser(prog="benchmark_rmb_pipeline.py", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=folder_path, default=None, metavar="DIR",
                        help="a split to time (default: data/rmb_split, made first if it is missing)")
    parser.add_argument("--epochs", type=positive_int, default=10, metavar="N", help="default: 10")
    parser.add_argument("--seed", type=seed_int, default=1, help="default: 1")
    args = parser.parse_args(argv)
    if args.data_dir is None:
        args.data_dir = DATA_DIR / "rmb_split"
        ensure_rmb_split(args.data_dir, DATA_DIR / "RMB_data", may_generate=True, quick=False)
    elif not existing_folder(args.data_dir, "--data-dir"):  # a split the user names is used as it is
        fail(f"--data-dir {args.data_dir}: no such folder (expected {args.data_dir}/train, valid and test)")

    sample = RMBDataset(args.data_dir / "train").samples[0][0]
    # One thread: the times compare the pipelines, not how the OS shares cores with other work
    # (on an idle two-core machine LeNet trains as fast on one thread as on two).
    torch.set_num_threads(1)
    with Image.open(sample) as photo:
        size = photo.size
    print(f"Data: {args.data_dir} (photos like {sample.name}: {size[0]}×{size[1]}); {args.epochs} epochs, "
          f"seed {args.seed}, torch threads {torch.get_num_threads()}")
    every_epoch = train(args.data_dir, None, args.epochs, args.seed)
    print(f"decode every epoch (resize_once=None):      {every_epoch['seconds']:6.2f} s   "
          f"train acc {every_epoch['train_acc']:.2%}   valid acc {every_epoch['valid_acc']:.2%}")
    once = train(args.data_dir, IMAGE_SIZE, args.epochs, args.seed)
    print(f"decode once (resize_once=(32, 32)):         {once['seconds']:6.2f} s   "
          f"train acc {once['train_acc']:.2%}   valid acc {once['valid_acc']:.2%}")
    ratio = once["seconds"] / every_epoch["seconds"]
    same = every_epoch["train_acc"] == once["train_acc"] and every_epoch["valid_acc"] == once["valid_acc"]
    print(f"ratio once / every epoch: {ratio:.3f} (1/{1 / ratio:.1f}); target ≤ {TARGET_RATIO:.2f}: "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}; same accuracy: {same}")


if __name__ == "__main__":
    main()
