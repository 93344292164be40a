"""outputs/index.html: one static page that shows the whole course after a run.

Plain HTML and CSS, no script and no server: every link is relative, so the page opens from disk
(double-click it) and survives being zipped and moved together with its folder.
"""
import datetime
import html
from pathlib import Path
from urllib.parse import quote

FIGURE_SUFFIXES = (".png", ".gif")
GALLERY_FILE = "index.html"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1rem 2rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #ddd; padding-bottom: 0.3rem; }
.meta { color: #666; } .ok { color: #137333; font-weight: bold; } .fail { color: #c5221f; font-weight: bold; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.number { font-family: ui-monospace, monospace; }
.doc { white-space: pre-wrap; background: #fafafa; border-left: 4px solid #4a90d9; padding: 0.6rem 1rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: 0.85rem; }
pre.console { background: #1e1e1e; color: #ddd; padding: 0.8rem; overflow-x: auto; max-height: 30rem; font-size: 0.8rem; }
"""


def _link(path: Path, root: Path) -> str:
    return quote(path.relative_to(root).as_posix())


def _flatten(metrics: dict, prefix: str = "") -> list:
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def format_value(value) -> str:
    """Numbers to four significant digits, long lists shortened: for tables, not for computation."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        text = str([format_value(item) if isinstance(item, float) else item for item in value])
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def _lesson_section(result, headline: dict, docstring: str, root: Path) -> str:
    title, _, summary = docstring.partition("\n")
    anchor = html.escape(result.name.replace("/", "-"))
    status = '<span class="ok">ok</span>' if result.ok else f'<span class="fail">failed (exit {result.returncode})</span>'
    parts = [f'<section id="{anchor}">',
             f"<h2>{html.escape(title or result.name)}</h2>",
             f'<p class="meta"><code>{html.escape(result.name)}.py</code> · {status} · {result.seconds:.1f} s</p>']
    if summary.strip():
        parts.append(f'<div class="doc">{html.escape(summary.strip())}</div>')
    metrics = result.metrics
    if metrics:
        rows = "".join(f"<tr><th>{html.escape(key)}</th><td class=\"number\">{html.escape(format_value(value))}</td></tr>"
                       for key, value in _flatten(metrics))
        parts.append(f"<details{' open' if len(metrics) <= 12 else ''}><summary>metrics.json</summary>"
                     f"<table>{rows}</table></details>")
    figures = sorted(path for path in result.out_dir.iterdir() if path.suffix.lower() in FIGURE_SUFFIXES) \
        if result.out_dir.is_dir() else []
    for figure in figures:
        parts.append(f'<figure><img src="{_link(figure, root)}" alt="{html.escape(figure.name)}">'
                     f"<figcaption>{html.escape(figure.name)}</figcaption></figure>")
    parts.append(f"<details{'' if result.ok else ' open'}><summary>console output</summary>"
                 f'<pre class="console">{html.escape(result.console)}</pre></details>')
    parts.append("</section>")
    return "\n".join(parts)


def write_gallery(root: Path, results: list, wall_seconds: float, headlines: dict, docstrings: dict) -> Path:
    """Write root/index.html for `results` (run_all.LessonResult) and return its path.

    headlines and docstrings map a lesson's name ("lesson_x/NN_y") to its few headline numbers and
    to its docstring.
    """
    root = Path(root)
    rows = []
    for result in results:
        numbers = ", ".join(f"{key} = {format_value(value)}" for key, value in headlines[result.name].items())
        status = '<span class="ok">ok</span>' if result.ok else '<span class="fail">failed</span>'
        rows.append(f'<tr><td><a href="#{html.escape(result.name.replace("/", "-"))}">{html.escape(result.name)}</a></td>'
                    f"<td>{status}</td><td class=\"number\">{result.seconds:.1f}</td><td>{html.escape(numbers)}</td></tr>")
    total = sum(result.seconds for result in results)
    passed = sum(result.ok for result in results)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>PyTorch basics: the course, run</title>
<style>{STYLE}</style>
</head>
<body>
<h1>PyTorch basics: every lesson, run</h1>
<p class="meta">{passed} of {len(results)} lessons ran; {total:.1f} s of lesson time, {wall_seconds:.1f} s
from start to end; written {stamp}.</p>
<table>
<tr><th>lesson</th><th>status</th><th>seconds</th><th>headline numbers</th></tr>
{''.join(rows)}
</table>
{''.join(_lesson_section(result, headlines[result.name], docstrings[result.name], root) for result in results)}
</body>
</html>
"""
    path = root / GALLERY_FILE
    path.write_text(page, encoding="utf-8")
    return path
