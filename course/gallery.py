"""The front page of the course (outputs/index.html): one table of lessons with their status, time and
headline numbers, each lesson linking to its page.

The lesson pages themselves (each cell's code, output and figures) are built by nbconvert in
course/pages.py; this module writes only what no tool does: the table, and headline numbers read
as a person would write them (`normal + none: nan at layer 31`, `test_acc: 100 %`). Written by
course/run_all.py after a run (each lesson then links to its console output) and by course/pages.py
(each lesson links to its page). Plain HTML and CSS, relative links: it opens from disk and reads
on a phone.
"""
import datetime
import html
import json
import re
from pathlib import Path
from urllib.parse import quote

from tools.metrics import HEADLINE_KEY, METRICS_FILE, headline_numbers

GALLERY_FILE = "index.html"
CONSOLE_FILE = "console.txt"  # what course/run_all.py and course/pages.py keep of a lesson's output
FALLBACK_HEADLINES = 3  # a lesson that marks no headline numbers shows its first few
SHORT_VALUE = 60  # characters: a longer list or group is shortened in the console table
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.")  # not the end of a sentence
SHARE_WORDS = ("acc", "read_as", "share")  # keys whose numbers in [0, 1] are shares: shown as percentages

# The site's look, shared with the lesson pages (course/pages.py). Okabe-Ito blue and vermillion for
# ok / failed (told apart without red-green vision), always with the word.
STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 0.5rem 1rem 3rem; color: #222; line-height: 1.45;
       overflow-wrap: break-word; }
h1 { font-size: 1.6rem; margin: 0.6rem 0 0.2rem; } h1, h2, code { overflow-wrap: anywhere; }
.meta, .small { color: #555; } .small { font-size: 0.85rem; }
.ok { color: #0072B2; font-weight: bold; } .fail { color: #D55E00; font-weight: bold; }
.banner { background: #fff4dc; border-left: 4px solid #E69F00; padding: 0.5rem 1rem; }
table.lessons { border-collapse: collapse; margin: 0.6rem 0; width: 100%; }
table.lessons td, table.lessons th { border-bottom: 1px solid #ddd; padding: 0.4rem 0.6rem; text-align: left;
                                     vertical-align: top; }
ul.numbers { margin: 0; padding-left: 1.1rem; } ul.numbers li { font-family: ui-monospace, monospace; }
code { background: #f0f0f0; padding: 0 0.2rem; border-radius: 3px; }
@media (max-width: 640px) {  /* a phone: each lesson as a block, nothing to scroll */
  table.lessons, table.lessons tbody, table.lessons tr, table.lessons td { display: block; }
  table.lessons tr:first-child { display: none; } table.lessons td { border: none; padding: 0.1rem 0; }
  table.lessons tr { border-bottom: 1px solid #ddd; padding: 0.5rem 0; }
}
"""


# --- Numbers ----------------------------------------------------------------------------------

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_accuracy(key: str, value) -> bool:
    return any(word in key.lower() for word in SHARE_WORDS) and _is_number(value) and 0 <= value <= 1


def format_value(value, key: str = "", limit: "int | None" = None) -> str:
    """A value as a person writes it: four significant digits, shares (keys with "acc", "read_as" or
    "share" and a value in [0, 1]) as percentages, a list in brackets (a shape in parentheses), a
    group as its words: `nan at layer 31` for a run that overflowed, else `name value, ...` (None
    left out). With `limit`, a longer text is cut between items."""
    if _is_accuracy(key, value):
        return f"{100 * value:.4g} %"
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        items = ", ".join(format_value(item, key) for item in value)
        text = f"({items})" if key.endswith("shape") else f"[{items}]"
    elif isinstance(value, dict):
        text = _group(value)
    else:
        return str(value)
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit - 4]
    return (cut[:cut.rfind(", ")] if ", " in cut else cut) + ", …"


def _group(group: dict) -> str:
    """{final_std: None, nan_layer: 31, ...} -> 'nan at layer 31'; {a: 1, b: None} -> 'a 1';
    {name: {...}, ...} -> 'name: ..., name: ...'; {name: word} -> 'name → word'."""
    if group.get("nan_layer") is not None:
        return f"nan at layer {group['nan_layer']}"  # nothing after the overflow means anything
    parts = []
    for name, value in group.items():
        if value is None or name == "nan_layer":
            continue
        if isinstance(value, dict):
            parts.append(f"{name}: {_group(value)}")
        elif isinstance(value, str):
            parts.append(f"{name} → {value}")
        else:
            parts.append(f"{name} {format_value(value, name)}")
    return "; ".join(parts) if any(isinstance(value, dict) for value in group.values()) else ", ".join(parts)


def readable_key(key: str) -> str:
    """'normal+none' -> 'normal + none' (a combination of choices reads as one)."""
    return key.replace("+", " + ")


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


def headline_lines(out_dir: Path) -> list:
    """['normal + none: nan at layer 31', 'test_acc: 100 %', ...] for the front page."""
    return [f"{readable_key(key)}: {format_value(value, key)}"
            for key, value in headline_of(read_lesson_metrics(out_dir)).items()]


def format_headline(out_dir: Path) -> str:
    """'key=value  key=value' for the runner's table (values as format_value writes them, shortened)."""
    return "  ".join(f"{key}={format_value(value, key, SHORT_VALUE)}"
                     for key, value in headline_of(read_lesson_metrics(out_dir)).items())


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


def inline_html(text: str) -> str:
    """Escaped text with `code` rendered (a title on the front page or in a page's navigation)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


# --- The page ----------------------------------------------------------------------------------

def _status(result) -> str:
    if result.ok:
        return '<span class="ok">ok</span>'
    if result.interrupted:
        return '<span class="fail">interrupted (stopped by Ctrl-C)</span>'
    last_line = next((line for line in reversed(result.console.splitlines()) if line.strip()), "")
    return (f'<span class="fail">failed (exit {result.returncode})</span>'
            + (f'<br><span class="small">{html.escape(last_line)}</span>' if last_line else ""))


def _row(result, title: str, link: str) -> str:
    numbers = "".join(f"<li>{html.escape(line)}</li>" for line in headline_lines(result.out_dir))
    return (f'<tr><td><a href="{html.escape(link)}">{inline_html(title or result.name)}</a><br>'
            f'<span class="small">{html.escape(result.name)}</span></td>'
            f'<td>{_status(result)}<br><span class="small">{result.seconds:.1f} s</span></td>'
            f'<td>{f"<ul class=numbers>{numbers}</ul>" if numbers else ""}</td></tr>')


def _console_link(result, root: Path) -> str:
    try:
        return quote((Path(result.out_dir) / CONSOLE_FILE).resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        return (Path(result.out_dir) / CONSOLE_FILE).resolve().as_uri()


def write_gallery(root: Path, results: list, wall_seconds: float, docstrings: dict, quick: bool = False,
                  not_started: list = (), course_size: "int | None" = None, pages: "dict | None" = None) -> Path:
    """Write root/index.html for `results` (run_all.LessonResult, in course order) and return its path.

    docstrings maps a lesson's name ("lesson_x/NN_y") to its docstring (its first sentence is the
    title); quick marks a --quick run; not_started names the lessons an interrupted run never
    started; course_size, the number of lessons in the course (to say when only some of them ran);
    pages maps a lesson's name to its page (relative to root), else a lesson links to its console.txt.
    """
    root = Path(root)
    pages = pages or {}
    rows = [_row(result, split_title(docstrings.get(result.name, ""))[0],
                 pages.get(result.name) or _console_link(result, root)) for result in results]
    passed = sum(result.ok for result in results)
    total = sum(result.seconds for result in results)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    kind = "quick run" if quick else "run"
    notes = []
    if quick:
        notes.append('<p class="banner"><strong>A quick run</strong> (<code>--quick</code>): every lesson ran '
                     "its smaller mode, so these numbers are not the course's. The full course's page is "
                     "<code>outputs/index.html</code>.</p>")
    if not pages:
        notes.append('<p class="meta">Each lesson links to its console output; for a page per lesson with '
                     "every cell's code, output and figures, run <code>python course/pages.py</code>.</p>")
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
<table class="lessons" id="contents">
<tr><th>lesson</th><th>status</th><th>headline numbers</th></tr>
{''.join(rows)}
</table>
</body>
</html>
"""
    path = root / GALLERY_FILE
    path.write_text(page, encoding="utf-8")
    return path
