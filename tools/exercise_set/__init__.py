"""The exercises behind tools/exercises.py: each with its prompt in English and Chinese, what to try,
what to hand in, a hint, a check and a worked solution. One module per lesson folder; the checks
import torch only when they run, so that listing the exercises stays instant.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional


@dataclass(frozen=True)
class Answer:
    text: str  # what the learner handed in (a file's content for --file)
    path: Optional[Path] = None  # the file, for the exercises that import it


@dataclass(frozen=True)
class Exercise:
    id: str
    lesson: str  # the lesson it goes with, e.g. "lesson_regression/01_linear_regression"
    title: tuple  # (English, 中文), and so on for every text
    prompt: tuple
    attempt: tuple  # what to try: a flag of the lesson, an edit, a debugger session
    hand_in: tuple
    hint: tuple
    check: Callable  # check(Answer) -> None when right, else what is still wrong (both languages)
    solve: Callable  # solve() -> the answer a worked solution hands in (file content for file exercises)
    explain: tuple  # the worked solution's reasoning
    course: Optional[int] = None  # the course's own homework number (作业), None for ours
    file: bool = False  # the answer is a file: check ID --file F


def all_exercises() -> dict:
    """{id: Exercise} in the order of the lessons."""
    from tools.exercise_set import init, layers, models, regression

    # The notes' order of the folders, and the lessons' order within each.
    exercises = [exercise for module in (regression, models, init, layers)
                 for exercise in sorted(module.EXERCISES, key=lambda exercise: exercise.lesson)]
    return {exercise.id: exercise for exercise in exercises}
