"""Exercises for lesson_init: predict a std or a gain, then check it against PyTorch."""
from tools.exercise_set import Exercise
from tools.exercise_set.answers import numbers_in, say

FEATURES = 256  # the lessons' n
SAMPLES = 4096  # enough samples that a measured std is within about 2 % of its expectation


def _close_numbers(answer, expected: list, relative: float, what: tuple) -> "str | None":
    numbers = numbers_in(answer.text)
    if len(numbers) < len(expected):
        return say(f"hand in {len(expected)} numbers: {what[0]}", f"请写出 {len(expected)} 个数：{what[1]}")
    for index, (given, right) in enumerate(zip(numbers, expected)):
        if abs(given - right) > relative * abs(right):
            return say(f"number {index + 1} ({given:g}) is more than {relative:.0%} off what PyTorch measures",
                       f"第 {index + 1} 个数（{given:g}）与 PyTorch 的测量值相差超过 {relative:.0%}")
    return None


def _std_through_two_layers() -> list:
    """The std of x after one and after two bias-free Linear(256, 256) with N(0, 1) weights, x ~ N(0, 1)."""
    import torch

    generator = torch.Generator().manual_seed(1)
    x = torch.randn(SAMPLES, FEATURES, generator=generator)
    first, second = (torch.randn(FEATURES, FEATURES, generator=generator) for _ in range(2))
    after_one = x @ first.T
    return [after_one.std().item(), (after_one @ second.T).std().item()]


def _kaiming_std() -> list:
    import torch
    import torch.nn as nn

    with torch.random.fork_rng():  # the learner's own random stream is left as it was
        torch.manual_seed(1)
        weight = nn.init.kaiming_normal_(torch.empty(FEATURES, FEATURES), nonlinearity="relu")
    return [weight.std().item()]


def _tanh_gains() -> list:
    import torch
    import torch.nn as nn

    x = torch.randn(100_000, generator=torch.Generator().manual_seed(1))
    return [(x.std() / torch.tanh(x).std()).item(), nn.init.calculate_gain("tanh")]


def _clipped() -> list:
    """The total norm before clip_grad_norm_(max_norm=1), then the clipped gradients, of gradients [3, 0] and [0, 4]."""
    import torch
    import torch.nn as nn

    first, second = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    first.grad, second.grad = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0])
    norm = nn.utils.clip_grad_norm_([first, second], max_norm=1.0)
    return [norm.item(), *first.grad.tolist(), *second.grad.tolist()]


EXERCISES = [
    Exercise(
        id="init-std-predict", lesson="lesson_init/01_grad_vanish_explode",
        title=("Predict the std through std-1 weights", "预测经过标准差为 1 的权重后的标准差"),
        prompt=("x has 256 standard-normal features. It goes through a bias-free nn.Linear(256, 256) whose weights "
                "are N(0, 1), then through a second such layer. Predict the std of the output after one and after "
                "two layers.",
                "x 有 256 个标准正态分布的特征，经过一个无偏置、权重为 N(0, 1) 的 nn.Linear(256, 256)，再经过第二个这样的层。"
                "预测一层和两层之后输出的标准差。"),
        attempt=("Var(y) = n·Var(w)·Var(x); then python lesson_init/01_grad_vanish_explode.py --init normal "
                 "--activation none and read layer 0 and 1",
                 "Var(y) = n·Var(w)·Var(x)；然后运行 python lesson_init/01_grad_vanish_explode.py --init normal "
                 "--activation none，看第 0 层和第 1 层"),
        hand_in=("two numbers: the std after one layer, after two", "两个数：一层之后的标准差，两层之后的标准差"),
        hint=("Each output is a sum of 256 products of independent unit-variance numbers.",
              "每个输出都是 256 个独立的、方差为 1 的乘积之和。"),
        check=lambda answer: _close_numbers(answer, _std_through_two_layers(), 0.05, ("std after 1 and 2 layers", "一层和两层后的标准差")),
        solve=lambda: "16, 256",
        explain=("Var(y) = 256·1·1 = 256, std √256 = 16; the second layer multiplies the variance by 256 again: "
                 "std 256. After k layers 16^k: float32's 3.4e38 is passed near layer 31, the nan of the notes.",
                 "Var(y) = 256·1·1 = 256，标准差 √256 = 16；第二层再把方差乘以 256：标准差 256。k 层之后是 16^k："
                 "在第 31 层附近超过 float32 的 3.4e38，就是笔记中出现 nan 的地方。")),
    Exercise(
        id="init-kaiming-std", lesson="lesson_init/01_grad_vanish_explode",
        title=("The std Kaiming gives a ReLU layer", "Kaiming 给 ReLU 层的标准差"),
        prompt=("What std does nn.init.kaiming_normal_(w, nonlinearity='relu') give the weights of an "
                "nn.Linear(256, 256), and why that value?",
                "nn.init.kaiming_normal_(w, nonlinearity='relu') 给 nn.Linear(256, 256) 的权重的标准差是多少？为什么？"),
        attempt=("std = gain/√fan_in with calculate_gain('relu'); check with w.std()",
                 "std = gain/√fan_in，其中 gain = calculate_gain('relu')；用 w.std() 验证"),
        hand_in=("one number (4 digits)", "一个数（4 位有效数字）"),
        hint=("ReLU zeroes half of a symmetric input: E[relu(y)²] = Var(y)/2.", "ReLU 把对称输入的一半置零：E[relu(y)²] = Var(y)/2。"),
        check=lambda answer: _close_numbers(answer, _kaiming_std(), 0.02, ("the weights' std", "权重的标准差")),
        solve=lambda: "0.0884",
        explain=("Keeping Var(relu(y)) = Var(x) needs n·Var(w)/2 = 1, so Var(w) = 2/n and std = √(2/256) = "
                 "√2/16 = 0.0884 (calculate_gain('relu') = √2, divided by √fan_in = 16).",
                 "要保持 Var(relu(y)) = Var(x)，需要 n·Var(w)/2 = 1，即 Var(w) = 2/n，标准差 √(2/256) = √2/16 = 0.0884"
                 "（calculate_gain('relu') = √2，除以 √fan_in = 16）。")),
    Exercise(
        id="init-tanh-gain", lesson="lesson_init/03_calculate_gain",
        title=("Measure tanh's gain", "测量 tanh 的增益"),
        prompt=("For x ~ N(0, 1), predict std(x)/std(tanh(x)), the gain the notes measure, and the value "
                "nn.init.calculate_gain('tanh') returns.",
                "对 x ~ N(0, 1)，预测笔记中测量的增益 std(x)/std(tanh(x))，以及 nn.init.calculate_gain('tanh') 的返回值。"),
        attempt=("python lesson_init/03_calculate_gain.py", "python lesson_init/03_calculate_gain.py"),
        hand_in=("two numbers: the measured gain, the library's", "两个数：测得的增益，库给出的增益"),
        hint=("tanh squeezes values beyond ±1; the library's table uses a round fraction.",
              "tanh 会压缩 ±1 以外的值；库里的表用的是一个简单的分数。"),
        check=lambda answer: _close_numbers(answer, _tanh_gains(), 0.01, ("measured gain, library gain", "测得增益，库的增益")),
        solve=lambda: "1.598, 1.6667",
        explain=("tanh shrinks a unit-variance input to std about 0.626, so the ratio is about 1.598; the library "
                 "returns 5/3 = 1.6667, a fixed table value near it.",
                 "tanh 把方差为 1 的输入压缩到标准差约 0.626，所以比值约为 1.598；库返回 5/3 = 1.6667，"
                 "一个接近它的固定表值。")),
    Exercise(
        id="clip-by-hand", lesson="lesson_init/02_remedies_and_nn_init",
        title=("Gradient clipping by hand", "手算梯度剪切"),
        prompt=("Two parameters have the gradients [3, 0] and [0, 4]. nn.utils.clip_grad_norm_(params, max_norm=1): "
                "what total norm does it return, and what are the four gradient values afterwards?",
                "两个参数的梯度是 [3, 0] 和 [0, 4]。nn.utils.clip_grad_norm_(params, max_norm=1) 返回的总范数是多少？"
                "之后四个梯度值是多少？"),
        attempt=("python lesson_init/02_remedies_and_nn_init.py --max-norm 1; or set p.grad by hand and call it",
                 "python lesson_init/02_remedies_and_nn_init.py --max-norm 1；或者手动设置 p.grad 再调用它"),
        hand_in=("five numbers: the norm before clipping, then the four gradients", "五个数：剪切前的范数，然后是四个梯度值"),
        hint=("All gradients count as one vector; if its norm is above max_norm, all are multiplied by max_norm/norm.",
              "所有梯度合起来当作一个向量；如果它的范数大于 max_norm，就把所有梯度乘以 max_norm/norm。"),
        check=lambda answer: _close_numbers(answer, _clipped(), 1e-4, ("norm, then four gradients", "范数，然后四个梯度")),
        solve=lambda: "5, 0.6, 0, 0, 0.8",
        explain=("The norm of (3, 0, 0, 4) is √(9 + 16) = 5 (returned, measured before clipping); 5 > 1, so every "
                 "gradient is scaled by 1/5: [0.6, 0] and [0, 0.8], total norm 1, direction kept.",
                 "(3, 0, 0, 4) 的范数是 √(9 + 16) = 5（返回的是剪切前的范数）；5 > 1，所以每个梯度乘以 1/5："
                 "[0.6, 0] 和 [0, 0.8]，总范数为 1，方向不变。")),
]
