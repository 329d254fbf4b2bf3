# SPDX-License-Identifier: MIT
"""svg.py - line charts written as plain SVG elements, so the bench needs no plotting package."""

import math
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 170, 40, 55


def _nice_step(span, want):
    """A 1-2-5 step giving about `want` ticks over span."""
    raw = span / max(want, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _ticks(lo, hi, log):
    if log:
        return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                if lo <= 10.0 ** e <= hi * 1.0001]
    step = _nice_step(hi - lo, 6)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _label(v):
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-2:
        e = int(math.floor(math.log10(abs(v))))
        m = v / 10 ** e
        return f"1e{e}" if abs(m - 1) < 1e-9 else f"{m:g}e{e}"
    return f"{v:g}"


def line_chart(path, series, title, xlabel, ylabel, logx=False, ylim=None):
    """Write series [(name, xs, ys), ...] as one SVG line chart to path.

    logx puts x on a log scale (non-positive x values are dropped); ylim
    (lo, hi) clips the y range, otherwise it spans the data.
    """
    pts = []
    for name, xs, ys in series:
        keep = [(x, y) for x, y in zip(xs, ys)
                if math.isfinite(x) and math.isfinite(y) and (x > 0 or not logx)]
        pts.append((name, keep))
    allx = [x for _, p in pts for x, _ in p]
    ally = [y for _, p in pts for _, y in p]
    if not allx:
        allx, ally = [1.0, 10.0], [0.0, 1.0]
    xlo, xhi = min(allx), max(allx)
    ylo, yhi = ylim if ylim else (min(ally), max(ally))
    if xhi <= xlo:
        xhi = xlo * 10 if logx else xlo + 1
    if yhi <= ylo:
        yhi = ylo + 1
    if logx:
        xlo, xhi = 10 ** math.floor(math.log10(xlo)), 10 ** math.ceil(math.log10(xhi))
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x):
        f = (math.log10(x) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) if logx \
            else (x - xlo) / (xhi - xlo)
        return LEFT + f * pw

    def sy(y):
        y = min(max(y, ylo), yhi)
        return TOP + (1 - (y - ylo) / (yhi - ylo)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT + pw / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>']
    for t in _ticks(xlo, xhi, logx):
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle">{_label(t)}</text>')
    for t in _ticks(ylo, yhi, False):
        y = sy(t)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(t)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{HEIGHT - 14}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(18 {TOP + ph / 2}) rotate(-90)" text-anchor="middle">'
               f'{escape(ylabel)}</text>')
    for i, (name, p) in enumerate(pts):
        colour = COLOURS[i % len(COLOURS)]
        if p:
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in p)
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{d}"/>')
        ly = TOP + 10 + i * 20
        out.append(f'<line x1="{LEFT + pw + 12}" y1="{ly}" x2="{LEFT + pw + 36}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="3"/>')
        out.append(f'<text x="{LEFT + pw + 42}" y="{ly + 4}">{escape(name)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
