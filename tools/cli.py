"""The shared command-line flags of every lesson, defined once.

    parser = lesson_parser(__file__, __doc__, default_seed=10)
    parser.add_argument("--lr", type=positive_float, default=0.05, help="learning rate")
    args = parse_lesson_args(parser)
    # args.device is a torch.device that exists, args.out_dir a folder that exists

Shared flags: --device, --seed, --out-dir, --show, --quick, --deterministic. Every bad value is one
line on stderr and exit status 2. Inside Jupyter or IPython the kernel's own argv is ignored, so
the defaults apply.
"""
import argparse
import sys
from pathlib import Path

from tools import OUTPUTS_DIR
from tools.device import DEVICE_CHOICES, resolve_device
from tools.errors import USAGE_EXIT_CODE, fail
from tools.seeding import MAX_SEED


class LessonArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (no usage block) and exit status 2."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(USAGE_EXIT_CODE)


def _number_type(convert, predicate, requirement: str):
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {requirement}, got {text!r}") from None
        if not predicate(value):
            raise argparse.ArgumentTypeError(f"expected {requirement}, got {text!r}")
        return value
    parse.__name__ = requirement  # argparse names the type in some messages
    return parse


positive_int = _number_type(int, lambda v: v > 0, "a whole number > 0")
non_negative_int = _number_type(int, lambda v: v >= 0, "a whole number >= 0")
positive_float = _number_type(float, lambda v: v > 0 and v != float("inf"), "a number > 0")
seed_int = _number_type(int, lambda v: 0 <= v <= MAX_SEED, f"a whole number in [0, {MAX_SEED}]")


def default_out_dir(script: "str | Path") -> Path:
    """outputs/<lesson folder>/<script stem>/ under the repo root, wherever the run starts."""
    script = Path(script).resolve()
    return OUTPUTS_DIR / script.parent.name / script.stem


def lesson_parser(script: "str | Path", doc: "str | None", default_seed: int) -> LessonArgumentParser:
    """A parser that already knows the shared flags; the lesson adds its own."""
    script = Path(script)
    parser = LessonArgumentParser(
        prog=script.name,
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    shared = parser.add_argument_group("shared flags (the same in every lesson)")
    shared.add_argument("--device", default="auto",
                        help=f"{DEVICE_CHOICES}; auto picks cuda, then mps, then cpu (default: auto)")
    shared.add_argument("--seed", type=seed_int, default=default_seed,
                        help=f"seed for every random generator (default: {default_seed}, as in the notes)")
    shared.add_argument("--out-dir", type=Path, default=default_out_dir(script),
                        help="where figures and metrics.json go "
                             "(default: outputs/<lesson folder>/<script>/ under the repo)")
    shared.add_argument("--show", action="store_true",
                        help="also open figure windows (needs an interactive matplotlib backend)")
    shared.add_argument("--quick", action="store_true",
                        help="a much smaller run through every code path (what the smoke tests use)")
    shared.add_argument("--deterministic", action="store_true",
                        help="ask PyTorch for deterministic kernels only (slower; same bits on a GPU)")
    return parser


def running_in_notebook_kernel() -> bool:
    """True inside a Jupyter/IPython kernel, whose argv (`-f kernel.json`) is not ours to parse."""
    return bool(sys.argv) and Path(sys.argv[0]).name == "ipykernel_launcher.py"


def prepare_out_dir(out_dir: Path) -> Path:
    """Create the out-dir (and its parents); an existing file or an uncreatable path is an error."""
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out-dir {out_dir}: is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"--out-dir {out_dir}: cannot be created ({error.strerror or error})")
    return out_dir.resolve()


def parse_lesson_args(parser: argparse.ArgumentParser, argv: "list[str] | None" = None) -> argparse.Namespace:
    """Parse, then check the flags that argparse cannot: the device exists, the out-dir is usable."""
    if argv is None and running_in_notebook_kernel():
        argv = []
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    args.out_dir = prepare_out_dir(args.out_dir)
    return args
