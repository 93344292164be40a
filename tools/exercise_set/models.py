"""Exercises for lesson_models: the course's homework 3 to 6, and ours."""
import importlib.util
import inspect
import sys
import tempfile
from pathlib import Path

from tools.exercise_set import Exercise
from tools.exercise_set.answers import numbers_in, say
from tools.exercise_set import traces

_TRACES = {}  # name -> frames: each traced once per process


def _trace(name: str) -> list:
    if name not in _TRACES:
        _TRACES[name] = traces.dataloader_trace() if name == "dataloader" else traces.lenet_trace()
    return _TRACES[name]


def _load(answer, what: tuple):
    """Import the learner's file as a module; (module, None) or (None, what went wrong)."""
    if answer.path is None:
        return None, say(f"hand in a file: check ID --file my_{what[0]}.py", f"请提交一个文件：check ID --file my_{what[0]}.py")
    name = f"learner_{what[0]}_{abs(hash(str(answer.path)))}"
    spec = importlib.util.spec_from_file_location(name, answer.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: B902 - whatever the learner's file raises is the answer to report
        return None, say(f"importing {answer.path.name} fails: {type(error).__name__}: {error}",
                         f"导入 {answer.path.name} 时出错：{type(error).__name__}: {error}")
    return module, None


# --- homework 4: a Dataset of the learner's own ----------------------------------------------------

DATASET_SOLUTION = '''"""A Dataset for two folders of photos: data_dir/<class>/*.jpg, labels 0 and 1 in sorted folder order."""
import os

from PIL import Image
from torch.utils.data import Dataset

PHOTO_ENDINGS = (".jpg", ".jpeg", ".png", ".bmp")


class TwoFolderDataset(Dataset):
    def __init__(self, data_dir, transform=None):
        self.transform = transform
        classes = sorted(name for name in os.listdir(data_dir) if os.path.isdir(os.path.join(data_dir, name)))
        self.samples = [(os.path.join(data_dir, name, file), label)  # [(path, label), ...]
                        for label, name in enumerate(classes)
                        for file in sorted(os.listdir(os.path.join(data_dir, name)))
                        if file.lower().endswith(PHOTO_ENDINGS)]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        image = Image.open(path).convert("RGB")  # a PIL image: what torchvision's transforms take
        if self.transform is not None:
            image = self.transform(image)
        return image, label
'''
PHOTOS = {"cats": 3, "dogs": 2}  # unequal counts: a Dataset that hard-codes its length shows


def _check_dataset(answer) -> "str | None":
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    from model.lenet import LeNet

    module, problem = _load(answer, ("dataset", "数据集"))
    if problem:
        return problem
    classes = [value for value in vars(module).values()
               if isinstance(value, type) and issubclass(value, Dataset) and value.__module__ == module.__name__]
    if not classes:
        return say("no Dataset class in the file: write class MyDataset(torch.utils.data.Dataset)",
                   "文件里没有 Dataset 类：请写 class MyDataset(torch.utils.data.Dataset)")
    with tempfile.TemporaryDirectory(prefix="exercise-dataset-") as data_dir:
        colours = {"cats": (230, 20, 20), "dogs": (20, 20, 230)}  # a photo's colour tells its folder
        for name, count in PHOTOS.items():
            (Path(data_dir) / name).mkdir()
            for index in range(count):
                Image.new("RGB", (40 + index, 30), colours[name]).save(Path(data_dir) / name / f"{name}{index}.jpg")
        transform = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
        try:
            dataset = classes[0](data_dir, transform=transform)
            length = len(dataset)
            items = [dataset[index] for index in range(min(length, 10))]
        except Exception as error:  # noqa: B902
            return say(f"{classes[0].__name__}(data_dir, transform=...) on two folders (cats/, dogs/) fails: "
                       f"{type(error).__name__}: {error}",
                       f"{classes[0].__name__}(data_dir, transform=...) 读取两个文件夹（cats/、dogs/）时出错："
                       f"{type(error).__name__}: {error}")
        if length != sum(PHOTOS.values()):
            return say(f"len() is {length} for a folder of 3 cat and 2 dog photos", f"3 张猫、2 张狗的照片，len() 却是 {length}")
        labels_by_folder = {}
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], torch.Tensor)):
                return say("each item must be (image tensor, label)", "每个样本应当是 (图像张量, 标签)")
            image, label = item
            if tuple(image.shape) != (3, 32, 32):
                return say(f"an image comes out as {tuple(image.shape)}: apply the transform you were given",
                           f"图像的形状是 {tuple(image.shape)}：请对图像使用传入的 transform")
            folder = "cats" if image[0].mean() > image[2].mean() else "dogs"
            labels_by_folder.setdefault(folder, set()).add(int(label))
        if any(len(labels) != 1 for labels in labels_by_folder.values()) or \
                sorted(next(iter(labels)) for labels in labels_by_folder.values()) != [0, 1]:
            return say(f"the labels are not one per folder, 0 and 1: {labels_by_folder}",
                       f"标签不是每个文件夹一个（0 和 1）：{labels_by_folder}")
        images, labels = next(iter(DataLoader(dataset, batch_size=4, shuffle=True)))
        net = LeNet(classes=2)
        loss = torch.nn.functional.cross_entropy(net(images), torch.as_tensor(labels))
        loss.backward()  # one training step's gradients: LeNet trains on this Dataset
    return None


# --- homework 6: AlexNet with named layers ---------------------------------------------------------

def _alexnet_solution() -> str:
    from model import alexnet
    return ("from collections import OrderedDict\n\nimport torch\nimport torch.nn as nn\n\n\n"
            f"{inspect.getsource(alexnet.AlexNet)}\n\nalexnet = AlexNet()\n"
            "print(alexnet._modules['features']._modules.keys())\n")


def _check_alexnet(answer) -> "str | None":
    import torch
    import torch.nn as nn
    import torchvision

    module, problem = _load(answer, ("alexnet", "alexnet"))
    if problem:
        return problem
    with torch.device("meta"):  # shapes and counts without drawing 61 million weights
        reference = torchvision.models.AlexNet()
        net = getattr(module, "alexnet", None)
        if not isinstance(net, nn.Module):
            classes = [value for value in vars(module).values() if isinstance(value, type)
                       and issubclass(value, nn.Module) and value.__module__ == module.__name__]
            if not classes:
                return say("no AlexNet in the file: define a class, and alexnet = YourAlexNet()",
                           "文件里没有 AlexNet：请定义一个类，并写 alexnet = YourAlexNet()")
            net = classes[0]()
    features = getattr(net, "features", None)
    if not isinstance(features, nn.Sequential):
        return say("alexnet.features must be an nn.Sequential", "alexnet.features 应当是 nn.Sequential")
    names = list(features._modules.keys())
    if any(name.isdigit() for name in names):
        return say(f"features' layers are still numbered ({', '.join(names[:4])}, ...): give each a name with "
                   "an OrderedDict", f"features 的层仍是编号（{', '.join(names[:4])}, ...）：用 OrderedDict 给每层起名")
    mine, theirs = [repr(layer) for layer in features], [repr(layer) for layer in reference.features]
    for index, (layer, wanted) in enumerate(zip(mine, theirs)):
        if layer.replace("inplace=True", "") != wanted.replace("inplace=True", ""):
            return say(f"layer {index} ('{names[index]}') is {layer}; AlexNet has another layer there",
                       f"第 {index} 层（'{names[index]}'）是 {layer}；AlexNet 在这里是另一层")
    if len(mine) != len(theirs):
        return say(f"features has {len(mine)} layers; AlexNet's has {len(theirs)}",
                   f"features 有 {len(mine)} 层；AlexNet 的 features 有 {len(theirs)} 层")
    count, wanted_count = (sum(p.numel() for p in model.parameters()) for model in (net, reference))
    if count != wanted_count:
        return say(f"the whole network has {count:,} parameters; AlexNet has another count",
                   f"整个网络有 {count:,} 个参数；AlexNet 的参数个数不是这个")
    try:
        device = next(net.parameters()).device  # meta, or the CPU for an `alexnet` the file made itself
        with torch.no_grad():
            output_shape = tuple(net.eval()(torch.zeros(1, 3, 224, 224, device=device)).shape)
    except Exception as error:  # noqa: B902 - the learner's forward
        return say(f"forward on a (1, 3, 224, 224) image fails: {type(error).__name__}: {error}",
                   f"对 (1, 3, 224, 224) 的输入做 forward 时出错：{type(error).__name__}: {error}")
    if output_shape != (1, 1000):
        return say(f"a (1, 3, 224, 224) image gives {output_shape}, not (1, 1000)",
                   f"(1, 3, 224, 224) 的输入得到 {output_shape}，而不是 (1, 1000)")
    print(f"alexnet._modules['features']._modules.keys() = {features._modules.keys()}")
    return None


def _lenet_parameters() -> int:
    from model.lenet import LeNet
    return sum(parameter.numel() for parameter in LeNet(classes=2).parameters())


def _check_count(answer) -> "str | None":
    numbers = numbers_in(answer.text.replace(",", "").replace("_", ""))
    if not numbers:
        return say("hand in one number", "请写出一个数")
    if numbers[0] != _lenet_parameters():
        return say(f"LeNet(classes=2) does not have {numbers[0]:,.0f} parameters",
                   f"LeNet(classes=2) 的参数个数不是 {numbers[0]:,.0f}")
    return None


def _split_counts(photos: int = 37) -> list:
    """The course's cuts of one class: train [0, int(80 %)), valid [int(80 %), int(90 %)), test the rest."""
    train_end, valid_end = int(photos * 0.8), int(photos * 0.9)
    return [train_end, valid_end - train_end, photos - valid_end]


def _sampler_counts() -> list:
    """Indices per process per epoch of DistributedSampler over 160 and over 161 samples, two processes."""
    from torch.utils.data.distributed import DistributedSampler
    return [len(list(DistributedSampler(range(samples), num_replicas=2, rank=0, shuffle=True)))
            for samples in (160, 161)]


def _container_counts() -> list:
    import torch.nn as nn

    class PlainList(nn.Module):
        def __init__(self):
            super().__init__()
            self.linears = [nn.Linear(10, 10) for _ in range(20)]  # a list: nn.Module never sees them

    listed = nn.ModuleList([nn.Linear(10, 10) for _ in range(20)])
    return [sum(p.numel() for p in module.parameters()) for module in (listed, PlainList())]


def _closed_set() -> list:
    """The sum of LeNet(classes=2)'s softmax over a photo that is neither class (random pixels), and the classes it can answer."""
    import torch

    from model.lenet import LeNet

    with torch.no_grad():
        probabilities = torch.softmax(LeNet(classes=2)(torch.rand(1, 3, 32, 32)), dim=1)  # (1, 2)
    return [probabilities.sum().item(), probabilities.shape[1]]


def _numbers_check(authority, what: tuple, tolerance: float = 0.0):
    """A check of a few numbers against authority(), which runs only when an answer is checked."""
    def check(answer) -> "str | None":
        expected = authority()
        numbers = numbers_in(answer.text.replace(",", " ").replace("_", ""))
        if len(numbers) != len(expected):
            return say(f"hand in {len(expected)} numbers: {what[0]}", f"请写出 {len(expected)} 个数：{what[1]}")
        for index, (given, right) in enumerate(zip(numbers, expected)):
            if abs(given - right) > tolerance * max(1.0, abs(right)):
                return say(f"number {index + 1} ({given:g}) is off", f"第 {index + 1} 个数（{given:g}）不对")
        return None
    return check


DATALOADER_GOAL = "from `for i, data in enumerate(train_loader)` to RMBDataset.__getitem__"
LENET_GOAL = "inside LeNet(classes=2)"

EXERCISES = [
    Exercise(
        id="dataloader-steps", lesson="lesson_models/02_train_lenet", course=3,
        title=("Step into the DataLoader", "单步调试进入 DataLoader"),
        prompt=("Put a breakpoint on `for i, data in enumerate(train_loader)` and step into (F7 / step into) "
                "until you reach RMBDataset.__getitem__. Write down every class and function you pass through.",
                "在 `for i, data in enumerate(train_loader)` 处设断点，单步进入（step into）直到 "
                "RMBDataset.__getitem__，记下经过的每一个类和函数。"),
        attempt=("python -m pdb lesson_models/02_train_lenet.py --quick (or your IDE's debugger), "
                 "then `b` on that line, `s` to step into",
                 "python -m pdb lesson_models/02_train_lenet.py --quick（或用 IDE 的调试器），在那一行设断点，用 s 单步进入"),
        hand_in=("the steps in order, one Class.function per line (or separated by ->); trivial helpers may "
                 "be left out", "按顺序写出步骤，每行一个 类名.函数名（或用 -> 分隔）；无关紧要的小函数可以省略"),
        hint=("enumerate() calls DataLoader.__iter__, which builds an iterator; each batch is its __next__, "
              "which asks the sampler for indices and the fetcher for the samples.",
              "enumerate() 调用 DataLoader.__iter__ 创建迭代器；每个 batch 都来自它的 __next__："
              "先向 sampler 要索引，再由 fetcher 取样本。"),
        check=lambda answer: traces.check_steps(answer.text, _trace("dataloader"), traces.DATALOADER_REQUIRED,
                                                DATALOADER_GOAL),
        solve=lambda: traces.spell(traces.condensed(_trace("dataloader"))),
        explain=("This is the path through your installed torch, traced while next(iter(train_loader)) ran. "
                 "DataLoader.__iter__ makes a _SingleProcessDataLoaderIter (num_workers=0) with its fetcher; "
                 "__next__ → _next_data → _next_index asks the BatchSampler (over a RandomSampler: shuffle=True) "
                 "for a batch of indices, and _MapDatasetFetcher.fetch calls dataset[i] for each: "
                 "RMBDataset.__getitem__. default_collate then stacks the samples into the batch.",
                 "这是在 next(iter(train_loader)) 运行时，对你安装的 torch 追踪得到的真实路径。DataLoader.__iter__ 创建 "
                 "_SingleProcessDataLoaderIter（num_workers=0）及其 fetcher；__next__ → _next_data → _next_index 向 "
                 "BatchSampler（内部是 RandomSampler：shuffle=True）要一批索引，_MapDatasetFetcher.fetch 对每个索引调用 "
                 "dataset[i]，即 RMBDataset.__getitem__。之后 default_collate 把样本拼成一个 batch。")),
    Exercise(
        id="own-dataset", lesson="lesson_models/02_train_lenet", course=4, file=True,
        title=("A Dataset for your own two classes of photos", "为你自己的两类照片写一个 Dataset"),
        prompt=("Write your own Dataset for another two-class set of photos (the course used cats and dogs; "
                "any two folders of your own photos), and train LeNet on it.",
                "为另一个二分类图片数据集写你自己的 Dataset（课程用的是猫狗；你自己的任意两个文件夹的照片都可以），"
                "并用 LeNet 训练。"),
        attempt=("Copy lesson_models/02_train_lenet.py, replace RMBDataset by your class, point it at your folders.",
                 "复制 lesson_models/02_train_lenet.py，把 RMBDataset 换成你的类，指向你的文件夹。"),
        hand_in=("a .py file with a torch.utils.data.Dataset subclass taking (data_dir, transform=None), reading "
                 "data_dir/<class>/ photos, labels 0 and 1 by sorted folder name",
                 "一个 .py 文件，其中的 torch.utils.data.Dataset 子类接受 (data_dir, transform=None)，读取 "
                 "data_dir/<类别>/ 下的照片，按文件夹名排序给出标签 0 和 1"),
        hint=("__init__ lists (path, label) pairs; __len__ returns how many; __getitem__ opens one photo, "
              "applies the transform and returns (image, label).",
              "__init__ 列出 (路径, 标签)；__len__ 返回数量；__getitem__ 打开一张照片、做 transform、返回 (图像, 标签)。"),
        check=_check_dataset,
        solve=lambda: DATASET_SOLUTION,
        explain=("The check builds two folders (3 cat and 2 dog photos), reads them through your class with "
                 "Resize((32, 32)) and ToTensor, checks the length and one label per folder, and runs one "
                 "LeNet training step on a DataLoader batch. The worked answer keeps, like RMBDataset, a list of "
                 "(path, label) and decodes a photo only when it is asked for.",
                 "检查会建两个文件夹（3 张猫、2 张狗），用你的类配合 Resize((32, 32)) 和 ToTensor 读取，检查长度和每个"
                 "文件夹一个标签，再用 DataLoader 的一个 batch 对 LeNet 做一步训练。参考答案和 RMBDataset 一样，保存 "
                 "(路径, 标签) 列表，只在被取样本时才解码照片。")),
    Exercise(
        id="lenet-modules-steps", lesson="lesson_models/05_module_inside", course=5,
        title=("Step into LeNet(classes=2)", "单步调试进入 LeNet(classes=2)"),
        prompt=("Step into `net = LeNet(classes=2)`: find when net._modules is created and when each sub-module "
                "is put into it; write down the classes and functions you pass through.",
                "单步进入 `net = LeNet(classes=2)`：找出 net._modules 何时被创建、每个子模块何时被放进去；"
                "记下经过的类和函数。"),
        attempt=("python -m pdb lesson_models/05_module_inside.py, a breakpoint on the LeNet(classes=2) line, `s`",
                 "python -m pdb lesson_models/05_module_inside.py，在 LeNet(classes=2) 那一行设断点，用 s 单步进入"),
        hand_in=("the steps in order, one Class.function per line (the first level inside LeNet.__init__ is enough)",
                 "按顺序写出步骤，每行一个 类名.函数名（写出 LeNet.__init__ 里的第一层即可）"),
        hint=("super().__init__() is Module.__init__; every `self.conv1 = ...` is an assignment: which method "
              "does Python call for it?", "super().__init__() 就是 Module.__init__；每个 `self.conv1 = ...` 都是赋值："
              "Python 会为它调用哪个方法？"),
        check=lambda answer: traces.check_steps(answer.text, _trace("lenet"), traces.LENET_REQUIRED, LENET_GOAL),
        solve=lambda: traces.spell(traces.condensed(_trace("lenet"), max_depth=2)),
        explain=("Module.__init__ (from super().__init__()) creates the empty self._modules; each "
                 "`self.conv1 = nn.Conv2d(...)` first builds the layer (Conv2d.__init__, which is a Module too and "
                 "gets its own _modules), then calls Module.__setattr__, which sees a Module and stores it in "
                 "self._modules['conv1']. The traced path is your installed torch's.",
                 "Module.__init__（由 super().__init__() 调用）创建空的 self._modules；每个 `self.conv1 = nn.Conv2d(...)` "
                 "先构建这一层（Conv2d.__init__，它自己也是 Module，也有 _modules），再调用 Module.__setattr__，"
                 "它发现值是一个 Module，就放进 self._modules['conv1']。追踪得到的是你安装的 torch 的路径。")),
    Exercise(
        id="alexnet-named", lesson="lesson_models/07_alexnet", course=6, file=True,
        title=("AlexNet with named layers", "给 AlexNet 的每一层起名"),
        prompt=("Rewrite AlexNet with nn.Sequential so that every layer of `features` has a name, and print "
                "alexnet._modules['features']._modules.keys().",
                "用 nn.Sequential 改写 AlexNet，让 features 的每一层都有名字，并打印 "
                "alexnet._modules['features']._modules.keys()。"),
        attempt=("nn.Sequential(OrderedDict([('conv1', nn.Conv2d(...)), ...])); compare with torchvision.models.alexnet()",
                 "nn.Sequential(OrderedDict([('conv1', nn.Conv2d(...)), ...]))；和 torchvision.models.alexnet() 对比"),
        hand_in=("a .py file that defines `alexnet` (or an nn.Module class without arguments)",
                 "一个 .py 文件，定义 `alexnet`（或一个不需要参数的 nn.Module 类）"),
        hint=("print(torchvision.models.alexnet()) lists the 13 layers of features in order; name each.",
              "print(torchvision.models.alexnet()) 会按顺序列出 features 的 13 层；给每一层起名。"),
        check=_check_alexnet,
        solve=_alexnet_solution,
        explain=("An OrderedDict of (name, layer) pairs keeps the order and the names: nn.Sequential then stores "
                 "each layer under its name in _modules, so keys() prints conv1, relu1, pool1, ... The check "
                 "compares every layer with torchvision's, the parameter count (61,100,840) and the output "
                 "shape (1, 1000). The worked answer is this collection's own model/alexnet.py.",
                 "由 (名字, 层) 组成的 OrderedDict 保留顺序和名字：nn.Sequential 把每一层按名字存进 _modules，所以 keys() "
                 "打印 conv1, relu1, pool1, ……检查会把每一层与 torchvision 的比较，并核对参数个数（61,100,840）和输出形状 "
                 "(1, 1000)。参考答案就是本项目的 model/alexnet.py。")),
    Exercise(
        id="lenet-parameters", lesson="lesson_models/05_module_inside",
        title=("Count LeNet's parameters by hand", "手算 LeNet 的参数个数"),
        prompt=("How many parameters (weights and biases) has LeNet(classes=2)? Count layer by layer.",
                "LeNet(classes=2) 有多少个参数（权重和偏置）？逐层计算。"),
        attempt=("conv: out·in·k·k + out; linear: out·in + out; then sum(p.numel() for p in net.parameters())",
                 "卷积层：out·in·k·k + out；全连接层：out·in + out；再用 sum(p.numel() for p in net.parameters()) 验证"),
        hand_in=("one number", "一个数"),
        hint=("conv1 3→6 5×5, conv2 6→16 5×5, fc1 400→120, fc2 120→84, fc3 84→2.",
              "各层：conv1 3→6 5×5，conv2 6→16 5×5，fc1 400→120，fc2 120→84，fc3 84→2。"),
        check=_check_count,
        solve=lambda: "61326",
        explain=("conv1 6·3·25 + 6 = 456; conv2 16·6·25 + 16 = 2,416; fc1 120·400 + 120 = 48,120; "
                 "fc2 84·120 + 84 = 10,164; fc3 2·84 + 2 = 170; in all 61,326 (fc1 alone is 78 %).",
                 "conv1 6·3·25 + 6 = 456；conv2 16·6·25 + 16 = 2,416；fc1 120·400 + 120 = 48,120；"
                 "fc2 84·120 + 84 = 10,164；fc3 2·84 + 2 = 170；共 61,326（仅 fc1 就占 78%）。")),
    Exercise(
        id="split-counts", lesson="lesson_models/01_split_dataset",
        title=("The 80/10/10 split of an odd count", "奇数张照片的 80/10/10 划分"),
        prompt=("The lesson cuts each class at int(80 %) and int(90 %) of its shuffled photos. A class has 37 "
                "photos: how many go to train, valid and test?",
                "本课在打乱后的照片中按 int(80 %) 和 int(90 %) 切分每个类别。某个类别有 37 张照片：train、valid、test "
                "各分到多少张？"),
        attempt=("Read the `train_end, valid_end = ...` line of 01_split_dataset.py; try it in Python",
                 "读 01_split_dataset.py 中 `train_end, valid_end = ...` 那一行；在 Python 里试一试"),
        hand_in=("three numbers: train, valid, test", "三个数：train、valid、test"),
        hint=("int() rounds down: int(37 × 0.8) and int(37 × 0.9); test takes what is left.",
              "int() 向下取整：int(37 × 0.8) 和 int(37 × 0.9)；test 拿剩下的。"),
        check=_numbers_check(_split_counts, ("train, valid, test", "train、valid、test")),
        solve=lambda: "29, 4, 4",
        explain=("int(29.6) = 29 for train; int(33.3) = 33, so valid gets 33 − 29 = 4; test the remaining "
                 "37 − 33 = 4. Rounding down gives the leftover to test: the parts are 78/11/11 %, not 80/10/10.",
                 "train 为 int(29.6) = 29；int(33.3) = 33，所以 valid 分到 33 − 29 = 4；test 为剩下的 37 − 33 = 4。"
                 "向下取整把余数留给了 test：比例是 78/11/11 %，而不是 80/10/10。")),
    Exercise(
        id="ddp-sampler", lesson="lesson_models/03_train_lenet_ddp",
        title=("What DistributedSampler gives each process", "DistributedSampler 给每个进程多少样本"),
        prompt=("Two processes train on 160 photos with DistributedSampler(num_replicas=2, shuffle=True): how "
                "many indices does each process get per epoch? And with 161 photos?",
                "两个进程用 DistributedSampler(num_replicas=2, shuffle=True) 在 160 张照片上训练：每个进程每个 epoch "
                "得到多少个索引？161 张照片时呢？"),
        attempt=("len(list(DistributedSampler(range(161), num_replicas=2, rank=0)))",
                 "len(list(DistributedSampler(range(161), num_replicas=2, rank=0)))"),
        hand_in=("two numbers: per process with 160, with 161", "两个数：160 张时每个进程的数量，161 张时的数量"),
        hint=("Every process must run the same number of steps, or the all-reduce waits forever; drop_last is False.",
              "每个进程必须执行相同的步数，否则 all-reduce 会一直等待；drop_last 默认为 False。"),
        check=_numbers_check(_sampler_counts, ("per process, 160 and 161", "每个进程，160 张和 161 张")),
        solve=lambda: "80, 81",
        explain=("160 split in two is 80 each. 161 does not split evenly: with drop_last=False the sampler pads "
                 "by repeating indices up to 162, so each process gets 81 and one photo is seen twice per epoch.",
                 "160 平分为每个进程 80。161 不能平分：drop_last=False 时 sampler 重复一些索引补到 162，所以每个进程 81 个，"
                 "每个 epoch 有一张照片被看两次。")),
    Exercise(
        id="containers-count", lesson="lesson_models/06_module_containers",
        title=("ModuleList or a plain list", "ModuleList 还是普通 list"),
        prompt=("20 nn.Linear(10, 10) layers, held once in an nn.ModuleList and once in a plain Python list "
                "attribute of an nn.Module: how many parameters does .parameters() find in each?",
                "20 个 nn.Linear(10, 10)，一次放在 nn.ModuleList 里，一次放在 nn.Module 的普通 Python list 属性里："
                ".parameters() 各能找到多少个参数？"),
        attempt=("python lesson_models/06_module_containers.py", "python lesson_models/06_module_containers.py"),
        hand_in=("two numbers: with ModuleList, with a list", "两个数：用 ModuleList 时，用 list 时"),
        hint=("Module.__setattr__ registers a Module or a ModuleList; a list is just a Python object to it.",
              "Module.__setattr__ 会登记 Module 或 ModuleList；对它来说 list 只是一个普通的 Python 对象。"),
        check=_numbers_check(_container_counts, ("ModuleList, plain list", "ModuleList，普通 list")),
        solve=lambda: "2200, 0",
        explain=("Each Linear(10, 10) has 10·10 + 10 = 110 parameters, 20 of them 2,200. A plain list is not "
                 "registered in _modules: .parameters(), state_dict() and .to(device) all miss its layers (0), "
                 "and an optimizer built from .parameters() would never train them.",
                 "每个 Linear(10, 10) 有 10·10 + 10 = 110 个参数，20 个共 2,200。普通 list 不会登记到 _modules 中："
                 ".parameters()、state_dict() 和 .to(device) 都看不到其中的层（0），用 .parameters() 建的优化器也永远不会训练它们。")),
    Exercise(
        id="closed-set", lesson="lesson_models/04_new_series",
        title=("A photo of neither class", "两类都不是的照片"),
        prompt=("The LeNet of these lessons knows two classes, 1 and 100 yuan. Show it a 50-yuan note (or a cat): "
                "what do its two softmax probabilities add up to, and how many different answers can it give?",
                "这些课里的 LeNet 只认识两类：1 元和 100 元。给它看一张 50 元（或一只猫）：两个 softmax 概率之和是多少？"
                "它一共能给出几种不同的答案？"),
        attempt=("torch.softmax(net(image), dim=1) for any image; python lesson_models/04_new_series.py",
                 "对任意图像计算 torch.softmax(net(image), dim=1)；运行 python lesson_models/04_new_series.py"),
        hand_in=("two numbers: the sum, the number of possible answers", "两个数：概率之和，可能的答案个数"),
        hint=("softmax divides by the sum of its exponentials, whatever the input was.", "softmax 总是除以所有指数之和，不管输入是什么。"),
        check=_numbers_check(_closed_set, ("the sum, the answers", "概率之和，答案个数"), tolerance=1e-5),
        solve=lambda: "1, 2",
        explain=("The probabilities always add up to 1 and the answer is always 1 or 100 yuan: a closed-set "
                 "classifier has no 'none of these'. That is why the new-series 100-yuan note gets a confident, "
                 "wrong answer rather than a doubt; a high probability is not a guarantee.",
                 "概率之和总是 1，答案总是 1 元或 100 元：闭集分类器没有“都不是”这个选项。所以新版 100 元得到的是一个"
                 "很有把握的错误答案，而不是怀疑；概率高并不是保证。")),
]
