"""A self-contained HTML page: inline CSS, every image a base64 ``data:`` URI, no script,
no external link, so the page opens offline and can be filed as one document.

Reads no private values. Every text is escaped; blocks are tuples:
("p", text), ("note", text), ("list", [text, …]), ("table", headers, rows),
("kv", [(key, value), …]), ("img", png_bytes, alt), ("pre", text), ("h3", text),
("status", compliance status).
"""

from __future__ import annotations

import base64
from html import escape

from synth_pipeline.reporting.common import fmt

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.note{background:#fff6e0;border-left:4px solid #e0a800;padding:.5em .8em}
.status-compliant{color:#1a7f37;font-weight:bold}.status-review{color:#9a6700;font-weight:bold}
.status-non{color:#c62828;font-weight:bold}img{max-width:100%;display:block;margin:.5em 0}
nav a{margin-right:1em}pre{background:#f6f8fa;padding:.6em;overflow-x:auto}
"""


def _cell(value) -> str:
    if isinstance(value, (list, tuple)):
        return escape(", ".join(fmt(v) for v in value))
    if isinstance(value, dict):
        return escape("; ".join(f"{k}: {fmt(v)}" for k, v in value.items()))
    return escape(fmt(value))


def img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def status_class(status: str) -> str:
    return {"compliant": "status-compliant", "review required": "status-review"}.get(status, "status-non")


def render_block(block: tuple) -> str:
    kind = block[0]
    if kind == "p":
        return f"<p>{escape(str(block[1]))}</p>"
    if kind == "h3":
        return f"<h3>{escape(str(block[1]))}</h3>"
    if kind == "note":
        return f'<p class="note">{escape(str(block[1]))}</p>'
    if kind == "status":
        return f'<p>Status: <span class="{status_class(block[1])}">{escape(block[1])}</span></p>'
    if kind == "list":
        return "<ul>" + "".join(f"<li>{escape(str(item))}</li>" for item in block[1]) + "</ul>"
    if kind == "pre":
        return f"<pre>{escape(str(block[1]))}</pre>"
    if kind == "img":
        return img_tag(block[1], block[2])
    if kind == "kv":
        return "<table>" + "".join(f"<tr><th>{escape(str(k))}</th><td>{_cell(v)}</td></tr>" for k, v in block[1]) + \
            "</table>"
    if kind == "table":
        head = "".join(f"<th>{escape(str(h))}</th>" for h in block[1])
        rows = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in block[2])
        return f"<table><tr>{head}</tr>{rows}</table>"
    raise ValueError(f"unknown block kind {kind!r}")


def render_page(title: str, sections: list[tuple[str, list[tuple]]], *, subtitle: str = "", banner: str = "") -> str:
    """One page: an optional banner (the internal label), a title, a table of contents
    (in-page anchors only) and the sections."""
    anchors = [f"s{i}" for i in range(len(sections))]
    nav = " ".join(f'<a href="#{a}">{escape(h)}</a>' for a, (h, _) in zip(anchors, sections))
    body = "".join(f'<h2 id="{a}">{escape(h)}</h2>' + "".join(render_block(b) for b in blocks)
                   for a, (h, blocks) in zip(anchors, sections))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            + (f'<p class="internal"><strong>{escape(banner)}</strong></p>' if banner else "") +
            f"<h1>{escape(title)}</h1><p>{escape(subtitle)}</p><nav>{nav}</nav>{body}</body></html>\n")
