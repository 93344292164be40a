"""One way for every lesson to refuse bad input: one line on stderr, exit status 2, no traceback."""
import sys
from pathlib import Path
from typing import NoReturn

USAGE_EXIT_CODE = 2  # the status argparse uses for bad command lines; we use it for all bad input


def fail(message: str) -> NoReturn:
    """Print `<script>: error: <message>` on stderr and exit with status 2.

    Raises SystemExit, so a debugger or a notebook sees a clean stop rather than a crash.
    """
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    print(f"{program}: error: {message}", file=sys.stderr)
    raise SystemExit(USAGE_EXIT_CODE)
