"""Check this installation for the course, line by line: what works, what does not, and the fix.

    python tools/doctor.py

In this order: Python and the five packages against the tested range; the NumPy bridge; every
device with a tiny real computation (cpu, each cuda:N, mps); cuDNN; the torch.distributed backends;
CPU threads; the banknote data; the console; whether --show can open windows; the notebook tools.
Each line says ok, problem (the course cannot work until it is fixed) or note (the course works;
something optional is missing), in English and, where the console can show it, Chinese.
Exit status 0 when everything the course needs works, 1 otherwise.
"""
import contextlib
import importlib
import importlib.util
import io
import os
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/doctor.py`: this repo's tools, not another one
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools import DATA_DIR  # noqa: E402
from tools.versions import (COURSE_PACKAGES, FIRST_TORCH_FOR_NUMPY_2, MODULE_NAMES,  # noqa: E402
                            PYTHON_MINIMUM, installed_version, minimum_versions, version_tuple)

OK, PROBLEM, NOTE = "ok", "problem", "note"


class Report:
    """Collects the lines; prints each at once (a slow check shows where it is)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        if hasattr(self.stream, "reconfigure"):
            self.stream.reconfigure(errors="replace")  # a character the console lacks becomes '?'
        self.chinese = _can_encode(self.stream, "模型获得修复（）：")
        self.problems = []

    def line(self, status: str, english: str, chinese: str, fix: str = "", fix_chinese: str = "") -> None:
        print(f"[{status:<7}] {english}", file=self.stream)
        if self.chinese:
            print(f"          {chinese}", file=self.stream)
        if fix:
            print(f"          fix: {fix}", file=self.stream)
            if self.chinese:
                print(f"          修复：{fix_chinese or fix}", file=self.stream)
        if status == PROBLEM:
            self.problems.append(english)
        self.stream.flush()


def _can_encode(stream, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def check_versions(report: Report) -> None:
    python = sys.version.split()[0]
    wanted = ".".join(map(str, PYTHON_MINIMUM))
    if sys.version_info[:2] >= PYTHON_MINIMUM:
        report.line(OK, f"Python {python} (tested: {wanted} to 3.13)", f"Python {python}（已测试 {wanted} 至 3.13）")
    else:
        report.line(PROBLEM, f"Python {python} is older than {wanted}", f"Python {python} 低于 {wanted}",
                    f"make the virtual environment with Python {wanted} or newer",
                    f"用 Python {wanted} 或更新的版本创建虚拟环境")
    bounds = minimum_versions()
    for name in COURSE_PACKAGES:
        version, bound = installed_version(name), bounds.get(name, "0")
        if version is None and importlib.util.find_spec(MODULE_NAMES.get(name, name)) is not None:
            report.line(NOTE, f"{name}: installed without version metadata (a source build?): not checked",
                        f"{name}：没有版本信息，未检查")
        elif version is None:
            report.line(PROBLEM, f"{name} is not installed", f"{name} 未安装", "pip install -r requirements.txt")
        elif version_tuple(version) < version_tuple(bound):
            report.line(PROBLEM, f"{name} {version} is older than the tested {bound}",
                        f"{name} {version} 低于已测试的 {bound}", f'pip install --upgrade "{name}>={bound}"')
        else:
            report.line(OK, f"{name} {version} (tested: {bound} or newer)", f"{name} {version}（已测试 {bound} 及更新）")
    torch, numpy = installed_version("torch"), installed_version("numpy")
    if (torch and numpy and version_tuple(torch) < FIRST_TORCH_FOR_NUMPY_2 and version_tuple(numpy) >= (2,)):
        report.line(PROBLEM, f"torch {torch} was built for NumPy 1 and cannot use NumPy {numpy}",
                    f"torch {torch} 为 NumPy 1 编译，不能使用 NumPy {numpy}",
                    'pip install "numpy<2" (or torch 2.3 or newer)', 'pip install "numpy<2"（或 torch 2.3 及更新）')


def import_torch(report: Report):
    """torch, imported with its import-time complaints (a NumPy it cannot use) held back; None if
    it cannot be imported at all."""
    held = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(held):
            warnings.simplefilter("ignore")
            import torch
    except Exception as error:  # noqa: BLE001 - any import failure is the finding
        report.line(PROBLEM, f"import torch fails: {type(error).__name__}: {str(error).splitlines()[0][:150]}",
                    "import torch 失败", "pip install --force-reinstall torch torchvision")
        return None
    try:  # a torchvision built for another torch fails here (its operators do not load)
        with warnings.catch_warnings(), contextlib.redirect_stderr(held):
            warnings.simplefilter("ignore")
            importlib.import_module("torchvision")
        report.line(OK, f"import torch, torchvision: both load (torch {torch.__version__})",
                    "import torch、torchvision：正常")
    except Exception as error:  # noqa: BLE001
        report.line(PROBLEM, f"import torchvision fails beside torch {torch.__version__}: {type(error).__name__}: "
                    f"{str(error).splitlines()[0][:150]}", "import torchvision 失败（与 torch 版本不匹配？）",
                    "pip install torchvision matching your torch (pytorch.org/get-started/previous-versions)",
                    "安装与 torch 匹配的 torchvision")
    return torch


def check_numpy_bridge(report: Report, torch) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.zeros(2).numpy()
        report.line(OK, "NumPy bridge: torch.zeros(2).numpy() works", "NumPy 桥：torch.zeros(2).numpy() 正常")
    except (RuntimeError, ImportError, AttributeError) as error:
        report.line(PROBLEM, f"NumPy bridge: torch.zeros(2).numpy() fails (torch {torch.__version__}, NumPy "
                    f"{installed_version('numpy')}): {str(error).splitlines()[0]}",
                    "NumPy 桥：torch.zeros(2).numpy() 失败（图和指标都需要它）", 'pip install "numpy<2"')


def _tiny_matmul(torch, device: str) -> None:
    a = torch.ones(8, 8, device=device)
    result = (a @ a).sum().item()  # .item() waits for the device: the work really ran
    if result != 8 * 8 * 8:
        raise RuntimeError(f"8x8 matmul gave {result}, expected 512")


def check_devices(report: Report, torch) -> None:
    try:
        _tiny_matmul(torch, "cpu")
        report.line(OK, "cpu: an 8x8 matmul works", "cpu：8x8 矩阵乘法正常")
    except RuntimeError as error:
        report.line(PROBLEM, f"cpu: an 8x8 matmul fails: {error}", "cpu：矩阵乘法失败",
                    "pip install --force-reinstall torch")
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            name = torch.cuda.get_device_name(index)
            memory = torch.cuda.get_device_properties(index).total_memory / 2**30
            try:
                _tiny_matmul(torch, f"cuda:{index}")
                report.line(OK, f"cuda:{index}: {name}, {memory:.0f} GiB, a matmul works",
                            f"cuda:{index}：{name}，{memory:.0f} GiB，矩阵乘法正常")
            except RuntimeError as error:
                report.line(PROBLEM, f"cuda:{index} ({name}): a matmul fails: {str(error).splitlines()[0]}",
                            f"cuda:{index}：矩阵乘法失败", "a torch built for this driver (see pytorch.org), or "
                            "--device cpu", "安装与驱动匹配的 torch，或使用 --device cpu")
    else:
        report.line(OK, f"cuda: not available (torch {torch.__version__}, CUDA build {torch.version.cuda}): "
                    "lessons run on the CPU", "cuda：不可用，课程在 CPU 上运行")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        try:
            _tiny_matmul(torch, "mps")
            report.line(OK, "mps: Apple GPU, a matmul works", "mps：Apple GPU，矩阵乘法正常")
        except RuntimeError as error:
            report.line(PROBLEM, f"mps: a matmul fails: {error}", "mps：矩阵乘法失败", "--device cpu")


def check_cudnn_and_distributed(report: Report, torch) -> None:
    if torch.cuda.is_available():
        if torch.backends.cudnn.is_available():
            report.line(OK, f"cuDNN {torch.backends.cudnn.version()}", f"cuDNN {torch.backends.cudnn.version()}")
        else:
            report.line(NOTE, "cuDNN is not available: convolutions on the GPU are slower",
                        "cuDNN 不可用：GPU 上的卷积较慢")
    import torch.distributed as dist

    if not dist.is_available():
        report.line(NOTE, "torch.distributed is not available: lesson_models/03_train_lenet_ddp.py cannot run",
                    "torch.distributed 不可用：分布式一课无法运行")
        return
    backends = [name for name, present in (("gloo", dist.is_gloo_available()), ("nccl", dist.is_nccl_available()))
                if present]
    status = OK if "gloo" in backends else NOTE
    report.line(status, f"torch.distributed backends: {', '.join(backends) or 'none'} (the DDP lesson uses gloo "
                "on the CPU, nccl on CUDA)", f"torch.distributed 后端：{', '.join(backends) or '无'}")


def check_threads(report: Report) -> None:
    from tools.device import default_threads, usable_cores

    cores, chosen = usable_cores(), os.environ.get("OMP_NUM_THREADS", "").strip()
    threads = int(chosen) if chosen.isdigit() else default_threads()
    source = f"OMP_NUM_THREADS={chosen}" if chosen else "half the cores, at most 4; OMP_NUM_THREADS=N chooses"
    if threads > cores:
        report.line(NOTE, f"CPU: {threads} threads ({source}) on {cores} usable cores: each step waits for "
                    "threads that cannot run", f"CPU：{threads} 个线程多于 {cores} 个可用核心，会变慢",
                    f"OMP_NUM_THREADS={max(1, cores // 2)}, or unset it")
    else:
        report.line(OK, f"CPU: {cores} usable cores; lessons use {threads} thread(s) ({source})",
                    f"CPU：{cores} 个可用核心；课程使用 {threads} 个线程")


def check_data(report: Report) -> None:
    raw_dir, split_dir = DATA_DIR / "RMB_data", DATA_DIR / "rmb_split"
    try:
        from tools.rmb_dataset import IMAGE_EXTENSIONS
        from tools.rmb_prepare import data_source, split_data_source
    except ImportError as error:
        report.line(PROBLEM, f"the banknote data helpers do not import: {error}", "人民币数据模块无法导入",
                    "git status: restore tools/")
        return

    def photos(folder: Path) -> int:
        return sum(1 for path in folder.glob("*") if path.suffix.lower() in IMAGE_EXTENSIONS) if folder.is_dir() else 0

    counts = {name: photos(raw_dir / name) for name in ("1", "100")}
    if not any(counts.values()):
        report.line(OK, f"banknote photos: none in {raw_dir} yet; the first lesson that needs them draws 100 per class",
                    f"人民币照片：{raw_dir} 中尚无；第一个需要它们的课程会生成每类 100 张")
    else:
        source = "generated by the course" if data_source(raw_dir) == "synthetic" else "your own"
        chinese = "课程生成的" if data_source(raw_dir) == "synthetic" else "你自己的"
        status = OK if all(count >= 10 for count in counts.values()) else PROBLEM
        report.line(status, f"banknote photos ({source}): 1 yuan {counts['1']}, 100 yuan {counts['100']} in {raw_dir}",
                    f"人民币照片（{chinese}）：1 元 {counts['1']} 张，100 元 {counts['100']} 张",
                    "" if status == OK else "at least 10 photos per class (or remove the folder: it is drawn anew)",
                    "每类至少 10 张照片（或删除该文件夹，课程会重新生成）")
    parts = {part: sum(photos(split_dir / part / name) for name in ("1", "100")) for part in ("train", "valid", "test")}
    if any(parts.values()):
        report.line(OK, f"split ({split_data_source(split_dir)} photos): train {parts['train']}, valid {parts['valid']}, "
                    f"test {parts['test']} in {split_dir}",
                    f"数据划分：训练 {parts['train']}，验证 {parts['valid']}，测试 {parts['test']}")
    else:
        report.line(OK, "split: not made yet (lesson_models/01_split_dataset.py makes it)",
                    "数据划分：尚未生成（由 lesson_models/01_split_dataset.py 生成）")


def check_console(report: Report) -> None:
    encoding = getattr(report.stream, "encoding", None) or "unknown"
    if report.chinese:
        report.line(OK, f"console encoding {encoding}: shows the notes' Chinese", f"控制台编码 {encoding}：可显示中文")
    else:
        report.line(NOTE, f"console encoding {encoding}: Chinese text shows as '?' (the lessons still run)",
                    "", "PYTHONIOENCODING=utf-8, or on Windows: chcp 65001")


def check_show(report: Report) -> None:
    import matplotlib

    from tools.figures import interactive_backend  # also sets the figure style: matplotlib is imported anyway

    backend = matplotlib.get_backend()
    if interactive_backend():
        report.line(OK, f"--show: matplotlib backend {backend} opens windows", f"--show：matplotlib 后端 {backend} 可以打开窗口")
    else:
        report.line(NOTE, f"--show: matplotlib backend {backend} cannot open windows (figures are still saved)",
                    f"--show：matplotlib 后端 {backend} 无法打开窗口（图仍会保存）",
                    "a desktop session, or pip install pyqt6 (or tkinter from your OS)",
                    "在桌面环境中运行，或 pip install pyqt6（或安装系统的 tkinter）")


def check_notebooks(report: Report) -> None:
    missing = [name for name in ("jupytext", "ipykernel") if importlib.util.find_spec(name) is None]
    if missing:
        report.line(NOTE, f"notebooks: {', '.join(missing)} missing (only for running lessons as notebooks)",
                    f"笔记本：缺少 {', '.join(missing)}", "pip install -r requirements-dev.txt")
    else:
        report.line(OK, f"notebooks: jupytext {installed_version('jupytext')}, ipykernel {installed_version('ipykernel')}",
                    "笔记本：jupytext 与 ipykernel 已安装")


def run_checks(stream=None) -> Report:
    """Every check in order, each line printed as it is found."""
    report = Report(stream)
    check_versions(report)
    torch = import_torch(report)
    if torch is not None:
        check_numpy_bridge(report, torch)
        check_devices(report, torch)
        check_cudnn_and_distributed(report, torch)
        check_threads(report)
    check_data(report)
    check_console(report)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # a matplotlib built for another NumPy complains at import
            check_show(report)
    except ImportError as error:  # matplotlib itself broken: the version lines said why
        report.line(PROBLEM, f"matplotlib does not import: {error}", "matplotlib 无法导入", "pip install -r requirements.txt")
    check_notebooks(report)
    if report.chinese:
        print("发现问题：先修复第一个，再运行 python tools/doctor.py。" if report.problems else "课程所需的一切都正常。",
              file=report.stream)
    return report


def summary(report: Report) -> "tuple[str, int]":
    """The last line and the exit status: 0 when everything the course needs works, else 1."""
    if report.problems:
        return (f"{len(report.problems)} problem(s), the first: {report.problems[0]}; fix it and run "
                "python tools/doctor.py again", 1)
    return "Everything the course needs works.", 0


def main(stream=None) -> int:
    """For a caller in Python (the tests): every line and the summary on `stream`; the exit status."""
    report = run_checks(stream)
    line, status = summary(report)
    print(line, file=report.stream)
    return status


if __name__ == "__main__":
    from tools.errors import exit_now

    exit_now(*summary(run_checks()))  # the summary on stderr, then the status
