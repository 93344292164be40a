"""Build a fresh virtual environment for a named set of versions and run the lesson tests in it.

    python course/compat.py oldest      # requirements.txt's lower bounds, exactly, on Python 3.10
    python course/compat.py newest      # today's newest allowed versions, on Python 3.13
    python course/compat.py oldest -- -x tests/test_smoke.py   # pytest arguments after --

The sets: `oldest` pins every package of requirements.txt to its lower bound (torch==2.0.1,
torchvision==0.15.2, numpy==1.24, ...) and pyparsing to its time (OLDEST_ERA); `newest` installs
requirements-dev.txt with --upgrade.
The venv is .venv-compat-<set>/ in the repo (ignored by git), made afresh each run; the Python is
found with `pyenv prefix <version>`, else as python<version> on PATH (--python to name one).
Then: the installed versions, and `python -m pytest` on the smoke test and the claim tests
(SELECTION below). Exit status: pytest's, or 2 if the venv could not be made.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.versions import COURSE_PACKAGES, minimum_versions  # noqa: E402

PYTHONS = {"oldest": "3.10", "newest": "3.13"}
# What the oldest set also needs from its own time: today's pyparsing (3.3) deprecates the names that
# matplotlib 3.7 calls, and the smoke test turns every DeprecationWarning into an error.
OLDEST_ERA = ["pyparsing<3.3"]
# The smoke test (every lesson runs), the claim tests, and the version checks (tools, doctor).
SELECTION = ["tests/test_smoke.py", "tests/test_lesson_*.py", "tests/test_new_series.py",
             "tests/test_tools.py", "tests/test_doctor.py"]
SHOW_VERSIONS = ("import sys, importlib.metadata as m; print('Python', sys.version.split()[0]); "
                 f"[print(n, m.version(n)) for n in {COURSE_PACKAGES!r}]")


def find_python(version: str) -> str:
    """The interpreter of a Python version: pyenv's (e.g. `pyenv prefix 3.10`), else python3.10."""
    if shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True)
        candidates = [line for line in found.stdout.split() if line]
        if found.returncode == 0 and candidates:
            return str(Path(candidates[-1]) / "bin" / "python")
        # `pyenv prefix 3.10` wants a full version: take the newest installed 3.10.x
        installed = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True).stdout.split()
        matching = sorted((v for v in installed if v.startswith(version + ".")),
                          key=lambda v: [int(p) for p in v.split(".") if p.isdigit()])
        if matching:
            prefix = subprocess.run(["pyenv", "prefix", matching[-1]], capture_output=True, text=True).stdout.strip()
            return str(Path(prefix) / "bin" / "python")
    on_path = shutil.which(f"python{version}")
    if on_path:
        return on_path
    raise SystemExit(f"compat.py: error: no Python {version} found (pyenv or python{version} on PATH); "
                     "name one with --python")


def install_arguments(set_name: str) -> "list[str]":
    """pip install's arguments for the set: the dev requirements, plus the pins of `oldest`."""
    arguments = ["-r", "requirements-dev.txt"]
    if set_name == "oldest":
        return arguments + [f"{name}=={bound}" for name, bound in minimum_versions().items()] + OLDEST_ERA
    return ["--upgrade"] + arguments


def main() -> int:
    parser = argparse.ArgumentParser(prog="compat.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", choices=sorted(PYTHONS), help="which versions to install")
    parser.add_argument("--python", help="the interpreter to build the venv with (default: found by version)")
    parser.add_argument("--venv", type=Path, help="where to build it (default: .venv-compat-<set>/)")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest arguments instead of SELECTION")
    args = parser.parse_args()

    python = args.python or find_python(PYTHONS[args.set])
    venv = (args.venv or REPO_ROOT / f".venv-compat-{args.set}").resolve()
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    venv_python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    steps = [[python, "-m", "venv", str(venv)],
             [str(venv_python), "-m", "pip", "install", "-q", *install_arguments(args.set)]]
    for step in steps:
        print("+", " ".join(step), flush=True)
        if subprocess.run(step, cwd=REPO_ROOT).returncode != 0:
            print(f"compat.py: error: could not build the {args.set} venv ({' '.join(step[:4])} failed)",
                  file=sys.stderr)
            return 2
    print(f"{args.set} set, installed in {time.monotonic() - started:.0f} s:", flush=True)
    subprocess.run([str(venv_python), "-c", SHOW_VERSIONS], cwd=REPO_ROOT)
    selection = args.pytest_args or sorted({str(path.relative_to(REPO_ROOT)) for pattern in SELECTION
                                            for path in REPO_ROOT.glob(pattern)})
    test_started = time.monotonic()
    tests = subprocess.run([str(venv_python), "-m", "pytest", "-q", *selection], cwd=REPO_ROOT)
    print(f"compat.py: {args.set} set: pytest exited {tests.returncode} after {time.monotonic() - test_started:.0f} s "
          f"(total {time.monotonic() - started:.0f} s)", flush=True)
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main())
