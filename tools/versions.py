"""The installed versions against the tested range, checked before a lesson does any work.

The range is requirements.txt's lower bounds (what `course/compat.py oldest` installs and tests).
`check_versions()` reads only package metadata, so it can run before torch is imported (torch built
for NumPy 1 prints pages of warnings when it is imported beside NumPy 2); `check_numpy_bridge()`
then tries the bridge itself once torch is loaded. Both raise LessonError: one line and exit status 2.
"""
import importlib.metadata
import importlib.util
import re
import sys

from tools import REPO_ROOT
from tools.errors import fail

PYTHON_MINIMUM = (3, 10)  # the oldest Python the compatibility check runs (README: Python 3.10 or newer)
FIRST_TORCH_FOR_NUMPY_2 = (2, 3)  # torch 2.0-2.2 were built for NumPy 1 (PyTorch issue 107302)
COURSE_PACKAGES = ("torch", "torchvision", "numpy", "matplotlib", "Pillow")
DOCTOR = "python tools/doctor.py"  # what every "could not" message points to
MODULE_NAMES = {"Pillow": "PIL"}  # the import name, where it differs from the distribution's


def version_tuple(text: str) -> tuple:
    """(2, 0, 1) from '2.0.1+cu117', (1, 24) from '1.24'; () from text without a leading number."""
    match = re.match(r"\d+(?:\.\d+)*", text.strip())
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def installed_version(name: str) -> "str | None":
    """The version of an installed distribution (from its metadata, nothing imported); a module that
    is already imported answers with its __version__ (a source build may have no metadata)."""
    module = sys.modules.get(MODULE_NAMES.get(name, name))
    if module is not None and isinstance(getattr(module, "__version__", None), str):
        return module.__version__
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def minimum_versions(requirements: str = None) -> dict:
    """{package: lowest admitted version text} from requirements.txt ('torch>=2.0.1' gives '2.0.1');
    a package on several lines (one per Python, by environment marker) gives its lowest bound."""
    if requirements is None:
        requirements = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8")
    lowest = {}
    for line in requirements.splitlines():
        found = re.match(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", line.split("#")[0])
        if found:
            name, bound = found.groups()
            if name not in lowest or version_tuple(bound) < version_tuple(lowest[name]):
                lowest[name] = bound
    return lowest


def version_problems() -> "list[str]":
    """One sentence with its fix for each version outside the tested range or pair known to fail."""
    problems = []
    if sys.version_info[:2] < PYTHON_MINIMUM:
        wanted = ".".join(map(str, PYTHON_MINIMUM))
        problems.append(f"Python {sys.version.split()[0]} is older than this collection supports ({wanted} "
                        f"or newer): make the virtual environment with a newer Python")
    for name, bound in minimum_versions().items():
        version = installed_version(name)
        if version is None:
            if importlib.util.find_spec(MODULE_NAMES.get(name, name)) is None:  # else: built without metadata
                problems.append(f"{name} is not installed: pip install -r requirements.txt")
        elif version_tuple(version) < version_tuple(bound):
            problems.append(f"{name} {version} is older than this collection supports ({bound} or newer): "
                            f'pip install --upgrade "{name}>={bound}"')
    torch, numpy = installed_version("torch"), installed_version("numpy")
    if (torch and numpy and version_tuple(torch) < FIRST_TORCH_FOR_NUMPY_2
            and version_tuple(numpy) >= (2,)):
        problems.append(f"torch {torch} was built for NumPy 1 and cannot use NumPy {numpy}: "
                        f'pip install "numpy<2" (or torch 2.3 or newer)')
    return problems


def check_versions() -> None:
    """Stop with one line (exit status 2) naming the versions and the fix, before any work is done."""
    problems = version_problems()
    if problems:
        fail(f"{'; '.join(problems)}; {DOCTOR} checks the rest")


def check_numpy_bridge() -> None:
    """torch.Tensor.numpy() must work: figures and metrics go through it. One line if it does not."""
    import torch

    try:
        torch.zeros(2).numpy()
    except (RuntimeError, ImportError) as error:
        fail(f"torch {torch.__version__} cannot use NumPy {installed_version('numpy')} "
             f"({str(error).splitlines()[0]}): pip install \"numpy<2\", or run {DOCTOR}")
