"""Small helpers for self-contained HTML reports (no external assets).

* :func:`figure_img`: a matplotlib figure as an inline base64 PNG ``<img>``;
* :func:`html_table`: an HTML table from rows (dicts or sequences), values escaped;
* :func:`page`: a complete page with minimal CSS around body HTML;
* :func:`verdict` and :func:`warnings_html`: the one-line verdict a report opens with, and
  warnings in a box;
* :func:`legend_above`: one figure legend above the plots, so no legend covers data.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #1d1d1f; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.75rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } tr:nth-child(even) td { background: #fafafa; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
.note { color: #555; font-size: 0.9rem; } img { max-width: 100%; }
code, pre { background: #f4f4f6; padding: 0.1rem 0.3rem; border-radius: 3px; }
.verdict { font-size: 1.1rem; font-weight: 600; padding: 0.5rem 0.8rem; background: #eef4fb;
           border-left: 4px solid #1f77b4; }
.warning { padding: 0.5rem 0.8rem; background: #fff4e5; border-left: 4px solid #e67e00; }
"""


def esc(value: Any) -> str:
    """HTML-escaped ``str(value)``."""
    return html.escape(str(value))


def fmt(value: Any, digits: int = 3) -> str:
    """Floats rounded to ``digits``, ``None`` as an em dash, everything else as ``str``."""
    if value is None:
        return "\u2014"
    if isinstance(value, float):
        return "\u2014" if value != value else f"{value:.{digits}f}"
    return str(value)


def figure_img(fig, alt: str = "figure", dpi: int = 110, close: bool = True) -> str:
    """``<img>`` tag embedding ``fig`` as a base64 PNG.

    ``fig`` may be a ``matplotlib.figure.Figure`` built without pyplot (preferred: no GUI
    backend involved); a pyplot figure is closed afterwards when ``close`` is true.
    """
    import sys

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if close and "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def html_table(rows: Sequence[Mapping[str, Any] | Sequence[Any]], columns: Sequence[str] | None = None,
               caption: str | None = None, digits: int = 3) -> str:
    """An HTML table; ``columns`` defaults to the keys of the first dict row."""
    rows = list(rows)
    if columns is None:
        columns = list(rows[0].keys()) if rows and isinstance(rows[0], Mapping) else []
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = [row.get(c) for c in columns] if isinstance(row, Mapping) else list(row)
        body.append("<tr>" + "".join(f"<td>{esc(fmt(v, digits))}</td>" for v in cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{cap}{thead}<tbody>{''.join(body)}</tbody></table>"


def verdict(text: str) -> str:
    """The report's one-line verdict (escaped), shown first under the title."""
    return f"<p class='verdict'>{esc(text)}</p>"


def warnings_html(messages: Sequence[str]) -> str:
    """Each warning in its own highlighted paragraph (empty for none)."""
    return "".join(f"<p class='warning'>Warning: {esc(m)}</p>" for m in messages)


def legend_above(fig, axes: Sequence[Any], ncol: int | None = None) -> None:
    """One legend for ``axes`` (entries deduplicated by label) just above the figure, outside
    every axes, so it never covers data (``figure_img`` saves with a tight box that keeps it)."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                   ncol=ncol or len(labels), fontsize=8, frameon=False)


def page(title: str, body: str, css: str = CSS) -> str:
    """A complete UTF-8 HTML document."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{css}</style></head>"
            f"<body><h1>{esc(title)}</h1>\n{body}\n</body></html>\n")
