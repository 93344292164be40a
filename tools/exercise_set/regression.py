"""Exercises for lesson_regression: the course's homework 1 and 2, and ours."""
import re

from tools.exercise_set import Exercise
from tools.exercise_set.answers import numbers_in, say
from tools.exercise_set.lesson_run import run_lesson

LINEAR = "lesson_regression/01_linear_regression"
LOGISTIC = "lesson_regression/02_logistic_regression"
NEVER_WORDS = ("never", "not", "fail", "no stop", "没", "不", "失败", "从未")
_FLAG = re.compile(r"(--[a-z][a-z-]*)(?:\s+|=)([^\s:;,]+)")


def _observations(text: str, allowed: tuple) -> list:
    """[(flags, stop iteration or None, said 'never', accuracy or None)] from lines (or ';' parts)
    such as '--slope 3 --stop-loss 0.5: 320' or '--mean-value 1: never, 91 %'."""
    observations = []
    for part in re.split(r"[;\n]", text):
        flags = _FLAG.findall(part)
        if not flags:
            continue
        unknown = [name for name, _ in flags if name not in allowed]
        if unknown:
            raise ValueError(say(f"{unknown[0]} is not a knob of this exercise (use {', '.join(allowed)})",
                                 f"{unknown[0]} 不是这道题的参数（请用 {', '.join(allowed)}）"))
        rest = _FLAG.sub(" ", part)
        never = any(word in rest.lower() for word in NEVER_WORDS)
        numbers = numbers_in(rest.replace("%", " % "))
        percent = re.search(r"([-+]?\d+(?:\.\d+)?)\s*%", rest)
        accuracy = float(percent.group(1)) / 100 if percent else None
        stop = None if never or not numbers else numbers[0]
        observations.append((tuple(item for flag in flags for item in flag), stop, never, accuracy))
    return observations


def _check_runs(answer, lesson: str, allowed: tuple, required: tuple) -> "str | None":
    """Run the lesson with each observation's flags and compare where it stopped (or that it never did)."""
    try:
        observations = _observations(answer.text, allowed)
    except ValueError as error:
        return str(error)
    if not observations:
        return say(f"name the flags you ran with, then what you saw, e.g. '{required[0]} 3: 320' or "
                   f"'{required[0]} 3: never'", f"请写出你用的参数和看到的结果，例如 '{required[0]} 3: 320' 或 "
                   f"'{required[0]} 3: never'")
    for flags, stop, never, accuracy in observations:
        if not any(flag in flags for flag in required):
            return say(f"'{' '.join(flags)}': this exercise is about {' or '.join(required)}",
                       f"'{' '.join(flags)}'：这道题要改的是 {' 或 '.join(required)}")
        if stop is None and not never:
            return say(f"'{' '.join(flags)}': say at which iteration it stopped, or 'never'",
                       f"'{' '.join(flags)}'：请写出停止时的迭代次数，或写 never（从未停止）")
        run = run_lesson(lesson, flags)
        if run.returncode == 2:
            return say(f"the lesson refuses these flags: {run.stderr.strip()}", f"课程脚本不接受这些参数：{run.stderr.strip()}")
        stopped = run.returncode == 0
        where = run.variables.get("stop_iteration")
        if never and stopped:
            return say(f"with {' '.join(flags)} the stop rule does hold: look again at the 'Stopped at' line",
                       f"用 {' '.join(flags)} 时停止条件是满足了的：再看看 'Stopped at' 那一行")
        if not never and not stopped:
            return say(f"with {' '.join(flags)} the run never stops: read its last line",
                       f"用 {' '.join(flags)} 时训练从未满足停止条件：看看最后一行输出")
        if stopped and stop != where:
            return say(f"with {' '.join(flags)} it does not stop at iteration {stop:g}: read the 'Stopped at' line",
                       f"用 {' '.join(flags)} 时并不是在第 {stop:g} 次迭代停止的：看 'Stopped at' 那一行")
        last_accuracy = run.variables.get("accuracy")
        if accuracy is not None and last_accuracy is not None and abs(accuracy - last_accuracy) > 0.005:
            return say(f"with {' '.join(flags)} the last accuracy printed is not {accuracy:.2%}",
                       f"用 {' '.join(flags)} 时最后打印的准确率不是 {accuracy:.2%}")
    return None


def _stops_at(lesson: str, flags: tuple) -> str:
    run = run_lesson(lesson, flags)
    if run.returncode == 0:
        return f"{' '.join(flags)}: {run.variables['stop_iteration']}"
    accuracy = run.variables.get("accuracy")
    return f"{' '.join(flags)}: never" + (f" ({accuracy:.2%})" if accuracy is not None else "")


def _check_number(answer, expected: float, tolerance: float, what: tuple) -> "str | None":
    numbers = numbers_in(answer.text)
    if not numbers:
        return say(f"hand in {what[0]} as a number", f"请把{what[1]}写成一个数字")
    if abs(numbers[0] - expected) > tolerance * max(1.0, abs(expected)):
        return say(f"{what[0]} is not {numbers[0]:g}", f"{what[1]}不是 {numbers[0]:g}")
    return None


def _check_numbers(answer, expected: list, tolerance: float, what: tuple) -> "str | None":
    numbers = numbers_in(answer.text)
    if len(numbers) != len(expected):
        return say(f"hand in {len(expected)} numbers: {what[0]}", f"请写出 {len(expected)} 个数：{what[1]}")
    for index, (given, right) in enumerate(zip(numbers, expected)):
        if abs(given - right) > tolerance * max(1.0, abs(right)):
            return say(f"number {index + 1} ({given:g}) is off", f"第 {index + 1} 个数（{given:g}）不对")
    return None


def _gradient_by_hand() -> list:
    """∂L/∂w and ∂L/∂b of L = mean(½(y − (w·x + b))²) at x = [1, 2], y = [3, 5], w = 1, b = 0, by autograd."""
    import torch

    x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 5.0])
    w, b = torch.tensor(1.0, requires_grad=True), torch.tensor(0.0, requires_grad=True)
    (0.5 * (y - (w * x + b)) ** 2).mean().backward()
    return [w.grad.item(), b.grad.item()]


def _switch_point() -> list:
    import torch
    return [0.0, torch.sigmoid(torch.tensor(0.0)).item()]


EXERCISES = [
    Exercise(
        id="linear-slope-stop", lesson=LINEAR, course=1,
        title=("Change the slope and the stop condition", "调整线性回归的斜率和停止条件"),
        prompt=("The notes' data is y = 2*x + (5 + torch.randn(20, 1)) and the loop stops when the loss is "
                "below 1. Change the slope and the stop condition, train again, and see where it stops.",
                "笔记的数据是 y = 2*x + (5 + torch.randn(20, 1))，loss 小于 1 时停止。调整斜率和停止条件，"
                "重新训练，看看它在哪里停止。"),
        attempt=("python lesson_regression/01_linear_regression.py --slope 3 --stop-loss 0.5 (any values; "
                 "try a stop loss below 0.4 too)",
                 "python lesson_regression/01_linear_regression.py --slope 3 --stop-loss 0.5（数值随意；"
                 "也试试小于 0.4 的停止条件）"),
        hand_in=("one line per run: the flags, then the iteration of the 'Stopped at' line, or 'never', e.g. "
                 "'--slope 3 --stop-loss 0.5: 320'",
                 "每次运行一行：参数，然后是 'Stopped at' 那行的迭代次数，或 never，例如 "
                 "'--slope 3 --stop-loss 0.5: 320'"),
        hint=("The loss is ½ the mean squared residual: the noise alone (std 1) leaves about 0.45 at best, "
              "so a stop loss below that can never hold.",
              "loss 是残差平方均值的一半：仅噪声（标准差 1）就至少留下约 0.45，停止条件低于它就永远达不到。"),
        check=lambda answer: _check_runs(answer, LINEAR, ("--slope", "--stop-loss", "--lr", "--iterations"),
                                         ("--slope", "--stop-loss")),
        solve=lambda: _stops_at(LINEAR, ("--slope", "3", "--stop-loss", "0.5")),
        explain=("A steeper slope changes w's target (3 instead of 2) but hardly the time to stop; a smaller "
                 "stop loss needs b to travel further towards 5, which is slow (x lies far from 0), so the "
                 "stop moves from iteration 80 to about 320. Below the noise floor (about 0.45 for 20 points "
                 "with std-1 noise) the rule never holds and the run says 'ran out of iterations'.",
                 "斜率变大只改变 w 的目标（3 而不是 2），几乎不影响停止时间；停止条件更小则要求 b 向 5 走得更远，"
                 "而 b 走得很慢（x 离 0 很远），停止点从第 80 次迭代移到约 320 次。低于噪声的下限（20 个点、"
                 "标准差 1 的噪声约 0.45）时永远不会停止，程序报告 'ran out of iterations'。")),
    Exercise(
        id="linear-gradient", lesson=LINEAR,
        title=("One gradient by hand", "手算一次梯度"),
        prompt=("With x = [1, 2], y = [3, 5], w = 1, b = 0 and the lesson's loss L = mean(½(y − (w·x + b))²), "
                "compute ∂L/∂w and ∂L/∂b by hand, then check with autograd.",
                "取 x = [1, 2]，y = [3, 5]，w = 1，b = 0，用本课的 loss L = mean(½(y − (w·x + b))²)，"
                "手算 ∂L/∂w 和 ∂L/∂b，再用 autograd 验证。"),
        attempt=("Write the two formulas of the lesson's README; then w.requires_grad_(), loss.backward(), w.grad.",
                 "写出 README 中的两个公式；然后 w.requires_grad_()、loss.backward()、看 w.grad。"),
        hand_in=("two numbers: ∂L/∂w, ∂L/∂b", "两个数：∂L/∂w，∂L/∂b"),
        hint=("∂L/∂w = mean((ŷ − y)·x), ∂L/∂b = mean(ŷ − y); here ŷ = [1, 2].",
              "∂L/∂w = mean((ŷ − y)·x)，∂L/∂b = mean(ŷ − y)；这里 ŷ = [1, 2]。"),
        check=lambda answer: _check_numbers(answer, _gradient_by_hand(), 1e-3, ("∂L/∂w, ∂L/∂b", "∂L/∂w，∂L/∂b")),
        solve=lambda: "-4, -2.5",
        explain=("ŷ − y = [1 − 3, 2 − 5] = [−2, −3]; ∂L/∂w = mean([−2·1, −3·2]) = −4; ∂L/∂b = mean([−2, −3]) = −2.5. "
                 "Both negative: the step w − lr·∂L/∂w makes w and b larger, towards the data.",
                 "ŷ − y = [1 − 3, 2 − 5] = [−2, −3]；∂L/∂w = mean([−2·1, −3·2]) = −4；∂L/∂b = mean([−2, −3]) = −2.5。"
                 "两者都是负数：更新 w − lr·∂L/∂w 会让 w 和 b 变大，靠近数据。")),
    Exercise(
        id="linear-diverge", lesson=LINEAR,
        title=("A learning rate too large", "学习率过大"),
        prompt=("Train with the learning rate 10. At which iteration does the loss become infinite?",
                "用学习率 10 训练。loss 在第几次迭代变成无穷大？"),
        attempt=("python lesson_regression/01_linear_regression.py --lr 10",
                 "python lesson_regression/01_linear_regression.py --lr 10"),
        hand_in=("the iteration the failure line names", "报错那一行给出的迭代次数"),
        hint=("The run fails with one line; it names the iteration.", "运行会以一行错误结束，那一行写着迭代次数。"),
        check=lambda answer: _check_number(answer, run_lesson(LINEAR, ("--lr", "10")).variables["iteration"], 0,
                                           ("the iteration", "迭代次数")),
        solve=lambda: str(run_lesson(LINEAR, ("--lr", "10")).variables["iteration"]),
        explain=("Each step multiplies the error by about (1 − lr·mean(x²)) ≈ 1 − 10·33: it overshoots and grows "
                 "about 300-fold per step, so float32 overflows to inf after a handful of steps.",
                 "每一步误差约乘以 (1 − lr·mean(x²)) ≈ 1 − 10·33：越过最小值并且每步放大约 300 倍，"
                 "几步之后 float32 就溢出为 inf。")),
    Exercise(
        id="logistic-mean-value", lesson=LOGISTIC, course=2,
        title=("Why it can classify; a smaller and a larger mean_value", "为什么能二分类；mean_value 变小或变大"),
        prompt=("Why can logistic regression separate two classes? Then set mean_value smaller (1) and larger "
                "(5): what happens to the training?",
                "逻辑回归为什么可以进行二分类？然后把 mean_value 调小（1）或调大（5）：训练会怎样？"),
        attempt=("python lesson_regression/02_logistic_regression.py --mean-value 1, then --mean-value 5",
                 "python lesson_regression/02_logistic_regression.py --mean-value 1，然后 --mean-value 5"),
        hand_in=("one line per run: the flags, then the stop iteration or 'never' (and the last accuracy, "
                 "e.g. '--mean-value 1: never, 91 %')",
                 "每次运行一行：参数，然后是停止的迭代次数或 never（可以加上最后的准确率，"
                 "例如 '--mean-value 1: never, 91 %'）"),
        hint=("The clouds have std 1; their centres are ±mean_value apart on each axis. How much do they overlap?",
              "两团点的标准差是 1，中心在每个坐标上相距 ±mean_value。它们重叠多少？"),
        check=lambda answer: _check_runs(answer, LOGISTIC, ("--mean-value", "--iterations"), ("--mean-value",)),
        solve=lambda: "\n".join(_stops_at(LOGISTIC, ("--mean-value", value)) for value in ("1", "5")),
        explain=("It classifies because p = sigmoid(w·x + b) is above 0.5 exactly on one side of the line "
                 "w·x + b = 0: a straight decision line. With mean_value 1 the clouds overlap (centres 2·√2 ≈ 2.8 "
                 "apart with std 1): no line gets 99 % right, the accuracy stalls near 91 % and the rule never "
                 "holds. With 5 they are far apart: the very first check is already 100 % and it stops at once.",
                 "因为 p = sigmoid(w·x + b) 恰好在直线 w·x + b = 0 的一侧大于 0.5：决策边界是一条直线。mean_value = 1 时"
                 "两团点重叠（中心相距约 2.8，标准差 1），没有直线能达到 99%，准确率停在 91% 左右，永远不满足停止条件。"
                 "mean_value = 5 时两团点相距很远，第一次检查就是 100%，立刻停止。")),
    Exercise(
        id="logistic-bias", lesson=LOGISTIC, course=2,
        title=("Change only the bias", "只改变 bias"),
        prompt=("Change only bias (the shift of both clouds): larger (5), or negative (−3). How does training go?",
                "只改变 bias（两团点的整体平移）：变大（5）或为负（−3）。训练情况如何？"),
        attempt=("python lesson_regression/02_logistic_regression.py --bias 5, then --bias -3",
                 "python lesson_regression/02_logistic_regression.py --bias 5，然后 --bias -3"),
        hand_in=("one line per run: the flags, then the stop iteration or 'never'",
                 "每次运行一行：参数，然后是停止的迭代次数或 never"),
        hint=("The classes are as far apart as before; what must the line's own b learn now?",
              "两类之间的距离没有变；那么直线自己的 b 现在需要学到什么？"),
        check=lambda answer: _check_runs(answer, LOGISTIC, ("--bias", "--iterations"), ("--bias",)),
        solve=lambda: _stops_at(LOGISTIC, ("--bias", "-3")),
        explain=("The clouds keep their distance, so a line still separates them; but it no longer passes near "
                 "the origin: b must grow to about |w|·bias, and with lr 0.01 it creeps there. Within the notes' "
                 "1000 iterations the accuracy reaches 99 % but not above it: 'never' (try --iterations 3000).",
                 "两团点的距离不变，仍然可以用直线分开；但这条直线不再经过原点附近：b 要增长到约 |w|·bias，"
                 "学习率 0.01 时它爬得很慢。在笔记的 1000 次迭代内准确率到了 99% 却没有超过：never"
                 "（试试 --iterations 3000）。")),
    Exercise(
        id="logistic-switch", lesson=LOGISTIC,
        title=("Where the answer switches", "类别在哪里切换"),
        prompt=("The model says class 1 when p = sigmoid(z) ≥ 0.5, with z = w·x + b. At which z does its answer "
                "switch, and what is p there?",
                "模型在 p = sigmoid(z) ≥ 0.5 时判为类别 1，z = w·x + b。z 等于多少时类别切换？此时 p 是多少？"),
        attempt=("torch.sigmoid(torch.tensor([-1., 0., 1.]))", "torch.sigmoid(torch.tensor([-1., 0., 1.]))"),
        hand_in=("two numbers: z, then p", "两个数：z，然后 p"),
        hint=("sigmoid(z) = 1 / (1 + e^(−z)); when is e^(−z) = 1?", "sigmoid(z) = 1 / (1 + e^(−z))；e^(−z) 何时等于 1？"),
        check=lambda answer: _check_numbers(answer, _switch_point(), 1e-6, ("z and p", "z 和 p")),
        solve=lambda: "z = 0, p = 0.5",
        explain=("p = 0.5 where e^(−z) = 1, i.e. z = 0: the points with w·x + b = 0 form a straight line, "
                 "the decision line the lesson draws; the log-odds ln[p/(1−p)] is 0 there.",
                 "e^(−z) = 1 即 z = 0 时 p = 0.5：满足 w·x + b = 0 的点构成一条直线，就是本课画出的决策边界；"
                 "在那里对数几率 ln[p/(1−p)] 等于 0。")),
]
