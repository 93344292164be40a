"""Build the course's pages: one per lesson, each cell's code with what it printed and drew beneath it.

    python course/pages.py                  # every lesson -> outputs/index.html, outputs/<folder>/<lesson>.html
    python course/pages.py --quick          # every lesson's smaller mode -> outputs/quick/
    python course/pages.py lesson_regression lesson_init/03_calculate_gain    # some lessons
    python course/pages.py --device cuda    # passed to every lesson (default: cpu, the reference)

How (the tools the tests already use, plus nbconvert): Jupytext reads a lesson's `# %%` cells as a
notebook (its docstring is the first, markdown cell); nbclient executes it top to bottom in a fresh
Jupyter kernel whose working folder is the lesson's, with its flags in LESSON_ARGS (`--device cpu
--out-dir outputs/<folder>/<lesson>`, and `--quick`), figures and animations inline; nbconvert
renders the executed notebook as HTML with Pygments highlighting, its JupyterLab template less the
scripts it would fetch from other hosts (course/lesson_page.html.j2), every image inside the page.
Each lesson runs once per build, in course order. Beside each page: the lesson as `.py` and as
`.ipynb` (no outputs) to download, its out-dir (figures, metrics.json, console.txt), and the folder
README as a page; the front page is course/gallery.py's table of lessons.

A lesson that fails still gets its page (the cells up to the one that failed, with its error); the
build goes on with the others, prints the front page's path, then ends with `pages.py: failed:
<lesson>: <error>` and exit status 1. Formulas: the lessons and READMEs write them in Unicode
(w ← w − lr·∂L/∂w), shown as written; no MathJax is loaded (nbconvert's comes from a CDN).
"""
import argparse
import datetime
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.errors import install_error_hook  # noqa: E402
if __name__ == "__main__":
    install_error_hook()  # from here on Ctrl-C or a bad flag is one line, never a traceback

import jupytext  # noqa: E402
import nbclient  # noqa: E402
import nbformat  # noqa: E402
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402
from traitlets.config import Config  # noqa: E402

from course import gallery, run_all  # noqa: E402
from tools import OUTPUTS_DIR, QUICK_OUTPUTS_DIR  # noqa: E402
from tools.cli import LessonArgumentParser, folder_path, make_console_safe, prepare_out_dir  # noqa: E402
from tools.device import resolve_device  # noqa: E402
from tools.errors import fail, fail_run  # noqa: E402

TEMPLATE = Path(__file__).with_name("lesson_page.html.j2")
CELL_TIMEOUT_S = 3600  # a full training cell on a slow CPU takes minutes; a hung cell still ends
DEFAULT_DEVICE = "cpu"  # the course's reference numbers are the CPU's
# nbconvert's order of preference for an output's formats, with the GIF an animation shows as.
DISPLAY_PRIORITY = ["text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png", "image/jpeg",
                    "image/gif", "text/markdown", "text/plain"]
# On top of nbconvert's JupyterLab style and the front page's (gallery.STYLE): code and printed
# tables that scroll inside their box, images no wider than the page, and on a phone no prompt
# column ("In [3]:") eating a sixth of the screen.
PAGE_STYLE = """
body.jp-Notebook { padding: 0.5rem 0.8rem 3rem; --jp-cell-prompt-width: 76px; }  /* room for "In [12]:" */
nav.site { margin: 0.8rem 0; line-height: 1.8; }
.jp-InputArea-editor, .jp-OutputArea-output { min-width: 0; }
.jp-Notebook pre { overflow-x: auto; max-width: 100%; }
.jp-OutputArea-output pre, .jp-RenderedHTMLCommon pre, .jp-RenderedHTMLCommon pre code {
  white-space: pre; overflow-wrap: normal; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
.jp-RenderedHTMLCommon table { display: block; overflow-x: auto; max-width: 100%; }
.jp-RenderedHTMLCommon { overflow-wrap: break-word; }
@media (max-width: 760px) {  /* where JupyterLab's style would stack each prompt above its cell */
  .jp-Notebook .jp-InputPrompt, .jp-Notebook .jp-OutputPrompt { display: none; }
  .jp-Notebook .jp-InputArea, .jp-Notebook .jp-OutputArea-child, .jp-Notebook .jp-InputArea-editor,
  .jp-Notebook .jp-OutputArea-child .jp-OutputArea-output, .jp-Notebook .jp-MarkdownOutput { display: block;
    margin-left: 0; }
}
"""


def page_exporter() -> HTMLExporter:
    config = Config()
    config.NbConvertBase.display_data_priority = DISPLAY_PRIORITY
    return HTMLExporter(config=config, template_name="lab", template_file=TEMPLATE.name,
                        extra_template_paths=[str(TEMPLATE.parent)])


def lesson_flags(out_dir: Path, quick: bool, device: str) -> str:
    """What LESSON_ARGS holds for a lesson (a kernel has no command line)."""
    return shlex.join(["--device", device, "--out-dir", str(out_dir), *(["--quick"] if quick else [])])


def execute(script: Path, flags: str) -> tuple:
    """Run the lesson as a notebook in a fresh kernel in its folder: (executed notebook, seconds,
    None or the error that stopped it)."""
    notebook = jupytext.read(script)
    env = dict(os.environ, LESSON_ARGS=flags)
    env.pop("MPLBACKEND", None)  # the kernel picks its inline backend, as in Jupyter
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(script.parent)}})
    started, error = time.perf_counter(), None
    try:
        client.execute(env=env)
    except CellExecutionError as failure:
        if failure.ename == "KeyboardInterrupt":
            raise KeyboardInterrupt from failure  # Ctrl-C reached the kernel too: the build stops
        error = f"{failure.ename}: {failure.evalue}"
    except (CellTimeoutError, DeadKernelError) as failure:
        error = f"{type(failure).__name__}: {str(failure).strip().splitlines()[0]}"
    return notebook, time.perf_counter() - started, error


def console_text(notebook, error: "str | None") -> str:
    """What the lesson printed, cell after cell (what `python lesson.py` would print), and its error."""
    printed = [output.text for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []) if output.output_type == "stream"]
    return "".join(printed) + (f"{error}\n" if error else "")


def neighbours(lessons: list) -> dict:
    """{lesson: (previous, next)}: its neighbours among the lessons built, as (href, title) or None."""
    def link(script: Path, seen_from: Path) -> dict:
        prefix = "" if script.parent == seen_from.parent else f"../{script.parent.name}/"
        return {"href": f"{prefix}{script.stem}.html", "title": script.stem}
    return {script: (link(lessons[i - 1], script) if i > 0 else None,
                     link(lessons[i + 1], script) if i + 1 < len(lessons) else None)
            for i, script in enumerate(lessons)}


def readme_pages(folder: Path, out_folder: Path, exporter: HTMLExporter, site: dict) -> "str | None":
    """The folder's README.md (and README.zh-CN.md, if there is one) as pages in out_folder; the
    English one's file name, or None if the folder has none."""
    readmes = sorted(folder.glob("README*.md"))
    for readme in readmes:
        text = readme.read_text(encoding="utf-8")
        for other in readmes:  # a README linking its translation links that one's page
            text = text.replace(f"]({other.name})", f"]({other.stem}.html)")
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
        notebook.metadata["title"] = next((line.lstrip("# ") for line in text.splitlines() if line.startswith("#")),
                                          readme.stem)
        body, _ = exporter.from_notebook_node(notebook, resources={"site": site})
        (out_folder / f"{readme.stem}.html").write_text(body, encoding="utf-8")
    return "README.html" if (folder / "README.md").is_file() else None


def write_lesson_page(script: Path, notebook, root: Path, exporter: HTMLExporter, site: dict) -> str:
    """Beside the lesson's out-dir: the lesson as .py and as .ipynb (without outputs) to download,
    and its page from the executed notebook. Returns the page's path from root."""
    folder = root / script.parent.name
    shutil.copyfile(script, folder / script.name)
    jupytext.write(jupytext.read(script), folder / f"{script.stem}.ipynb")
    notebook.metadata["title"] = f"{gallery.split_title(run_all.docstring_of(script))[0]} ({site['name']})"
    body, _ = exporter.from_notebook_node(notebook, resources={"site": site})
    (folder / f"{script.stem}.html").write_text(body, encoding="utf-8")
    return f"{script.parent.name}/{script.stem}.html"


def build(lessons: list, root: Path, quick: bool, device: str, course_size: int, record, report=print) -> tuple:
    """Execute and render every lesson of `lessons` (in course order) into `root`, then the folder
    READMEs and the front page; `record` (run_all.OutDirRecord of root) lists what the build wrote,
    as the course runner does. Returns (front page path, [run_all.LessonResult])."""
    exporter = page_exporter()
    built = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    common = {"style": gallery.STYLE + PAGE_STYLE, "front": f"../{gallery.GALLERY_FILE}", "quick": quick}
    readmes = {}
    for folder in dict.fromkeys(script.parent for script in lessons):
        (root / folder.name).mkdir(parents=True, exist_ok=True)
        readmes[folder] = readme_pages(folder, root / folder.name, exporter, dict(common, folder=folder.name))
    around = neighbours(lessons)
    results, pages, started = [], {}, time.perf_counter()
    for number, script in enumerate(lessons, 1):
        name, out_dir = run_all.lesson_name(script), root / script.parent.name / script.stem
        out_dir.mkdir(parents=True, exist_ok=True)
        record.remove_ours(out_dir)  # what an earlier run wrote: a failed lesson never shows its numbers
        flags = lesson_flags(out_dir, quick, device)
        started_at = time.time()
        notebook, seconds, error = execute(script, flags)
        console = console_text(notebook, error)
        (out_dir / gallery.CONSOLE_FILE).write_text(console, encoding="utf-8")
        result = run_all.LessonResult(script, out_dir, 0 if error is None else 1, seconds, console,
                                      started_at=started_at, ended_at=time.time())
        results.append(result)
        previous, following = around[script]
        site = dict(common, name=name, folder=script.parent.name, readme=readmes[script.parent], previous=previous,
                    next=following, failed=error, seconds=f"{seconds:.1f} s", built=built,
                    flags=f"--device {device}{' --quick' if quick else ''}",
                    downloads={"script": script.name, "notebook": f"{script.stem}.ipynb"},
                    out_dir=f"{script.stem}/")
        pages[name] = write_lesson_page(script, notebook, root, exporter, site)
        record.finished_dirs.add(out_dir)
        record.lessons[name] = {"started": result.started_at, "ended": result.ended_at, "status": result.status}
        record.update()
        record.save()
        report(f"[{number:2d}/{len(lessons)}] {result.status:<6} {name:<40} {seconds:6.1f} s  "
               f"{error or gallery.format_headline(out_dir)}")
    front = gallery.write_gallery(root, results, time.perf_counter() - started, quick=quick, course_size=course_size,
                                  docstrings={result.name: run_all.docstring_of(result.script) for result in results},
                                  pages=pages)
    record.update()
    record.save()
    return front, results


def own_paths(lessons: list) -> set:
    """What a build writes outside the lessons' out-dirs (relative to its root): the pages, the
    downloads, the README pages."""
    paths = {gallery.GALLERY_FILE}
    for script in lessons:
        folder = script.parent.name
        paths |= {f"{folder}/{script.stem}.html", f"{folder}/{script.name}", f"{folder}/{script.stem}.ipynb"}
        paths |= {f"{folder}/{readme.stem}.html" for readme in script.parent.glob("README*.md")}
    return paths


def main(argv=None) -> None:
    make_console_safe()  # a cp1252 or gbk console prints '?' for what it cannot show
    parser = LessonArgumentParser(prog="pages.py", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", metavar="LESSON",
                        help="build only these: folders (lesson_init) or lessons (lesson_init/01_grad_vanish_explode)")
    parser.add_argument("--quick", action="store_true",
                        help="run every lesson with --quick, into outputs/quick/ (pages marked quick)")
    parser.add_argument("--device", default=DEFAULT_DEVICE,
                        help=f"passed to every lesson (auto, cpu, cuda, cuda:N, mps; default: {DEFAULT_DEVICE})")
    parser.add_argument("--out-dir", type=folder_path, default=None,
                        help="where the pages and lesson outputs go (default: outputs/, with --quick outputs/quick/)")
    parser.add_argument(run_all.ALLOW_FLAG, action="store_true",
                        help="build although the out-dir holds files neither this nor the runner wrote (they are kept)")
    args = parser.parse_args(argv)
    course = run_all.discover_lessons()
    lessons = run_all.select_lessons(course, args.lessons)
    resolve_device(args.device)  # an unavailable device fails once, here, not in every lesson
    root = prepare_out_dir(args.out_dir or (QUICK_OUTPUTS_DIR if args.quick else OUTPUTS_DIR))
    # The course runner's rules for its out-dir hold here too: no file of yours is ever written
    # over, and what the build writes is listed (so that course/clean.py removes it, and the runner
    # may run there afterwards).
    record = run_all.OutDirRecord(root)
    run_all.check_out_dir(record, lessons, args.allow_other_files)
    clash = sorted(own_paths(lessons) & set(record.foreign))
    if clash:
        fail(f"--out-dir {root}: {clash[0]} is not the course runner's and the build would write over it; "
             "move it, or choose another --out-dir")
    print(f"Building the pages of {len(lessons)} lessons{' (--quick)' if args.quick else ''} into {root}",
          flush=True)
    front, results = build(lessons, root, args.quick, args.device, len(course), record,
                           report=lambda line: print(line, flush=True))
    print(f"Front page: {front}", flush=True)
    failed = [f"{result.name}: {result.console.splitlines()[-1]}" for result in results if not result.ok]
    if failed:
        fail_run("; ".join(failed))


if __name__ == "__main__":
    main()
