"""Exercises for lesson_layers: the course's homework 7 and 8, and values computed by hand."""
from tools.exercise_set import Exercise
from tools.exercise_set.answers import compare_values, parse_shape, parse_values, say, squeeze_leading


def _conv_by_hand() -> list:
    """[output without padding (2, 3, 3), output with padding 1 (2, 5, 5)] from PyTorch itself."""
    import torch
    import torch.nn.functional as F

    image = torch.stack([torch.full((5, 5), value) for value in (1.0, 2.0, 3.0)]).unsqueeze(0)  # (1, 3, 5, 5)
    kernels = torch.stack([torch.full((3, 3, 3), value) for value in (1.0, 2.0)])  # (2, 3, 3, 3): out, in, kH, kW
    # The course wrote dilation=0, which PyTorch refuses ("dilation should be greater than zero"): it meant 1.
    return [F.conv2d(image, kernels, stride=1, padding=padding, dilation=1)[0].tolist() for padding in (0, 1)]


def _check_conv(answer) -> "str | None":
    given = parse_values(answer.text)
    expected = _conv_by_hand()
    if not isinstance(given, list) or len(given) != 2 or not all(isinstance(part, list) for part in given):
        return say("hand in two nested lists: the output without padding, then with padding 1",
                   "请写出两个嵌套列表：无填充的输出，然后是填充 1 的输出")
    for part, wanted, name in zip(given, expected, (("without padding", "无填充"), ("with padding 1", "填充 1"))):
        problem = compare_values(str(squeeze_leading(part)), wanted, tolerance=1e-4, what=f"output {name[0]}")
        if problem:
            return say(f"{name[0]}:", f"{name[1]}：") + "\n" + problem
    return None


def _conv3d_shape() -> tuple:
    import torch
    import torch.nn as nn

    photo = torch.zeros(1, 3, 1, 512, 512)  # the notes' img_tensor.unsqueeze(dim=2): B×C×D×H×W
    with torch.no_grad():
        return tuple(nn.Conv3d(3, 1, (1, 3, 3), padding=(1, 0, 0), bias=False)(photo).shape)


def _check_sizes(answer, expected: list) -> "str | None":
    given = parse_shape(answer.text)
    if len(given) != len(expected):
        return say(f"hand in {len(expected)} whole numbers", f"请写出 {len(expected)} 个整数")
    if list(given) != list(expected):
        return say(f"{', '.join(map(str, given))}: not the sizes PyTorch gives", f"{', '.join(map(str, given))}：不是 PyTorch 给出的尺寸")
    return None


def _check_shape(answer, expected: tuple) -> "str | None":
    given = parse_shape(answer.text)
    if not given:
        return say("hand in a shape such as (1, 2, 3)", "请写出一个形状，例如 (1, 2, 3)")
    if given != expected:
        return say(f"{given} is not the output's shape (count D as well: B×C×D×H×W)",
                   f"{given} 不是输出的形状（注意还有深度 D：B×C×D×H×W）")
    return None


def _transposed_sizes() -> list:
    """H_out of ConvTranspose2d(3, 1, 3, stride=2) on 512 × 512, without and with padding=1 (shapes only)."""
    import torch
    import torch.nn as nn

    with torch.device("meta"):  # the shape without computing a 1025 × 1025 image
        photo = torch.empty(1, 3, 512, 512)
        return [nn.ConvTranspose2d(3, 1, 3, stride=2, padding=padding)(photo).shape[-1] for padding in (0, 1)]


def _pooled() -> list:
    import torch
    import torch.nn as nn

    grid = torch.arange(25.0).reshape(1, 1, 5, 5)  # 0 … 24, row by row
    return nn.MaxPool2d(2, 2, ceil_mode=True)(grid)[0, 0].tolist()


def _linear() -> list:
    import torch
    import torch.nn as nn

    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]]))
        layer.bias.copy_(torch.tensor([0.5, -0.5]))
        return layer(torch.tensor([[1.0, 2.0, 3.0]])).tolist()


def _activations() -> list:
    """sigmoid(0), sigmoid'(0), tanh'(0), relu(−2), leaky_relu(−2) with slope 0.01, by autograd."""
    import torch
    import torch.nn.functional as F

    zero = torch.tensor(0.0, requires_grad=True)
    sigmoid = torch.sigmoid(zero)
    sigmoid_slope, = torch.autograd.grad(sigmoid, zero)
    tanh_slope, = torch.autograd.grad(torch.tanh(zero), zero)
    minus_two = torch.tensor(-2.0)
    return [sigmoid.item(), sigmoid_slope.item(), tanh_slope.item(), F.relu(minus_two).item(),
            F.leaky_relu(minus_two, 0.01).item()]


EXERCISES = [
    Exercise(
        id="conv-by-hand", lesson="lesson_layers/01_convolution", course=7,
        title=("A convolution by hand, without and with padding", "手算卷积：无填充与填充"),
        prompt=("A 3-channel 5×5 image whose channels are all 1, all 2 and all 3 is convolved with two 3×3 "
                "kernels (the first all 1, the second all 2: each spans the 3 channels), stride 1, no padding. "
                "Compute the output size and every value by hand, then the same with padding 1 (zeros). "
                "(The course wrote dilation=0, which PyTorch refuses; dilation 1, no spreading, is what it meant.)",
                "一张 3 通道 5×5 的图像，三个通道分别全为 1、全为 2、全为 3，与两个 3×3 卷积核（第一个全为 1，第二个全为 2；"
                "每个卷积核覆盖 3 个通道）做卷积，步长 1，无填充。手算输出尺寸和每一个值，然后再算填充 1（补零）的情况。"
                "（课程写的是 dilation=0，PyTorch 不接受；它的意思是 dilation=1，即不空洞。）"),
        attempt=("F.conv2d(image, kernels, stride=1, padding=0) with image (1, 3, 5, 5) and kernels (2, 3, 3, 3)",
                 "F.conv2d(image, kernels, stride=1, padding=0)，image 为 (1, 3, 5, 5)，kernels 为 (2, 3, 3, 3)"),
        hand_in=("two nested lists, channel by channel: the output without padding (2 channels), then with "
                 "padding 1 (a printed tensor is fine)",
                 "两个嵌套列表，按通道写：无填充的输出（2 个通道），然后是填充 1 的输出（直接粘贴打印出的张量也可以）"),
        hint=("One output value sums the 3×3 window over all 3 channels; with padding, count how many of the 9 "
              "positions fall on the image at a corner and at an edge.",
              "一个输出值是 3 个通道上 3×3 窗口的总和；有填充时，数一数在角上和边上 9 个位置里有几个落在图像上。"),
        check=_check_conv,
        solve=lambda: "\n".join(str(part) for part in _conv_by_hand()),
        explain=("Without padding: (5 − 3)/1 + 1 = 3, so 2 channels of 3×3. Every window holds 9 pixels of each "
                 "channel: 9·(1 + 2 + 3) = 54 for the kernel of 1s, 108 for the kernel of 2s. With padding 1 the "
                 "output is 5×5: inside 54, along an edge 6 of the 9 positions are on the image, 6·6 = 36, at a "
                 "corner 4·6 = 24 (and 108, 72, 48 for the second kernel).",
                 "无填充：(5 − 3)/1 + 1 = 3，即 2 个 3×3 的通道。每个窗口在每个通道上有 9 个像素：全 1 卷积核得 "
                 "9·(1 + 2 + 3) = 54，全 2 卷积核得 108。填充 1 时输出为 5×5：内部 54；边上 9 个位置中有 6 个在图像上，"
                 "6·6 = 36；角上 4·6 = 24（第二个卷积核对应 108、72、48）。")),
    Exercise(
        id="conv3d-shape", lesson="lesson_layers/01_convolution", course=8,
        title=("Conv3d over the photo, and its depth padding", "用 Conv3d 卷积照片，以及深度方向的填充"),
        prompt=("The photo as B×C×D×H×W = (1, 3, 1, 512, 512) goes through nn.Conv3d(3, 1, (1, 3, 3), "
                "padding=(1, 0, 0)). What is the output shape, and why does the notes' (3, 3, 3) kernel need the "
                "depth padding?",
                "照片写成 B×C×D×H×W = (1, 3, 1, 512, 512)，经过 nn.Conv3d(3, 1, (1, 3, 3), padding=(1, 0, 0))。"
                "输出形状是什么？为什么笔记中 (3, 3, 3) 的卷积核需要深度方向的填充？"),
        attempt=("python lesson_layers/01_convolution.py, then change its Conv3d kernel to (1, 3, 3)",
                 "运行 python lesson_layers/01_convolution.py，然后把其中 Conv3d 的卷积核改为 (1, 3, 3)"),
        hand_in=("the output shape, e.g. (1, 2, 3, 4, 5)", "输出形状，例如 (1, 2, 3, 4, 5)"),
        hint=("Apply H_out = (H + 2p − k)/s + 1 to each of D, H and W.", "对 D、H、W 分别使用 H_out = (H + 2p − k)/s + 1。"),
        check=lambda answer: _check_shape(answer, _conv3d_shape()),
        solve=lambda: str(_conv3d_shape()),
        explain=("D: (1 + 2·1 − 1) + 1 = 3; H and W: 512 − 3 + 1 = 510: (1, 1, 3, 510, 510). With a (1, 3, 3) "
                 "kernel the depth padding only adds two planes of zeros (outputs of 0). The notes' (3, 3, 3) kernel "
                 "is 3 deep against an input 1 deep: without padding=(1, 0, 0) PyTorch refuses (kernel larger than "
                 "the input); with it D_out = 1 + 2 − 3 + 1 = 1, (1, 1, 1, 510, 510), and only the kernel's middle "
                 "slice meets the photo.",
                 "D：(1 + 2·1 − 1) + 1 = 3；H 和 W：512 − 3 + 1 = 510：(1, 1, 3, 510, 510)。用 (1, 3, 3) 卷积核时，深度填充只是"
                 "多出两个全零平面（输出为 0）。笔记中 (3, 3, 3) 的卷积核深度为 3，而输入深度为 1：没有 padding=(1, 0, 0) 时 "
                 "PyTorch 会拒绝（卷积核大于输入）；有了它 D_out = 1 + 2 − 3 + 1 = 1，得到 (1, 1, 1, 510, 510)，"
                 "只有卷积核中间那一片碰到照片。")),
    Exercise(
        id="pool-by-hand", lesson="lesson_layers/03_pooling",
        title=("Max pooling with ceil_mode by hand", "手算 ceil_mode 的最大池化"),
        prompt=("The 5×5 input holds 0 … 24 row by row. Compute nn.MaxPool2d(2, 2, ceil_mode=True) of it by hand.",
                "5×5 的输入按行存放 0 … 24。手算 nn.MaxPool2d(2, 2, ceil_mode=True) 的结果。"),
        attempt=("torch.arange(25.).reshape(1, 1, 5, 5); compare ceil_mode=False", "torch.arange(25.).reshape(1, 1, 5, 5)；对比 ceil_mode=False"),
        hand_in=("the output as a nested list", "输出，写成嵌套列表"),
        hint=("ceil_mode rounds (5 − 2)/2 + 1 up: 3 windows per axis; the last window holds only what is left.",
              "ceil_mode 把 (5 − 2)/2 + 1 向上取整：每个方向 3 个窗口；最后一个窗口只包含剩下的部分。"),
        check=lambda answer: compare_values(answer.text, _pooled(), 1e-4, "pooled value"),
        solve=lambda: str(_pooled()),
        explain=("The windows start at 0, 2, 4 on each axis; the last ones hold one column (or row, or pixel): "
                 "[[6, 8, 9], [16, 18, 19], [21, 23, 24]]. Without ceil_mode row 4 and column 4 are never pooled: "
                 "[[6, 8], [16, 18]].",
                 "每个方向的窗口从 0、2、4 开始；最后的窗口只包含一列（或一行、一个像素）："
                 "[[6, 8, 9], [16, 18, 19], [21, 23, 24]]。不用 ceil_mode 时第 4 行和第 4 列不参与池化：[[6, 8], [16, 18]]。")),
    Exercise(
        id="linear-by-hand", lesson="lesson_layers/04_linear",
        title=("nn.Linear by hand", "手算 nn.Linear"),
        prompt=("nn.Linear(3, 2) has weight [[1, 2, 3], [−1, 0, 1]] and bias [0.5, −0.5]. What does it give for "
                "the input [[1, 2, 3]]?",
                "nn.Linear(3, 2) 的权重为 [[1, 2, 3], [−1, 0, 1]]，偏置为 [0.5, −0.5]。输入 [[1, 2, 3]] 的输出是什么？"),
        attempt=("y = x Wᵀ + b; then set the weights with torch.no_grad() and call the layer",
                 "y = x Wᵀ + b；然后在 torch.no_grad() 中设置权重并调用该层"),
        hand_in=("the output as a nested list", "输出，写成嵌套列表"),
        hint=("Row i of W gives output i: a dot product with x, plus b_i.", "W 的第 i 行给出第 i 个输出：与 x 的点积加上 b_i。"),
        check=lambda answer: compare_values(answer.text, _linear(), 1e-4, "output"),
        solve=lambda: str(_linear()),
        explain=("1·1 + 2·2 + 3·3 + 0.5 = 14.5 and −1·1 + 0·2 + 1·3 − 0.5 = 1.5: [[14.5, 1.5]], shape (1, 2).",
                 "1·1 + 2·2 + 3·3 + 0.5 = 14.5，−1·1 + 0·2 + 1·3 − 0.5 = 1.5：[[14.5, 1.5]]，形状 (1, 2)。")),
    Exercise(
        id="activations-by-hand", lesson="lesson_layers/05_activations",
        title=("Activations and their slopes by hand", "手算激活函数及其导数"),
        prompt=("Without running anything: sigmoid(0), sigmoid′(0), tanh′(0), relu(−2), and leaky_relu(−2) "
                "with negative slope 0.01.",
                "不运行代码，写出：sigmoid(0)、sigmoid′(0)、tanh′(0)、relu(−2)，以及负半轴斜率为 0.01 的 leaky_relu(−2)。"),
        attempt=("then check with python lesson_layers/05_activations.py, or autograd on a 0-d tensor",
                 "然后用 python lesson_layers/05_activations.py 或对 0 维张量用 autograd 验证"),
        hand_in=("five numbers, in that order", "按顺序写出五个数"),
        hint=("σ′ = σ(1 − σ), tanh′ = 1 − tanh².", "导数：σ′ = σ(1 − σ)，tanh′ = 1 − tanh²。"),
        check=lambda answer: compare_values(answer.text if "[" in answer.text else f"[{answer.text}]", _activations(),
                                            1e-3, "value"),
        solve=lambda: "0.5, 0.25, 1, 0, -0.02",
        explain=("sigmoid(0) = 1/(1 + 1) = 0.5; σ′(0) = 0.5·0.5 = 0.25, its largest value (hence vanishing "
                 "gradients through many sigmoids); tanh′(0) = 1 − 0 = 1; relu(−2) = 0; leaky_relu(−2) = −0.02.",
                 "sigmoid(0) = 1/(1 + 1) = 0.5；σ′(0) = 0.5·0.5 = 0.25，是它的最大值（所以多层 sigmoid 会梯度消失）；"
                 "tanh′(0) = 1 − 0 = 1；relu(−2) = 0；leaky_relu(−2) = −0.02。")),
    Exercise(
        id="transposed-size", lesson="lesson_layers/02_transposed_convolution",
        title=("The size after a transposed convolution", "转置卷积之后的尺寸"),
        prompt=("The notes' nn.ConvTranspose2d(3, 1, 3, stride=2) takes the 512 × 512 photo to what height? "
                "And with padding=1?",
                "笔记中的 nn.ConvTranspose2d(3, 1, 3, stride=2) 把 512 × 512 的照片变成多高？padding=1 时呢？"),
        attempt=("H_out = (H − 1)s − 2p + d(k − 1) + output_padding + 1; then python "
                 "lesson_layers/02_transposed_convolution.py", "H_out = (H − 1)s − 2p + d(k − 1) + output_padding + 1；"
                 "然后运行 python lesson_layers/02_transposed_convolution.py"),
        hand_in=("two numbers: the height without padding, with padding 1", "两个数：无填充时的高度，padding 1 时的高度"),
        hint=("Each of the 512 input rows paints 3 rows, placed every 2.", "512 个输入行中的每一行画 3 行，每隔 2 行放一次。"),
        check=lambda answer: _check_sizes(answer, _transposed_sizes()),
        solve=lambda: "1025, 1023",
        explain=("(512 − 1)·2 − 0 + (3 − 1) + 1 = 1025; padding 1 removes one row at each border: 1023. The "
                 "transposed convolution restores a convolution's shape, not its values.",
                 "(512 − 1)·2 − 0 + (3 − 1) + 1 = 1025；padding 1 在两边各去掉一行：1023。转置卷积恢复的是卷积的形状，"
                 "而不是数值。")),
]
