"""Inline SVG charts, drawn by hand: a line plot over generations and a bar histogram.

No plotting library: a few hundred bytes of SVG per chart is all a report needs,
and it keeps the page self-contained. Points carry `data-series` and
`data-generation` so a browser test can count them, and a `<title>` for hover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from quinebox.report._html import attr, text

WIDTH, HEIGHT = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 30, 40


@dataclass(frozen=True)
class Series:
    """One line: a value (or None: not measured) per generation that has this run."""

    name: str
    label: str
    points: Sequence[tuple[int, float | None]]


@dataclass(frozen=True)
class Plot:
    """What to draw: series over generations 0..last, an allowance band, the failing generation."""

    title: str
    unit: str
    series: Sequence[Series]
    last: int
    """The x axis runs to this generation (N, even when recording stopped earlier)."""
    recorded: int
    """Generations recorded; the rest of the axis is greyed as not recorded."""
    requested: int | None = None
    """N, named in the greyed part when the axis stops short of it."""
    allowance: Sequence[tuple[int, float]] = ()
    failing: int | None = None
    failing_label: str = ""
    width: int = WIDTH
    kind: str = "plot"
    """Names the plot in the SVG (`data-plot`), for tests and styles."""


def line_plot(plot: Plot, *, log: bool) -> str:
    """The plot as an `<svg>` element, on a linear or a log10 axis."""
    values = [v for s in plot.series for _, v in s.points if v is not None] + [v for _, v in plot.allowance]
    top = max(values, default=1.0)
    if log:
        y_max = max(1.0, math.ceil(math.log10(max(top, 1.0)) + 1e-9))
        ticks = [float(10**e) for e in range(int(y_max) + 1)]
    else:
        ticks = _nice_ticks(top)
        y_max = ticks[-1]
    last = max(plot.last, 1)
    width = plot.width
    inner_w, inner_h = width - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x(gen: float) -> float:
        return round(_LEFT + inner_w * gen / last, 1)

    def y(value: float) -> float:
        scaled = math.log10(max(value, 1.0)) / y_max if log else value / y_max
        return round(_TOP + inner_h * (1 - min(scaled, 1.0)), 1)

    parts = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" role="img" '
        f'data-plot="{attr(plot.kind)}" data-scale="{"log" if log else "linear"}" aria-label="{attr(plot.title)}">',
        f"<title>{text(plot.title)}</title>",
    ]
    for tick in ticks:
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y(tick)}" y2="{y(tick)}"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y(tick) + 4}" text-anchor="end">{text(_tick_label(tick))}</text>')
    for gen in _nice_ticks(last, count=10, integer=True):
        if gen <= last:
            parts.append(f'<text x="{x(gen)}" y="{HEIGHT - _BOTTOM + 16}" text-anchor="middle">{int(gen)}</text>')
    parts.append(f'<text x="{_LEFT + inner_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">generation</text>')
    parts.append(f'<text x="12" y="{_TOP - 12}">{text(plot.unit)}{" (log scale)" if log else ""}</text>')
    if plot.recorded - 1 < plot.last:
        start = x(max(plot.recorded - 1, 0))
        wide = x(last) - start > 160
        parts.append(
            f'<rect class="stopped" x="{start}" y="{_TOP}" width="{round(x(last) - start, 1)}" height="{inner_h}"/>'
        )
        parts.append(
            f'<text class="stoptext" x="{round((start + x(last)) / 2, 1)}" y="{_TOP + inner_h / 2}" '
            f'text-anchor="middle">not recorded{f" (N = {plot.requested})" if plot.requested and wide else ""}</text>'
        )
    if len(plot.allowance) >= 2:
        band = [f"{x(g)},{y(v)}" for g, v in plot.allowance]
        floor = f"{x(plot.allowance[-1][0])},{y(0)} {x(plot.allowance[0][0])},{y(0)}"
        parts.append(
            f'<polygon class="allow" points="{" ".join(band)} {floor}"><title>allowed by linear-time</title></polygon>'
        )
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y(0)}" y2="{y(0)}"/>')
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{y(0)}"/>')
    if plot.failing is not None:
        fx = x(plot.failing)
        parts.append(f'<line class="failmark" x1="{fx}" x2="{fx}" y1="{_TOP - 4}" y2="{y(0)}"/>')
        anchor = "end" if plot.failing > last * 0.6 else "start"
        shift = -6 if anchor == "end" else 6
        parts.append(
            f'<text class="failtext" x="{fx + shift}" y="{_TOP + 8}" text-anchor="{anchor}">'
            f"{text(plot.failing_label)}</text>"
        )
    for series in plot.series:
        known = [(g, v) for g, v in series.points if v is not None]
        if len(known) >= 2:
            coords = " ".join(f"{x(g)},{y(v)}" for g, v in known)
            parts.append(f'<polyline class="series-{attr(series.name)}" points="{coords}"/>')
        for gen, value in series.points:
            label = f"generation {gen} · {series.label}: " + ("not measured" if value is None else _value(value))
            data = f'data-series="{attr(series.name)}" data-generation="{gen}"'
            if value is None:
                cx, cy = x(gen), y(0)
                parts.append(
                    f'<path class="missing" {data} d="M{cx - 4},{cy - 4}L{cx + 4},{cy + 4}M{cx - 4},{cy + 4}'
                    f'L{cx + 4},{cy - 4}"><title>{text(label)}</title></path>'
                )
                continue
            failing = " failing" if gen == plot.failing else ""
            radius = 5 if failing else 3
            parts.append(
                f'<circle class="{attr(series.name)}{failing}" {data} cx="{x(gen)}" cy="{y(value)}" r="{radius}">'
                f"<title>{text(label)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, bars: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per label, longest first as given."""
    row, label_w, width = 26, 150, WIDTH
    height = row * max(len(bars), 1) + 10
    most = max((n for _, n in bars), default=1) or 1
    parts = [
        f'<svg class="plot bars" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{attr(title)}"><title>{text(title)}</title>'
    ]
    for i, (label, count) in enumerate(bars):
        y = 5 + i * row
        w = round((width - label_w - 60) * count / most, 1)
        parts.append(
            f'<text class="barlabel" x="{label_w - 8}" y="{y + 16}" text-anchor="end">{text(label)}</text>'
            f'<rect class="bar" data-check="{attr(label)}" x="{label_w}" y="{y + 3}" width="{w}" height="{row - 8}">'
            f"<title>{text(label)}: {count}</title></rect>"
            f'<text class="barlabel" x="{label_w + w + 6}" y="{y + 16}">{count}</text>'
        )
    if not bars:
        parts.append('<text x="10" y="22">no failures</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_ticks(top: float, count: int = 5, integer: bool = False) -> list[float]:
    """0, step, 2*step... up to at least `top`, with a step of 1, 2 or 5 times a power of ten."""
    top = max(top, 1.0)
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, float(round(step)))
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(ticks[-1] + step)
    return ticks


def _tick_label(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _value(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
