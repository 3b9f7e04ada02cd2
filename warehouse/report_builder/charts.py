"""Tiny inline-SVG charts: the report must work offline, so no chart library, no CDN.

Each function returns an ``<svg>`` string sized by a viewBox, so it scales with the page.
"""

from __future__ import annotations

from html import escape

PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d", "#ea580c", "#475569", "#0d9488", "#9333ea"]


def _fmt(value: float) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def band_line(points: list[tuple[str, float | None, float | None, float | None, bool]],
              title: str, width: int = 760, height: int = 220) -> str:
    """A line with its normal-range band and anomalies as red dots.

    ``points``: (label, value, band_low, band_high, is_anomaly) in time order.
    """
    values = [v for _, v, lo, hi, _ in points for v in (v, lo, hi) if v is not None]
    if not points or not values:
        return "<p class='muted'>no data</p>"
    lo_v, hi_v = min(values), max(values)
    span = (hi_v - lo_v) or 1.0
    left, right, top, bottom = 56, 10, 24, 28
    n = len(points)

    def x(i):
        return left + (width - left - right) * (i / max(n - 1, 1))

    def y(v):
        return top + (height - top - bottom) * (1 - (v - lo_v) / span)

    band_top = [(x(i), y(hi)) for i, (_, _, lo, hi, _) in enumerate(points) if hi is not None]
    band_bottom = [(x(i), y(lo)) for i, (_, _, lo, hi, _) in enumerate(points) if lo is not None]
    parts = [f"<svg viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
             f"<text x='{left}' y='14' class='t'>{escape(title)}</text>"]
    if band_top and band_bottom:
        poly = band_top + band_bottom[::-1]
        parts.append("<polygon class='band' points='"
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in poly) + "'/>")
    line = [(x(i), y(v)) for i, (_, v, _, _, _) in enumerate(points) if v is not None]
    parts.append("<polyline class='line' points='"
                 + " ".join(f"{a:.1f},{b:.1f}" for a, b in line) + "'/>")
    for i, (label, v, _, _, anomaly) in enumerate(points):
        if anomaly and v is not None:
            parts.append(f"<circle class='anomaly' cx='{x(i):.1f}' cy='{y(v):.1f}' r='4'>"
                         f"<title>{escape(label)}: {_fmt(v)} (outside normal range)</title>"
                         "</circle>")
    for v in (lo_v, (lo_v + hi_v) / 2, hi_v):
        parts.append(f"<text x='{left - 6}' y='{y(v) + 4:.1f}' class='ax' "
                     f"text-anchor='end'>{_fmt(v)}</text>")
    for i in sorted({0, n // 2, n - 1}):
        parts.append(f"<text x='{x(i):.1f}' y='{height - 8}' class='ax' "
                     f"text-anchor='middle'>{escape(points[i][0])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def hbars(rows: list[tuple[str, float]], title: str, fmt=_fmt, width: int = 760) -> str:
    """Horizontal bars, one per (label, value)."""
    if not rows:
        return "<p class='muted'>no data</p>"
    bar_h, gap, left = 20, 6, 170
    height = 26 + len(rows) * (bar_h + gap)
    top_v = max(v for _, v in rows) or 1.0
    parts = [f"<svg viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
             f"<text x='0' y='14' class='t'>{escape(title)}</text>"]
    for i, (label, v) in enumerate(rows):
        yy = 24 + i * (bar_h + gap)
        w = max((width - left - 90) * (v / top_v), 1)
        parts.append(f"<text x='{left - 8}' y='{yy + 15}' class='ax' text-anchor='end'>"
                     f"{escape(str(label))}</text>"
                     f"<rect x='{left}' y='{yy}' width='{w:.1f}' height='{bar_h}' "
                     f"fill='{PALETTE[i % len(PALETTE)]}' rx='3'/>"
                     f"<text x='{left + w + 6:.1f}' y='{yy + 15}' class='ax'>{fmt(v)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def histogram(counts: list[int], edges: list[float], title: str, width: int = 760,
              height: int = 200) -> str:
    if not counts:
        return "<p class='muted'>no data</p>"
    left, top, bottom = 40, 24, 26
    top_c = max(counts) or 1
    bw = (width - left - 10) / len(counts)
    parts = [f"<svg viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
             f"<text x='0' y='14' class='t'>{escape(title)}</text>"]
    for i, c in enumerate(counts):
        h = (height - top - bottom) * c / top_c
        xx = left + i * bw
        color = "#dc2626" if edges[i] >= 0.5 else "#2563eb"
        parts.append(f"<rect x='{xx + 1:.1f}' y='{height - bottom - h:.1f}' "
                     f"width='{bw - 2:.1f}' height='{h:.1f}' fill='{color}'>"
                     f"<title>{edges[i]:.1f}–{edges[i + 1]:.1f}: {c}</title></rect>"
                     f"<text x='{xx + bw / 2:.1f}' y='{height - 10}' class='ax' "
                     f"text-anchor='middle'>{edges[i]:.1f}</text>")
    parts.append("</svg>")
    return "".join(parts)


def heat_color(value: float | None) -> str:
    """White to deep blue for 0..1."""
    if value is None:
        return "#f8fafc"
    v = max(0.0, min(1.0, float(value)))
    r, g, b = int(239 - 202 * v), int(246 - 147 * v), int(255 - 20 * v)
    return f"rgb({r},{g},{b})"
