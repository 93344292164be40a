"""Exercises for the lessons, each with a check: the course's homework (作业) and ours.

    python tools/exercises.py                                 # the list: id, lesson, title, passed
    python tools/exercises.py show conv-by-hand               # the prompt (English, 中文), what to try and hand in
    python tools/exercises.py check linear-by-hand "[[14.5, 1.5]]"     # right (exit 0) or not yet, with a hint (exit 1)
    python tools/exercises.py check own-dataset --file my_dataset.py   # an answer that is a file
    python tools/exercises.py solution conv-by-hand           # the worked solution, only when asked

In a notebook cell:

    from tools.exercises import check, show
    show("pool-by-hand")
    check("pool-by-hand", [[6, 8, 9], [16, 18, 19], [21, 23, 24]])   # True or False, and what is wrong

Which checks passed is kept in outputs/exercises/progress.json and shown by the list.
"""
import argparse
import json
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

if __name__ == "__main__":  # run as a script: this repo first on sys.path, not tools/ itself
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from tools import OUTPUTS_DIR  # noqa: E402
from tools.cli import make_console_safe  # noqa: E402
from tools.errors import fail, fail_run, install_error_hook  # noqa: E402
from tools.exercise_set import Answer, all_exercises  # noqa: E402

PROGRESS_FILE = OUTPUTS_DIR / "exercises" / "progress.json"
WIDTH = 100


def exercise(exercise_id: str):
    exercises = all_exercises()
    if exercise_id not in exercises:
        fail(f"no exercise {exercise_id!r}; the list: python tools/exercises.py")
    return exercises[exercise_id]


def progress() -> dict:
    """{id: when it passed} of the checks passed so far."""
    try:
        return json.loads(PROGRESS_FILE.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _remember(exercise_id: str) -> None:
    passed = progress()
    passed[exercise_id] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        PROGRESS_FILE.parent.mkdir(parents=True, exist_ok=True)
        PROGRESS_FILE.write_text(json.dumps(passed, indent=2) + "\n", encoding="utf-8")
    except OSError as error:  # a read-only checkout: the check itself still counts
        print(f"(progress not saved: {PROGRESS_FILE}: {error.strerror or error})", file=sys.stderr)


def listing() -> str:
    passed = progress()
    rows = [f"{'id':22} {'lesson':42} title", ""]
    for item in all_exercises().values():
        mark = "✓" if item.id in passed else " "
        course = f"作业 {item.course}" if item.course else "ours"
        rows.append(f"{mark} {item.id:20} {item.lesson:42} {item.title[0]} / {item.title[1]} ({course})")
    rows += ["", f"{len(passed)} of {len(rows) - 2} passed. show ID, check ID ANSWER, solution ID (see --help)."]
    return "\n".join(rows)


def _block(label: str, texts: tuple) -> str:
    english, chinese = texts
    # A Chinese character takes two columns of a console: half as many per line.
    wrap = lambda text, width: textwrap.fill(text, width, initial_indent="  ", subsequent_indent="  ")  # noqa: E731
    return f"{label}\n{wrap(english, WIDTH)}\n{wrap(chinese, WIDTH // 2)}"


def describe(exercise_id: str) -> str:
    item = exercise(exercise_id)
    course = f"the course's homework {item.course} (作业 {item.course})" if item.course else "ours (本项目补充)"
    how = f"python tools/exercises.py check {item.id} --file YOUR_FILE.py" if item.file else \
        f"python tools/exercises.py check {item.id} \"YOUR ANSWER\""
    return "\n\n".join([f"{item.id}: {item.title[0]} / {item.title[1]}\n  {item.lesson}, {course}",
                        _block("Exercise / 题目", item.prompt), _block("Try / 动手", item.attempt),
                        _block("Hand in / 提交", item.hand_in),
                        f"Check / 检查\n  {how}\n  (an answer that is not yet right comes with a hint / 答案不对时会给出提示)"])


def check(exercise_id: str, answer=None, file=None, quiet: bool = False) -> bool:
    """Check an answer (text, a number, a nested list) or a file; print right or not yet with a
    hint; keep the progress. True when right."""
    item = exercise(exercise_id)
    if file is not None:
        path = Path(file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            fail(f"--file {path}: cannot be read ({getattr(error, 'strerror', None) or error})")
        given = Answer(text, path.resolve())
    elif answer is None:
        fail(f"check {exercise_id}: give an answer, or --file FILE")
    else:
        given = Answer(answer if isinstance(answer, str) else repr(answer))
    problem = item.check(given)
    if problem is None:
        _remember(exercise_id)
        if not quiet:
            print(f"{exercise_id}: right. / 正确。  (python tools/exercises.py solution {exercise_id}: the worked answer)")
        return True
    if not quiet:
        print(f"{exercise_id}: not yet. / 还不对。\n  {problem}\n\n{_block('Hint / 提示', item.hint)}")
    return False


def show(exercise_id: str) -> None:
    print(describe(exercise_id))


def solution(exercise_id: str) -> str:
    item = exercise(exercise_id)
    return f"{item.id}: the worked solution / 参考答案\n\n{item.solve()}\n\n{_block('Why / 解释', item.explain)}"


def main(argv=None) -> None:
    make_console_safe()
    parser = argparse.ArgumentParser(prog="exercises.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("list", help="the exercises (the default)")
    commands.add_parser("show", help="one exercise").add_argument("id")
    checking = commands.add_parser("check", help="check an answer: exit 0 when right, 1 when not yet")
    checking.add_argument("id")
    checking.add_argument("answer", nargs="*", help="the answer (quote it, or give several words)")
    checking.add_argument("--file", help="a file that is the answer (your Dataset, your AlexNet)")
    commands.add_parser("solution", help="the worked solution").add_argument("id")
    args = parser.parse_args(argv)
    if args.command in (None, "list"):
        print(listing())
    elif args.command == "show":
        show(args.id)
    elif args.command == "solution":
        print(solution(args.id))
    elif not check(args.id, " ".join(args.answer) if args.answer else None, file=args.file):
        fail_run(f"{args.id}: not yet right")  # exit status 1, after the hint


if __name__ == "__main__":
    install_error_hook()  # a wrong id or file, Ctrl-C: one line on stderr
    main()
