"""Reading a learner's answer the way a teacher would, and saying what is still wrong.

Numbers within a tolerance; shapes exactly; lists of values as values, however they are spelt
(Python or JSON lists, a printed tensor or NumPy array, rows split by `;` or by lines); lists of
steps forgiving case, underscores, module paths and small typos.
"""
import difflib
import math
import re

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# A number that is not part of a name (conv1, padding_1) and not the end of a dotted name.
_LOOSE_NUMBER = re.compile(rf"(?<![\w.])(?:{NUMBER}|nan|inf)(?![\w])", re.IGNORECASE)
_TOKEN = re.compile(rf"[\[\](){{}}]|;|\n|(?<![\w.])(?:{NUMBER})(?![\w])")
_NOISE = re.compile(r"(['\"]).*?\1|dtype\s*=\s*[\w.]+|device\s*=\s*\S+|grad_fn\s*=\s*<[^>]*>|"
                    r"requires_grad\s*=\s*\w+|torch\.Size|tensor|array", re.IGNORECASE)


def say(english: str, chinese: str) -> str:
    """One message in both languages, English first."""
    return f"{english}\n  {chinese}"


def numbers_in(text: str) -> list:
    """Every number written in `text`, in order (floats)."""
    return [float(match) for match in _LOOSE_NUMBER.findall(text)]


def parse_values(text: str):
    """A number or a nested list of numbers from any common spelling.

    '[[1, 2], [3, 4]]', 'tensor([[1., 2.], [3., 4.]])', '[[1 2] [3 4]]' (NumPy's print), '1 2; 3 4'
    and two lines '1 2' / '3 4' all give [[1.0, 2.0], [3.0, 4.0]]. Where brackets are used, numbers
    outside every bracket (as in 'padding 1: [...]') are words, not values. Several top-level lists
    give a list of them. None when there is no number at all.
    """
    tokens = _TOKEN.findall(_NOISE.sub(" ", text))
    if not any(token in "[({" for token in tokens):  # no brackets: rows by ';' or by lines
        rows = [[float(token) for token in row] for row in _split(tokens, (";", "\n")) if row]
        if not rows:
            return None
        if len(rows) == 1:
            return rows[0][0] if len(rows[0]) == 1 else rows[0]
        return rows
    stack, groups = [[]], []
    for token in tokens:
        if token in "[({":
            stack.append([])
        elif token in "])}":
            if len(stack) > 1:
                closed = stack.pop()
                (groups if len(stack) == 1 else stack[-1]).append(closed)
        elif token not in (";", "\n") and len(stack) > 1:
            stack[-1].append(float(token))
    groups = [group for group in groups if group != []]
    if not groups:
        return None
    return groups[0] if len(groups) == 1 else groups


def _split(tokens, separators):
    row = []
    for token in tokens:
        if token in separators:
            yield row
            row = []
        else:
            row.append(token)
    yield row


def squeeze_leading(values):
    """[[[...]]] with leading size-1 levels removed: a batch dimension of 1 is no mistake."""
    while isinstance(values, list) and len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    return values


def shape_of(values) -> "tuple | None":
    """The shape of a rectangular nested list, () for a number, None if ragged."""
    if not isinstance(values, list):
        return ()
    shapes = {shape_of(item) for item in values}
    if len(shapes) != 1 or None in shapes:
        return None if values else (0,)
    return (len(values), *shapes.pop())


def first_difference(given, expected, tolerance: float, where=()):
    """The index path of the first value of `given` off from `expected` by more than `tolerance`
    (relative to the expected value's size, at least absolute), or None if all agree."""
    if isinstance(expected, list):
        if not isinstance(given, list) or len(given) != len(expected):
            return where
        for index, (mine, theirs) in enumerate(zip(given, expected)):
            found = first_difference(mine, theirs, tolerance, (*where, index))
            if found is not None:
                return found
        return None
    if isinstance(given, list) or not close(given, expected, tolerance):
        return where
    return None


def close(given: float, expected: float, tolerance: float) -> bool:
    if math.isnan(expected):
        return math.isnan(given)
    return abs(given - expected) <= tolerance * max(1.0, abs(expected))


def compare_values(text: str, expected, tolerance: float = 1e-3, what: str = "value") -> "str | None":
    """None if `text` holds `expected` (a number or nested list) within `tolerance`, else what is wrong
    (without giving the right value away)."""
    given = parse_values(text)
    if given is None:
        return say(f"no number found in your answer; hand in the {what} as a number or a list such as [[1, 2], [3, 4]]",
                   f"答案里没有数字；请把{what}写成数字或列表，例如 [[1, 2], [3, 4]]")
    given, expected = squeeze_leading(given), squeeze_leading(expected)
    given_shape, expected_shape = shape_of(given), shape_of(expected)
    if expected_shape is not None and given_shape != expected_shape:
        return say(f"your answer has shape {_spell(given_shape)}; the {what} has another shape",
                   f"你的答案形状是 {_spell(given_shape)}；正确的形状不是这个")
    if expected_shape is None and (not isinstance(given, list) or len(given) != len(expected)):
        return say(f"your answer has {len(given) if isinstance(given, list) else 1} parts; the {what} has {len(expected)}",
                   f"你的答案有 {len(given) if isinstance(given, list) else 1} 部分；应该有 {len(expected)} 部分")
    where = first_difference(given, expected, tolerance)
    if where is None:
        return None
    position = "".join(f"[{index}]" for index in where)
    return say(f"the {what} at {position or 'the top'} is off (allowed: ±{tolerance:g}, relative to its size)",
               f"位置 {position or '(整体)'} 的数值不对（允许误差 ±{tolerance:g}）")


def _spell(shape) -> str:
    return "ragged (rows of different lengths)" if shape is None else str(tuple(shape))


def parse_shape(text: str) -> tuple:
    """(1, 1, 510, 510) from 'torch.Size([1, 1, 510, 510])', '1x1x510x510', '1×1×510×510', ..."""
    return tuple(int(number) for number in re.findall(r"\d+", re.sub(r"torch\.Size", "", text)))


# --- steps: a learner's list of Class.function names -------------------------------------------

_STEP_SEPARATORS = re.compile(r"\n|,|;|->|→|=>|>")
_BRACKETED = re.compile(r"\([^()\n]*\)|\[[^\[\]\n]*\]")  # arguments, file references
_STEP_NOISE = re.compile(r"\bin\b.*$|\S+\.py(:\d+)?|^\s*(?:\d+[.)]|[-*•])\s*")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def parse_steps(text: str) -> list:
    """[(as written, class key or '', function key)] from a list of steps in any common spelling.

    'torch.nn.modules.module.Module.__setattr__(self, name, value)', 'Module.__setattr__',
    'module.setattr' and '1. Module.__setattr__ (module.py:1950)' all give ('module', 'setattr').
    """
    steps = []
    while _BRACKETED.search(text):
        text = _BRACKETED.sub(" ", text)
    for raw in _STEP_SEPARATORS.split(text):
        cleaned = _STEP_NOISE.sub(" ", raw).strip().strip(":")
        words = cleaned.split()
        if not words:
            continue
        parts = [part for part in words[0].split(".") if part and part != "<locals>"]
        if not parts:
            continue
        function = parts[-1]
        owner = parts[-2] if len(parts) > 1 else ""
        steps.append((raw.strip(), _key(owner), _key(function)))
    return steps


def _similar(a: str, b: str, ratio: float) -> bool:
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= ratio


def step_matches(step, frame) -> bool:
    """Does the learner's step (from parse_steps) name this traced frame (module, qualname)?

    The function must agree up to a typo; the class, when given, may be shortened ('fetcher' for
    _MapDatasetFetcher), misspelt a little, or be the module's name."""
    _, owner, function = step
    module, qualname = frame
    parts = [part for part in qualname.split(".") if part != "<locals>"]
    frame_function, frame_owner = _key(parts[-1]), _key(parts[-2]) if len(parts) > 1 else ""
    if not _similar(function, frame_function, 0.85):
        return False
    if not owner:
        return True
    candidates = [candidate for candidate in (frame_owner, _key(module.rpartition(".")[2])) if candidate]
    return any(owner in candidate or _similar(owner, candidate, 0.8) for candidate in candidates)
