"""The READMEs come in pairs, README.md and README.zh-CN.md, and say the same things: the same
commands, file names, table rows and numbers (a reader of either must be able to run what it says
and find what it names). Each English README links its Chinese pair in its first lines, and back."""
import re
from pathlib import Path

import pytest

from conftest import REPO_ROOT

ENGLISH_READMES = [REPO_ROOT / "README.md", *sorted(REPO_ROOT.glob("lesson_*/README.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
FILE_NAME = re.compile(r"[\w./-]+\.(?:py|md|json|png|jpg|gif|txt|pt|ipynb|html)\b")
# A number as a README writes it: 61,100,840 or 0.6443 or 7.67e-6 or 95 (inside words like
# "conv2d" or "fc6" digits are names, not numbers).
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")


def chinese_pair(english: Path) -> Path:
    return english.with_name("README.zh-CN.md")


def commands(text: str) -> list:
    """The fenced blocks, line by line, with comments (# ...) dropped: the commands must be equal,
    their explanations are in the reader's language."""
    lines = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            code = re.split(r"\s+#\s", line, maxsplit=1)[0].rstrip()
            if code:
                lines.append(code)
    return lines


def prose(text: str) -> str:
    return FENCE.sub("", text)


def table_shapes(text: str) -> list:
    """(rows, columns) of every Markdown table, in order."""
    shapes, rows = [], []
    for line in prose(text).splitlines() + [""]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            shapes.append((len(rows), rows[0].count("|") - 1))
            rows = []
    return shapes


def numbers(text: str) -> set:
    return {match.replace(",", "") for match in NUMBER.findall(prose(text))}


@pytest.fixture(params=ENGLISH_READMES, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def pair(request) -> tuple:
    english = request.param
    chinese = chinese_pair(english)
    assert chinese.is_file(), f"{chinese.relative_to(REPO_ROOT)} is missing"
    return english.read_text(encoding="utf-8"), chinese.read_text(encoding="utf-8")


def test_each_links_the_other_in_its_first_lines(pair):
    english, chinese = pair
    assert "README.zh-CN.md" in "\n".join(english.splitlines()[:6])
    assert "README.md" in "\n".join(chinese.splitlines()[:6])
    assert re.search(r"[\u4e00-\u9fff]{200}", re.sub(r"[^\u4e00-\u9fff]", "", chinese)), "hardly any Chinese text"


def test_same_commands(pair):
    english, chinese = pair
    assert commands(english) == commands(chinese)


def test_same_file_names(pair):
    english, chinese = pair
    assert set(FILE_NAME.findall(english)) == set(FILE_NAME.findall(chinese))


def test_same_tables(pair):
    english, chinese = pair
    assert table_shapes(english) == table_shapes(chinese)


def test_same_numbers(pair):
    english, chinese = pair
    only_english, only_chinese = numbers(english) - numbers(chinese), numbers(chinese) - numbers(english)
    assert not only_english and not only_chinese, f"only in English: {sorted(only_english)}; only in Chinese: {sorted(only_chinese)}"


def test_the_checks_notice_a_difference():
    """The comparisons above fail on a pair that differs in one command, file, row or number."""
    base = "# T\n\nSee `a.py`, 0.6443.\n\n```\npython a.py --x 1   # run\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert commands(base) == commands(base.replace("# run", "# 运行"))
    assert commands(base) != commands(base.replace("--x 1", "--x 2"))
    assert set(FILE_NAME.findall(base)) != set(FILE_NAME.findall(base.replace("a.py`", "b.py`")))
    assert table_shapes(base) != table_shapes(base + "| 3 | 4 |\n")
    assert numbers(base) != numbers(base.replace("0.6443", "0.644"))
    assert numbers("conv2d fc6 layer 31") == {"31"}
