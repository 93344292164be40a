# %% [markdown]
"""Train LeNet to tell 1-yuan from 100-yuan notes: the five steps of training, then inference.

The notes' RMB example (人民币二分类) in the notes' order: 1 data (RMBDataset, transforms, DataLoader),
2 model (LeNet), 3 loss, 4 optimizer (SGD, StepLR), 5 iterate (train an epoch, validate, repeat);
then the curves, and inference as create_module does it: one photo at a time, "模型获得X元".

    python lesson_models/02_train_lenet.py                 # runs 01 first if there is no split yet
    python lesson_models/02_train_lenet.py --predict DIR   # then reads your photos in DIR (and DIR/1, DIR/100)

Breakpoints: RMBDataset.__getitem__ (tools/rmb_dataset.py), or `loss = criterion(outputs, labels)` below.
"""
# %%
import math
import sys
import time
from pathlib import Path

# This repo's `tools` and `model` first on sys.path, from any working directory. A notebook kernel
# has no __file__: it runs in the lesson's folder.
LESSON_DIR = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(LESSON_DIR.parent))
from tools.errors import install_error_hook  # noqa: E402
install_error_hook()  # from here on, Ctrl-C or a bad input is one line on stderr, never a traceback

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader
from torchvision import transforms

from model.lenet import LeNet
from tools.cli import folder_path, learning_rate, lesson_parser, positive_int, start_lesson
from tools.figures import BLUE, GREY, VERMILLION, draw_photo_grid, save_figure
from tools.images import open_rgb, transform_invert
from tools.lenet_training import stop_if_diverged
from tools.metrics import record
from tools.rmb_dataset import CLASS_NAMES, NORM_MEAN, NORM_STD, RMBDataset, labelled_image_files
from tools.rmb_prepare import add_split_flags, prepare_split

NOTES_LR = 0.01
parser = lesson_parser("lesson_models/02_train_lenet.py", __doc__, default_seed=1,
                       quick="5 epochs on 200 small photos")
add_split_flags(parser)  # --data-dir, --raw-dir
parser.add_argument("--predict", type=folder_path, default=None, metavar="DIR",
                    help="then read the photos in DIR and its subfolders")
parser.add_argument("--epochs", type=positive_int, default=None, metavar="N", help="default: 10; 5 with --quick")
parser.add_argument("--batch-size", type=positive_int, default=16, metavar="N", help="default: 16")
parser.add_argument("--lr", type=learning_rate, default=NOTES_LR, help=f"learning rate (default: {NOTES_LR})")
parser.add_argument("--val-interval", type=positive_int, default=1, metavar="N",
                    help="validate every N epochs (default: 1)")
parser.add_argument("--decode-every-epoch", action="store_true",
                    help="decode each photo every epoch, as the course (slow)")
args = start_lesson(parser)
device = args.device

MAX_EPOCH = args.epochs or (5 if args.quick else 10)
BATCH_SIZE = args.batch_size
LR = args.lr
LOG_INTERVAL = 10  # print the training line every 10 iterations, as the notes do
VAL_INTERVAL = args.val_interval
IMAGE_SIZE = (32, 32)  # the input size LeNet is built for

# %% Step 1/5: data
split_dir, source = prepare_split(args)  # --data-dir, or data/rmb_split (made by running 01 if missing)
print(f"Data: {split_dir} ({source} photos)")
record("data_source", source)  # the gallery says which photos the numbers are of

train_transform = transforms.Compose([
    transforms.Resize(IMAGE_SIZE),
    transforms.RandomCrop(32, padding=4),  # pad 4 pixels, crop 32×32 back: a random shift, new each epoch
    transforms.ToTensor(),  # (3, 32, 32) floats in [0, 1]
    transforms.Normalize(NORM_MEAN, NORM_STD),  # ImageNet's mean and std, as in the notes
])
valid_transform = transforms.Compose([
    transforms.Resize(IMAGE_SIZE),
    transforms.ToTensor(),
    transforms.Normalize(NORM_MEAN, NORM_STD),
])

# The course decodes each ~1200×600 photo again on every epoch, only to shrink it to 32×32: that is
# where its time goes. resize_once=(32, 32) decodes and shrinks each photo once, when the Dataset is
# made; the transform still runs on every __getitem__ (RandomCrop draws new crops every epoch).
resize_once = None if args.decode_every_epoch else IMAGE_SIZE
train_data = RMBDataset(data_dir=split_dir / "train", transform=train_transform, resize_once=resize_once)
valid_data = RMBDataset(data_dir=split_dir / "valid", transform=valid_transform, resize_once=resize_once)
train_loader = DataLoader(dataset=train_data, batch_size=BATCH_SIZE, shuffle=True)
valid_loader = DataLoader(dataset=valid_data, batch_size=BATCH_SIZE)
print(f"train {len(train_data)}, valid {len(valid_data)} photos; {len(train_loader)} iterations per epoch; "
      f"{'decoding every photo every epoch' if resize_once is None else 'photos decoded once'}")

# Your photos for --predict, read now: a bad folder or photo stops the run before training, not after.
# [(path, label or None)]: photos in DIR and in its subfolders; a subfolder named 1 or 100 (the course's
# test_data/100/100.jpg) says what the photo is, so those are also scored.
predict_files = labelled_image_files(args.predict, "--predict") if args.predict else []
predict_inputs = [valid_transform(open_rgb(path, "--predict photo")) for path, _ in predict_files]  # (3, 32, 32) each

# %% Step 2/5: model
net = LeNet(classes=2)
net.initialize_weights()  # xavier_normal convolutions, N(0, 0.1) linear layers, zero biases
net.to(device)

# %% Step 3/5: loss function
criterion = nn.CrossEntropyLoss()  # softmax + negative log-likelihood, on the (B, 2) logits

# %% Step 4/5: optimizer
optimizer = optim.SGD(net.parameters(), lr=LR, momentum=0.9)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)  # lr × 0.1 every 10 epochs

# %% Step 5/5: iterate
LR_ADVICE = f"--lr {LR:g} is too large, try --lr {min(NOTES_LR, LR / 10):g}"  # what a diverged run says
train_curve = []  # the loss of every iteration
train_loss_per_epoch, train_acc_per_epoch = [], []
valid_epochs, valid_curve, valid_acc_per_epoch = [], [], []  # after every VAL_INTERVAL-th epoch
iterations_per_epoch = len(train_loader)
images_seen = 0
start = time.perf_counter()

for epoch in range(MAX_EPOCH):
    loss_mean, correct, total = 0.0, 0, 0
    net.train()
    for i, (inputs, labels) in enumerate(train_loader):
        inputs, labels = inputs.to(device), labels.to(device)  # (B, 3, 32, 32), (B,)
        outputs = net(inputs)  # (B, 2)

        optimizer.zero_grad()
        loss = criterion(outputs, labels)
        stop_if_diverged(loss.item(), f"training loss at epoch {epoch}, iteration {i + 1}", LR_ADVICE)
        loss.backward()
        optimizer.step()

        predicted = outputs.argmax(dim=1)  # (B,)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
        images_seen += labels.size(0)

        train_curve.append(loss.item())
        loss_mean += loss.item()
        if (i + 1) % LOG_INTERVAL == 0 or i + 1 == iterations_per_epoch:
            loss_mean /= (i % LOG_INTERVAL) + 1  # the mean over the iterations since the last line
            print(f"Training:Epoch[{epoch:0>3}/{MAX_EPOCH:0>3}] Iteration[{i + 1:0>3}/{iterations_per_epoch:0>3}] "
                  f"Loss: {loss_mean:.4f} Acc:{correct / total:.2%}")
            loss_mean = 0.0
    train_loss_per_epoch.append(sum(train_curve[-iterations_per_epoch:]) / iterations_per_epoch)
    train_acc_per_epoch.append(correct / total)
    scheduler.step()

    if (epoch + 1) % VAL_INTERVAL == 0:
        valid_correct, valid_total, valid_loss_sum = 0, 0, 0.0
        net.eval()
        with torch.no_grad():
            for inputs, labels in valid_loader:
                inputs, labels = inputs.to(device), labels.to(device)
                outputs = net(inputs)
                valid_loss_sum += criterion(outputs, labels).item()
                valid_total += labels.size(0)
                valid_correct += (outputs.argmax(dim=1) == labels).sum().item()
                images_seen += labels.size(0)
        valid_loss = valid_loss_sum / len(valid_loader)  # a mean, not the course's sum of batch losses
        valid_acc = valid_correct / valid_total  # the valid accuracy (the course printed train's)
        stop_if_diverged(valid_loss, f"valid loss after epoch {epoch} (iteration {(epoch + 1) * iterations_per_epoch})",
                         LR_ADVICE)
        valid_epochs.append(epoch)
        valid_curve.append(valid_loss)
        valid_acc_per_epoch.append(valid_acc)
        print(f"Valid:\t Epoch[{epoch:0>3}/{MAX_EPOCH:0>3}] Iteration[{len(valid_loader):0>3}/{len(valid_loader):0>3}] "
              f"Loss: {valid_loss:.4f} Acc:{valid_acc:.2%}")

seconds = time.perf_counter() - start
images_per_second = images_seen / seconds
print(f"{MAX_EPOCH} epochs in {seconds:.2f} s ({images_per_second:.0f} images/s on this machine, now)")
record("train_acc", train_acc_per_epoch[-1])
if valid_epochs:
    record("valid_acc", valid_acc_per_epoch[-1], headline=True)

# %% Curves: train loss per iteration, valid loss per epoch, on one x-axis
# Iteration k (counting from 1) ends at x = k; the validation after epoch e runs once the epoch's
# last iteration is done, so it sits at x = (e + 1) × iterations_per_epoch, above that iteration.
epoch_ends = [(epoch + 1) * iterations_per_epoch for epoch in range(MAX_EPOCH)]
fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(10, 8), height_ratios=(1, 1.2), layout="constrained")
for x in epoch_ends[:-1]:
    ax_loss.axvline(x, color=GREY, lw=0.6, alpha=0.5)
ax_loss.plot(range(1, len(train_curve) + 1), train_curve, color=BLUE, lw=1, alpha=0.6,
             label="train, each iteration")
ax_loss.plot(epoch_ends, train_loss_per_epoch, "o-", color=BLUE, label="train, mean of the epoch")
ax_loss.plot([epoch_ends[epoch] for epoch in valid_epochs], valid_curve, "s-", color=VERMILLION,
             label="valid, mean after the epoch")
ax_loss.set(xlabel=f"iteration (grey lines: epoch ends, {iterations_per_epoch} iterations each)",
            ylabel="cross-entropy loss", title="Loss")
ax_loss.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
ax_acc.plot(range(MAX_EPOCH), [100 * a for a in train_acc_per_epoch], "o-", color=BLUE,
            label="train (random crops, during the epoch)")
ax_acc.plot(valid_epochs, [100 * a for a in valid_acc_per_epoch], "s-", color=VERMILLION,
            label="valid (after the epoch)")
accuracy_floor = min(80, 5 * math.floor(100 * min(train_acc_per_epoch + valid_acc_per_epoch) / 5))
ax_acc.set(xlabel="epoch (as in the log: Epoch[000] is the first)", ylabel="accuracy (%)",
           ylim=(accuracy_floor, 101), title="Accuracy (one valid photo is "
           f"{100 / len(valid_data):.0f} %)")
ax_acc.set_xticks(range(MAX_EPOCH))
ax_acc.grid(axis="y", alpha=0.3)
ax_acc.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
fig.suptitle(f"LeNet on {source} banknote photos ({len(train_data)} train, {len(valid_data)} valid)")
save_figure(fig, args.out_dir, "loss_curves", show=args.show,
            caption="Training loss per iteration and per epoch, validation loss and accuracy after each epoch.")

# %% Inference, as the notes' create_module does it: the test photos one at a time
test_data = RMBDataset(data_dir=split_dir / "test", transform=valid_transform)
test_loader = DataLoader(dataset=test_data, batch_size=1)
net.eval()
test_images, test_predictions, test_labels = [], [], []
with torch.no_grad():
    for (inputs, labels), (path, _) in zip(test_loader, test_data.samples):
        outputs = net(inputs.to(device))  # (1, 2)
        predicted = outputs.argmax(dim=1).item()  # 0 or 1: the class index
        yuan = CLASS_NAMES[predicted]
        print(f"{path.parent.name}/{path.name}: 模型获得{yuan}元 (the model read {yuan} yuan)")
        test_images.append(inputs[0])
        test_predictions.append(predicted)
        test_labels.append(labels.item())
test_wrong = [index for index, (p, t) in enumerate(zip(test_predictions, test_labels)) if p != t]
test_acc = 1 - len(test_wrong) / len(test_labels)
wrong_names = [f"{path.parent.name}/{path.name}" for path, _ in (test_data.samples[index] for index in test_wrong)]
print(f"Test: {test_acc:.2%} of {len(test_labels)} photos right; wrong: {wrong_names or 'none'}")
record("test_acc", test_acc, headline=True)

# The photos as the network saw them (Normalize and ToTensor undone, 32×32), with what it read.
COLUMNS, shown = 10, min(len(test_images), 40)
fig = plt.figure(figsize=(12, 1.55 * math.ceil(shown / COLUMNS) + 0.7), layout="constrained")
draw_photo_grid(fig, [transform_invert(image, valid_transform) for image in test_images[:shown]], columns=COLUMNS,
                titles=[f"✗ read {CLASS_NAMES[p]}\n(is {CLASS_NAMES[t]})" if p != t else f"read {CLASS_NAMES[p]}"
                        for p, t in zip(test_predictions, test_labels)],
                colours=[VERMILLION if index in test_wrong else BLUE for index in range(shown)], marked=test_wrong)
verdict = f"{len(test_wrong)} of {len(test_labels)} read wrong (✗)" if test_wrong else f"all {len(test_labels)} read right"
fig.suptitle(f"Test photos as LeNet sees them (32×32): {verdict}")
save_figure(fig, args.out_dir, "test_predictions", show=args.show,
            caption="The test photos at the network's 32×32, with the denomination it read; wrong ones marked ✗.")

# %% Your own photos (--predict DIR): the same, one photo at a time
predict_right, predict_known = 0, 0  # over the photos whose subfolder names their class
with torch.no_grad():
    for inputs, (path, label) in zip(DataLoader(predict_inputs, batch_size=1), predict_files):  # inputs (1, 3, 32, 32)
        predicted = net(inputs.to(device)).argmax(dim=1).item()
        yuan = CLASS_NAMES[predicted]
        print(f"{path.relative_to(args.predict).as_posix()}: 模型获得{yuan}元 (the model read {yuan} yuan)")
        if label is not None:
            predict_known += 1
            predict_right += predicted == label
if predict_known:
    print(f"--predict: {predict_right / predict_known:.2%} of the {predict_known} photos in class folders "
          f"({', '.join(CLASS_NAMES)}) right")
    record("predict_acc", predict_right / predict_known)

# %% Summary
print(f"Summary: {MAX_EPOCH} epochs, train {train_acc_per_epoch[-1]:.2%}, "
      + (f"valid {valid_acc_per_epoch[-1]:.2%}, " if valid_epochs else "")
      + f"test {test_acc:.2%} in {seconds:.1f} s. Outputs in {args.out_dir}")

# %% [markdown]
# **Exercises** (作业): `dataloader-steps` (the course's: step into the DataLoader until RMBDataset.__getitem__),
# `own-dataset` (the course's: a Dataset for your own two classes of photos).
# Read one with `python tools/exercises.py show dataloader-steps`; hand in your answer with
# `python tools/exercises.py check dataloader-steps "..."`
# (a file: `python tools/exercises.py check own-dataset --file my_dataset.py`).
