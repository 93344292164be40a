"""The start of every lesson: its flags, defined once, and one call that does the common setup.

    parser = lesson_parser("lesson_models/02_train_lenet.py", __doc__, default_seed=1,
                           quick="5 epochs on 200 small photos")
    parser.add_argument("--lr", type=learning_rate, default=0.01, help="learning rate (default: 0.01)")
    args = start_lesson(parser)
    # flags checked, every generator seeded, args.device a torch.device that exists,
    # args.out_dir a folder we may write, console output safe on any encoding

Shared flags: --device, --seed, --out-dir, --show, --quick, --deterministic. Every bad value, and a
torch/NumPy pair that cannot work, is one line on stderr and exit status 2. torch's CPU threads:
OMP_NUM_THREADS where it is set, else tools.device.default_threads(). Inside Jupyter the kernel's
own argv is ignored: the flags come from the LESSON_ARGS environment variable (e.g.
LESSON_ARGS="--quick --device cpu"), else defaults.
"""
import argparse
import math
import os
import shlex
import sys
import tempfile
from pathlib import Path

from tools import OUTPUTS_DIR, QUICK_OUTPUTS_DIR
from tools.device import DEVICE_CHOICES, resolve_device, set_cpu_threads
from tools.errors import fail, install_error_hook, running_in_notebook_kernel
from tools.metrics import start_metrics
from tools.seeding import MAX_SEED, set_seed
from tools.versions import check_numpy_bridge, check_versions

NOTEBOOK_ARGS_VARIABLE = "LESSON_ARGS"
MAX_COUNT = 1_000_000  # the largest epoch, iteration or batch count any flag accepts
MAX_LEARNING_RATE = 1000.0  # large enough to watch a run diverge, small enough to stay a number


class LessonArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (no usage block) and exit status 2."""

    def error(self, message: str):
        fail(f"{message} (see --help)")


def _number_type(convert, low, high, requirement: str, low_open=False, high_open=False):
    """An argparse type: `convert` the text, then check it is finite and within [low, high]
    (or an open end where asked). The error names the range, e.g. 'a number in [0, 1)'."""
    def parse(text: str):
        try:
            value = convert(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {requirement}, got {text!r}") from None
        in_range = (math.isfinite(value)
                    and (low < value if low_open else low <= value)
                    and (value < high if high_open else value <= high))
        if not in_range:
            raise argparse.ArgumentTypeError(f"expected {requirement}, got {text!r}")
        return value
    parse.__name__ = requirement  # argparse names the type in some messages
    return parse


def int_between(low: int, high: int):
    return _number_type(int, low, high, f"a whole number in [{low}, {high:,}]")


def float_between(low: float, high: float, low_open: bool = False, high_open: bool = False):
    brackets = ("(" if low_open else "[", ")" if high_open else "]")
    return _number_type(float, low, high, f"a number in {brackets[0]}{low:g}, {high:g}{brackets[1]}",
                        low_open, high_open)


positive_int = int_between(1, MAX_COUNT)
non_negative_int = int_between(0, MAX_COUNT)
positive_float = _number_type(float, 0, math.inf, "a finite number > 0", low_open=True, high_open=True)
learning_rate = float_between(0, MAX_LEARNING_RATE, low_open=True)
momentum = float_between(0, 1, high_open=True)  # 1 or more never forgets a gradient: SGD runs away
seed_int = int_between(0, MAX_SEED)


def folder_path(text: str) -> Path:
    """An argparse type for folders: an empty string is refused (Path("") would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty path (it would mean the current folder)")
    return Path(text).expanduser()


def make_console_safe() -> None:
    """Print anything on any console: a character the console's encoding (cp1252 on English
    Windows, gbk on Chinese Windows) cannot show becomes '?', instead of a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a notebook kernel's streams have no encoding limits
            stream.reconfigure(errors="replace")


def default_out_dir(lesson: "str | Path", quick: bool = False) -> Path:
    """outputs/<lesson folder>/<script stem>/ under the repo root (outputs/quick/... for --quick)."""
    lesson = Path(lesson)
    return (QUICK_OUTPUTS_DIR if quick else OUTPUTS_DIR) / lesson.parent.name / lesson.stem


def lesson_parser(lesson: "str | Path", doc: "str | None", default_seed: int,
                  quick: "str | None" = None) -> LessonArgumentParser:
    """A parser that already knows the shared flags; the lesson adds its own.

    lesson: the script's path from the repo root, e.g. "lesson_models/02_train_lenet.py" (named,
    not taken from __file__, which a notebook kernel does not have). quick: what --quick makes
    smaller in this lesson, for its help; None for a lesson that has no smaller mode.
    """
    make_console_safe()  # before anything prints, --help included
    lesson = Path(lesson)
    parser = LessonArgumentParser(prog=lesson.name, description=doc,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(lesson=lesson.as_posix())
    shared = parser.add_argument_group("shared flags (the same in every lesson)")
    shared.add_argument("--device", default="auto",
                        help=f"{DEVICE_CHOICES}: auto picks cuda, then mps, then cpu (default: auto)")
    shared.add_argument("--seed", type=seed_int, default=default_seed,
                        help=f"seed of every random generator (default: {default_seed}, as in the notes)")
    shared.add_argument("--out-dir", type=folder_path, default=None,
                        help=f"where figures and metrics.json go (default: outputs/{lesson.parent.name}/"
                             f"{lesson.stem}/, with --quick outputs/quick/...)")
    shared.add_argument("--show", action="store_true", help="also open figure windows")
    shared.add_argument("--quick", action="store_true",
                        help=f"a smaller run: {quick}" if quick else
                        "this lesson has no smaller mode (it is fast already); only the outputs "
                        "go to outputs/quick/")
    shared.add_argument("--deterministic", action="store_true",
                        help="deterministic kernels only (slower; the same bits on a GPU)")
    return parser


def prepare_out_dir(out_dir: "Path | str") -> Path:
    """Create the out-dir and check that we may write there, before any work is done.

    An empty path, a file, a path too long, a folder that cannot be created or written: one line
    naming --out-dir and the cause, exit status 2.
    """
    if str(out_dir).strip() == "":
        fail("--out-dir '': expected a folder, got an empty path (it would mean the current folder)")
    out_dir = Path(out_dir).expanduser()
    try:
        if out_dir.exists() and not out_dir.is_dir():
            fail(f"--out-dir {out_dir}: is a file, not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):  # a real write: permissions, read-only mounts, /proc
            pass
    except OSError as error:
        fail(f"--out-dir {out_dir}: cannot be created or written ({error.strerror or error})")
    return out_dir.resolve()


def start_lesson(parser: argparse.ArgumentParser, argv: "list[str] | None" = None) -> argparse.Namespace:
    """Parse and check the flags, then the setup every lesson does the same way.

    The installed versions must be in the tested range, the device must exist, the out-dir must be
    writable; then torch gets its CPU threads, every generator is seeded, metrics.json is started
    afresh in the out-dir, and Ctrl-C or an uncaught OSError becomes one line on stderr.
    """
    in_kernel = running_in_notebook_kernel()
    install_error_hook()  # again (the lesson did at its top): harmless, and does nothing in a kernel
    check_versions()  # metadata only: cheap, and before a wrong pair can fail somewhere deep inside
    check_numpy_bridge()
    if argv is None and in_kernel:
        argv = shlex.split(os.environ.get(NOTEBOOK_ARGS_VARIABLE, ""))
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    if args.out_dir is None:
        args.out_dir = default_out_dir(getattr(args, "lesson", parser.prog), args.quick)
    args.out_dir = prepare_out_dir(args.out_dir)
    set_cpu_threads()  # OMP_NUM_THREADS if set, else few: these models are small (tools/device.py)
    set_seed(args.seed, args.deterministic)
    start_metrics(args.out_dir, device=str(args.device))
    return args
