"""HTML primitives for the page renderers: escaping, the page shell, its stylesheet.

Everything shown may come from the candidate (its numbers, its source, its stderr
in evidence), so every string passes through `text()` or `attr()`, and the page is
locked by a Content-Security-Policy that allows nothing but its own stylesheet,
named by hash: no script runs, nothing is fetched, no injected style applies.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from typing import Any

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def text(value: object) -> str:
    """Any value as HTML text: control characters shown as escapes, markup escaped."""
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else "\ufffd", str(value))
    return html.escape(shown, quote=True)


def attr(value: object) -> str:
    """A value for a double-quoted attribute (newlines kept as character references)."""
    return text(value).replace("\n", "&#10;")


def embedded_json(data: Any, element_id: str) -> str:
    """Data in a `<script type="application/json">` block that no text in it can end or break.

    `<`, `>` and `&` become JSON escapes, so neither `</script>` nor `<!--` can appear;
    lone surrogates (bytes a candidate printed) stay escaped, so `json.loads` gives them back.
    """
    dumped = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    dumped = dumped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    dumped = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
    return f'<script type="application/json" id="{attr(element_id)}">{dumped}</script>'


def read_embedded_json(page: str, element_id: str) -> Any:
    """The data `embedded_json` put in a page (for tests and for tools reading a saved page)."""
    match = re.search(f'<script type="application/json" id="{re.escape(element_id)}">(.*?)</script>', page, re.S)
    if match is None:
        raise ValueError(f"no embedded JSON block {element_id!r} in the page")
    return json.loads(match.group(1))


def short_number(number: str | None, keep: int = 10) -> str:
    """A decimal string, its middle elided past 2*keep+4 digits."""
    if number is None:
        return "-"
    if len(number) <= 2 * keep + 4:
        return number
    return f"{number[:keep]}…{number[-keep:]} ({len(number):,} digits)"


def number_cell(number: str | None) -> str:
    """A number for a table: elided when long, the whole number on hover."""
    if number is None:
        return '<span class="muted">none</span>'
    shown = short_number(number)
    if shown == number:
        return text(number)
    whole = number if len(number) <= 100_000 else f"{len(number):,} digits; the whole number is in the embedded JSON"
    return f'<span class="elided" title="{attr(whole)}">{text(shown)}</span>'


def page(title: str, body: str, data: str) -> str:
    """The whole document: CSP first, then the stylesheet it allows by hash, the body, the data."""
    digest = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
    policy = (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; font-src 'none'; "
        "script-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{attr(policy)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="color-scheme" content="light dark">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n"
        f"<style>{STYLE}</style>\n"
        "</head>\n<body>\n"
        f"{body}\n{data}\n"
        "</body>\n</html>\n"
    )


STYLE = """
:root { --bg:#ffffff; --fg:#1b1f24; --muted:#5b636d; --line:#d5d9de; --panel:#f5f7f9;
  --pass:#1a7f37; --fail:#c62828; --error:#9a6700; --default:#1f5fbf; --next:#d9730d;
  --allow:#2e9d5b; --allow-fill:rgba(46,157,91,.16); --add:#e6f4ea; --del:#fdecea; --hunk:#eef1f5; }
@media (prefers-color-scheme: dark) {
  :root { --bg:#14171b; --fg:#e3e6ea; --muted:#98a1ab; --line:#353b43; --panel:#1d2127;
    --pass:#4cc56f; --fail:#ff6b6b; --error:#e3b341; --default:#6aa7ff; --next:#ffa657;
    --allow:#56d38a; --allow-fill:rgba(86,211,138,.14); --add:#133321; --del:#3d1a1a; --hunk:#222831; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.muted { color: var(--muted); } a { color: var(--default); }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { margin: 0; padding: 8px 10px; background: var(--panel); border: 1px solid var(--line); border-radius: 4px;
  overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failing td { background: var(--del); }
.verdict { border: 2px solid var(--line); border-left-width: 10px; border-radius: 6px; padding: 12px 16px; }
.verdict.pass { border-color: var(--pass); } .verdict.fail { border-color: var(--fail); }
.verdict.error { border-color: var(--error); }
.verdict .word { font-size: 26px; font-weight: 800; letter-spacing: .04em; margin-right: 12px; }
.verdict.pass .word { color: var(--pass); } .verdict.fail .word { color: var(--fail); }
.verdict.error .word { color: var(--error); }
.verdict .headline { font-size: 18px; font-weight: 600; }
.verdict p { margin: 6px 0 0; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-weight: 600; font-size: 12px;
  border: 1px solid currentColor; }
.badge.ok, .badge.pass { color: var(--pass); } .badge.bad, .badge.fail { color: var(--fail); }
.badge.error, .badge.other { color: var(--error); } .verdict.other { border-color: var(--muted); }
.warn { color: var(--error); font-weight: 600; }
.elided { text-decoration: underline dotted; cursor: help; }
.run small { color: var(--muted); display: block; }
.figs { display: grid; grid-template-columns: 640fr 440fr; gap: 12px; }
@media (max-width: 900px) { .figs { grid-template-columns: 1fr; } }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px; background: var(--panel); }
figcaption { font-size: 12px; color: var(--muted); padding: 2px 4px; }
svg.plot { width: 100%; height: auto; display: block; } svg.bars { max-width: 760px; }
svg .axis { stroke: var(--muted); stroke-width: 1; } svg .grid { stroke: var(--line); stroke-width: 1; }
svg text { fill: var(--muted); font-size: 11px; font-family: system-ui, sans-serif; }
svg .allow { fill: var(--allow-fill); stroke: var(--allow); stroke-width: 1; stroke-dasharray: 4 3; }
svg polyline { fill: none; stroke-width: 2; }
svg .series-default { stroke: var(--default); } svg .series-next { stroke: var(--next); stroke-dasharray: 6 3; }
svg circle.default { fill: var(--default); } svg circle.next { fill: var(--next); }
svg .missing { stroke: var(--muted); stroke-width: 1.5; }
svg circle.failing { stroke: var(--fail); stroke-width: 3; }
svg .failmark { stroke: var(--fail); stroke-width: 2; stroke-dasharray: 5 4; }
svg text.failtext { fill: var(--fail); font-weight: 700; font-size: 13px; }
svg text.stoptext { fill: var(--muted); font-style: italic; }
svg .stopped { fill: var(--line); opacity: .35; }
svg .bar { fill: var(--fail); } svg text.barlabel { fill: var(--fg); font-size: 12px; }
.legend { font-size: 12px; color: var(--muted); margin: 2px 4px; }
.legend b.default { color: var(--default); } .legend b.next { color: var(--next); }
.legend b.allow { color: var(--allow); } .legend b.fail { color: var(--fail); }
.scale input { margin-left: 10px; }
#scale-log:checked ~ .figs .linear, #scale-linear:checked ~ .figs .log { display: none; }
details { border: 1px solid var(--line); border-radius: 4px; margin: 4px 0; }
details > summary { cursor: pointer; padding: 4px 8px; }
details[open] > summary { border-bottom: 1px solid var(--line); }
details > pre, details > div { margin: 6px 8px 8px; }
details.failing { border-color: var(--fail); border-width: 2px; }
details.failing > summary { color: var(--fail); font-weight: 600; }
.diff .add { background: var(--add); display: block; } .diff .del { background: var(--del); display: block; }
.diff .hunk { background: var(--hunk); color: var(--muted); display: block; }
.diff .ctx { display: block; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.rows .head, .rows summary { display: grid; grid-template-columns: 14ch 7ch 14ch 5ch 7ch 1fr; gap: 8px; }
.rows .head { padding: 4px 9px; border-bottom: 1px solid var(--line); } .rows .head span { font-weight: 600; }
.rows summary { list-style: none; } .rows summary::-webkit-details-marker { display: none; }
.rows summary > span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.rate { font-size: 22px; font-weight: 700; }
"""
