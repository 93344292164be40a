"""outputs/index.html: one static page that shows the course after a run (course/run_all.py).

Plain HTML and CSS, no script and no server: every link is relative, so the page opens from disk
(double-click it) and survives being zipped and moved together with its folder. It reads on a phone:
nothing is wider than the screen (tables scroll inside their box, long values wrap).

For each lesson: its title (the docstring's first sentence) and the rest of its docstring, its
headline numbers, its figures in the order the lesson saved them (figures.json) with their captions,
each a link to the full-size file, then, folded, every number of metrics.json and the console output.
"""
import datetime
import html
import json
import re
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from tools.metrics import HEADLINE_KEY, METRICS_FILE, headline_numbers, read_figures

FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")
GALLERY_FILE = "index.html"
FALLBACK_HEADLINES = 3  # a lesson that marks no headline numbers shows its first few
SHORT_VALUE = 60  # characters: a longer list or group is shortened in the summary tables
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.")  # not the end of a sentence

# Okabe-Ito blue and vermillion for ok / failed (told apart without red-green vision), plus the word.
STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 0.5rem 1rem 3rem; color: #222; line-height: 1.45;
       overflow-wrap: break-word; }
h1 { font-size: 1.6rem; margin: 0.6rem 0 0.2rem; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 0.3rem; border-bottom: 2px solid #ddd; padding-bottom: 0.3rem; }
h1, h2, code { overflow-wrap: anywhere; }
.meta { color: #555; margin-top: 0; } .ok { color: #0072B2; font-weight: bold; }
.fail { color: #D55E00; font-weight: bold; }
.banner { background: #fff4dc; border-left: 4px solid #E69F00; padding: 0.5rem 1rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.92rem; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
.nowrap { white-space: nowrap; } .small { font-size: 0.85rem; color: #555; }
th { background: #f4f4f4; } .value { font-family: ui-monospace, monospace; }
tr.headline th, tr.headline td { font-weight: bold; }
.doc { background: #fafafa; border-left: 4px solid #56B4E9; padding: 0.2rem 1rem; }
.doc pre, pre.console { overflow-x: auto; }
.doc pre { background: #f0f0f0; padding: 0.5rem; }
code { background: #f0f0f0; padding: 0 0.2rem; border-radius: 3px; }
pre code { background: none; padding: 0; }
ul.numbers { padding-left: 1.2rem; } ul.numbers li { font-family: ui-monospace, monospace; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9rem; }
pre.console { background: #1e1e1e; color: #ddd; padding: 0.8rem; max-height: 30rem; font-size: 0.8rem; }
details { margin: 0.6rem 0; } summary { cursor: pointer; color: #0072B2; }
.back { font-size: 0.9rem; }
@media (max-width: 640px) {  /* a phone: each lesson of the contents as a block, nothing to scroll */
  nav table, nav tbody, nav tr, nav td { display: block; } nav tr:first-child { display: none; }
  nav table { border-top: 1px solid #ddd; } nav td { border: none; padding: 0.1rem 0; }
  nav tr { border-bottom: 1px solid #ddd; padding: 0.5rem 0; } nav td br { display: none; }
  nav td .small::before { content: " · "; }
}
"""


# --- Numbers ----------------------------------------------------------------------------------

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


SHARE_WORDS = ("acc", "read_as", "share")  # keys whose numbers in [0, 1] are shares: shown as percentages


def _is_accuracy(key: str, value) -> bool:
    return any(word in key.lower() for word in SHARE_WORDS) and _is_number(value) and 0 <= value <= 1


def format_value(value, key: str = "", limit: "int | None" = None) -> str:
    """For tables, not for computation: four significant digits, shares (keys with "acc", "read_as" or
    "share" and a value in [0, 1]) as percentages; with `limit`, a longer list or group is shortened to it."""
    if _is_accuracy(key, value):
        return f"{100 * value:.4g} %"
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        text = "[" + ", ".join(format_value(item, key) for item in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{name}: {format_value(item, name)}" for name, item in value.items()) + "}"
    else:
        return str(value)
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit - 5]
    return (cut[:cut.rfind(", ")] if ", " in cut else cut) + ", ..." + text[-1]  # cut between items


def read_lesson_metrics(out_dir: Path) -> dict:
    """metrics.json of a lesson's out-dir ({} if there is none or it is unreadable)."""
    try:
        return json.loads((Path(out_dir) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def headline_of(metrics: dict) -> dict:
    """The few numbers a lesson shows first: the ones it marked as headline (metrics["headline"]),
    or, for a lesson that marks none, its first few numbers."""
    if HEADLINE_KEY in metrics:
        return headline_numbers(metrics)
    numbers = {key: value for key, value in metrics.items() if _is_number(value)}
    return dict(list(numbers.items())[:FALLBACK_HEADLINES])


def format_headline(out_dir: Path) -> str:
    """'key=value  key=value' for the runner's table."""
    return "  ".join(f"{key}={format_value(value, key, SHORT_VALUE)}"
                     for key, value in headline_of(read_lesson_metrics(out_dir)).items())


def _flatten(metrics: dict, prefix: str = "") -> list:
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


# --- Docstrings --------------------------------------------------------------------------------

def split_title(docstring: str) -> tuple:
    """(the first sentence, the rest) of a docstring. The sentence may span lines; it ends at '.',
    '!' or '?' followed by a space or the end of the first paragraph (not at "e.g.")."""
    first, _, rest = docstring.strip().partition("\n\n")
    for match in re.finditer(r"[.!?](?=\s|$)", first):
        if not first[:match.end()].endswith(ABBREVIATIONS):
            title, remainder = first[:match.end()], first[match.end():].strip()
            return " ".join(title.split()), (remainder + "\n\n" + rest).strip()
    return " ".join(first.split()), rest.strip()


def _inline(text: str) -> str:
    """Escaped text with `code` and **bold** rendered."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


LIST_ITEM = re.compile(r"^\s{0,3}([-*]|\d+[.)])\s+(.*)$")


def render_docstring(text: str) -> str:
    """A docstring as HTML, keeping its layout: paragraphs, lists ('- ', '1. '), command lines
    (indented by 4 spaces, or in ``` fences) pre-formatted; `backticks` as code."""
    blocks, paragraph, items, code, fence = [], [], [], [], None
    list_kind = "ul"

    def flush():
        nonlocal paragraph, items, code
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
        if items:
            blocks.append(f"<{list_kind}>" + "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items)
                          + f"</{list_kind}>")
        while code and not code[-1].strip():
            code.pop()
        if code:
            indent = min(len(line) - len(line.lstrip()) for line in code if line.strip())
            blocks.append("<pre><code>" + html.escape("\n".join(line[indent:] for line in code), quote=False)
                          + "</code></pre>")
        paragraph, items, code = [], [], []

    for line in text.splitlines():
        if fence is not None:
            if line.strip().startswith("```"):
                fence = None
                flush()
            else:
                code.append(line)
            continue
        if line.strip().startswith("```"):
            flush()
            fence = line
            continue
        if not line.strip():
            if code:
                code.append("")
            else:
                flush()
            continue
        indent = len(line) - len(line.lstrip())
        item = LIST_ITEM.match(line)
        if item and indent < 4:
            if paragraph or code:
                flush()
            list_kind = "ol" if item.group(1)[0].isdigit() else "ul"
            items.append([item.group(2)])
        elif items and not code and 0 < indent < 4:
            items[-1].append(line.strip())  # a list item's continuation line
        elif indent >= 4:  # a command line, kept as it is
            if paragraph or items:
                flush()
            code.append(line)
        else:
            if code or items:
                flush()
            paragraph.append(line.strip())
    flush()
    return "\n".join(blocks)


# --- Figures -----------------------------------------------------------------------------------

def lesson_figures(out_dir: Path) -> list:
    """[(path, caption)]: the figures a lesson listed in figures.json, in its order, then any other
    image file in the out-dir (sorted; its caption is its file name)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    try:
        listed = read_figures(out_dir)
    except (OSError, ValueError):
        listed = []
    figures = [(out_dir / entry["file"], entry.get("caption") or "") for entry in listed
               if isinstance(entry, dict) and "file" in entry and (out_dir / entry["file"]).is_file()]
    named = {path.name for path, _ in figures}
    others = sorted(path for path in out_dir.iterdir()
                    if path.suffix.lower() in FIGURE_SUFFIXES and path.is_file() and path.name not in named)
    return figures + [(path, path.name) for path in others]


def _link(path: Path, root: Path) -> str:
    try:
        return quote(path.resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        return path.resolve().as_uri()


def _figure(path: Path, caption: str, root: Path) -> str:
    try:
        with Image.open(path) as image:
            width, height = image.size
        size = f' width="{width}" height="{height}"'
    except OSError:
        size = ""  # not an image Pillow reads: the browser still sizes it
    link = _link(path, root)
    alt = html.escape(caption or path.name)
    return (f'<figure><a href="{link}"><img src="{link}" alt="{alt}" loading="lazy"{size}></a>'
            f"<figcaption>{_inline(caption or path.name)}</figcaption></figure>")


# --- The page ----------------------------------------------------------------------------------

def _breakable(name: str) -> str:
    """Escaped, with a line-break opportunity after each / and _ (long names wrap on a phone)."""
    return re.sub(r"([/_])", r"\1<wbr>", html.escape(name))


def _anchor(name: str) -> str:
    return html.escape(name.replace("/", "-"))


def _status(result) -> str:
    if result.ok:
        return '<span class="ok">ok</span>'
    if result.interrupted:
        return '<span class="fail">interrupted (stopped by Ctrl-C)</span>'
    return f'<span class="fail">failed (exit {result.returncode})</span>'


def _numbers(numbers: dict) -> str:
    return ", ".join(f"{key} = {format_value(value, key, SHORT_VALUE)}" for key, value in numbers.items())


def _lesson_section(result, docstring: str, root: Path) -> str:
    title, body = split_title(docstring)
    metrics = read_lesson_metrics(result.out_dir)
    headline = headline_of(metrics)
    parts = [f'<section id="{_anchor(result.name)}">',
             f"<h2>{_inline(title or result.name)}</h2>",
             f'<p class="meta"><code>{html.escape(result.name)}.py</code> · {_status(result)} · '
             f"{result.seconds:.1f} s</p>"]
    if not result.ok:
        parts.append('<p class="banner">This run did not finish: what is shown below is what it made '
                     "before it stopped (older outputs were cleared before it started).</p>")
    if body:
        parts.append(f'<div class="doc">{render_docstring(body)}</div>')
    if headline:
        parts.append('<ul class="numbers">' + "".join(
            f"<li>{html.escape(key)} = {html.escape(format_value(value, key))}</li>"
            for key, value in headline.items()) + "</ul>")
    parts += [_figure(path, caption, root) for path, caption in lesson_figures(result.out_dir)]
    rows = [(key, value) for key, value in _flatten(metrics) if key != HEADLINE_KEY]
    if rows:
        table = "".join(
            f'<tr{" class=headline" if key in headline else ""}><th>{_breakable(key)}</th>'
            f'<td class="value">{html.escape(format_value(value, key))}</td></tr>' for key, value in rows)
        parts.append(f"<details><summary>All numbers ({METRICS_FILE}, {len(rows)})</summary>"
                     f'<div class="scroll"><table>{table}</table></div></details>')
    parts.append(f"<details{'' if result.ok else ' open'}><summary>Console output</summary>"
                 f'<pre class="console">{html.escape(result.console)}</pre></details>')
    parts.append('<p class="back"><a href="#contents">↑ Contents</a></p>')
    parts.append("</section>")
    return "\n".join(parts)


def write_gallery(root: Path, results: list, wall_seconds: float, docstrings: dict, quick: bool = False,
                  not_started: list = (), course_size: "int | None" = None) -> Path:
    """Write root/index.html for `results` (run_all.LessonResult, in course order) and return its path.

    docstrings maps a lesson's name ("lesson_x/NN_y") to its docstring; quick marks a --quick run;
    not_started names the lessons an interrupted run never started; course_size, the number of
    lessons in the course (to say when only some of them ran).
    """
    root = Path(root)
    rows = []
    for result in results:
        title, _ = split_title(docstrings.get(result.name, ""))
        status = '<span class="ok">ok</span>' if result.ok else \
            '<span class="fail">interrupted</span>' if result.interrupted else '<span class="fail">failed</span>'
        rows.append(f'<tr><td><a href="#{_anchor(result.name)}">{_inline(title or result.name)}</a><br>'
                    f'<span class="small">{_breakable(result.name)}</span></td>'
                    f'<td class="nowrap">{status}<br><span class="small">{result.seconds:.1f} s</span></td>'
                    f"<td>{_breakable(_numbers(headline_of(read_lesson_metrics(result.out_dir))))}</td></tr>")
    total = sum(result.seconds for result in results)
    passed = sum(result.ok for result in results)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    kind = "quick run" if quick else "run"
    notes = []
    if quick:
        notes.append('<p class="banner"><strong>A quick run</strong> (<code>--quick</code>): every lesson ran '
                     "its smaller mode, so these numbers are not the course's. The full course's page is "
                     "<code>outputs/index.html</code> (<code>python course/run_all.py</code>).</p>")
    chosen = len(results) + len(not_started)
    if course_size is not None and chosen < course_size:
        notes.append(f'<p class="banner">A part of the course: {chosen} of its {course_size} lessons were '
                     "chosen for this run.</p>")
    if not_started:
        notes.append(f'<p class="banner"><strong>Interrupted</strong>: {len(not_started)} lesson(s) never '
                     f"started: {html.escape(', '.join(not_started))}.</p>")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PyTorch basics: the course, {kind}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>PyTorch basics: every lesson, {kind}</h1>
{''.join(notes)}
<p class="meta">{passed} of {len(results)} lessons ran; {total:.1f} s of lesson time, {wall_seconds:.1f} s
from start to end; written {stamp}.</p>
<nav id="contents">
<h2>Contents</h2>
<div class="scroll"><table>
<tr><th>lesson</th><th>status</th><th>headline numbers</th></tr>
{''.join(rows)}
</table></div>
</nav>
{''.join(_lesson_section(result, docstrings.get(result.name, ""), root) for result in results)}
</body>
</html>
"""
    path = root / GALLERY_FILE
    path.write_text(page, encoding="utf-8")
    return path
