"""Everything the lessons share: seeding, device, flags, figures, metrics, images, data.

Import the module you need (`from tools.cli import lesson_parser`); this package re-exports nothing,
so that a reader always sees where a helper lives.
"""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
OUTPUTS_DIR = REPO_ROOT / "outputs"
QUICK_OUTPUTS_DIR = OUTPUTS_DIR / "quick"  # --quick runs write here, never over the full course
