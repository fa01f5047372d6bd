"""Server-rendered SVG charts: no JavaScript, no CDN, every text escaped.

Each function returns `Markup` (safe to embed in a Jinja template or an HTML export):
all labels pass through `escape`, numbers are formatted by us, nothing else is interpolated.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#07c160", "#1a73e8", "#ff7d00", "#f53f3f", "#722ed1", "#14c9c9", "#86909c", "#f7ba1e")
FONT = 'font-family="PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif"'
EMPTY_TEXT = "所选时间段内暂无数据"

Series = Sequence[tuple[str, Sequence[float]]]


def nice_max(value: float, ticks: int = 4) -> float:
    """A round axis maximum ≥ value whose `ticks` steps are whole "nice" numbers (1, 2, 3, 5 × 10^n)."""
    if value <= 0:
        return float(ticks)
    need = value / ticks
    scale = 1.0
    while scale * 10 <= need:
        scale *= 10
    for m in (1, 2, 3, 5, 10):
        if m * scale >= need:
            return m * scale * ticks
    return 10 * scale * ticks


def _fmt(v: float) -> str:
    return f"{v:g}" if v != int(v) else str(int(v))


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" class="chart" {FONT} font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-size="14" font-weight="600" fill="#1f2329">{escape(title)}</text>',
    ]


def _empty(width: int, height: int, title: str) -> Markup:
    parts = _open(width, height, title)
    parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#8a9099">'
                 f"{escape(EMPTY_TEXT)}</text></svg>")
    return Markup("".join(parts))


def _legend(series: Series, x: float, y: float) -> list[str]:
    out = []
    for i, (name, _) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x:.1f}" y="{y - 8}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{x + 14:.1f}" y="{y + 1}">{escape(name)}</text>')
        x += 28 + 12 * len(name)
    return out


def _axes(left: float, top: float, plot_w: float, plot_h: float, vmax: float) -> list[str]:
    out = []
    for i in range(5):
        v = vmax * i / 4
        y = top + plot_h - plot_h * i / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e5e6eb"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#4e5969">{_fmt(v)}</text>')
    return out


def _x_labels(labels: Sequence[str], left: float, slot: float, y: float) -> list[str]:
    every = max(1, len(labels) // 12)
    return [f'<text x="{left + slot * (i + 0.5):.1f}" y="{y}" text-anchor="middle" fill="#4e5969">'
            f"{escape(_short(label))}</text>"
            for i, label in enumerate(labels) if i % every == 0]


def _short(label: str, n: int = 10) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def _frame(labels: Sequence[str], series: Series, title: str, width: int, height: int):
    """Axes and legend of a per-label chart: (parts, left, top, plot height, max, slot width),
    or the empty-chart markup when there is nothing to draw."""
    values = [v for _, vs in series for v in vs]
    if not labels or not any(values):
        return _empty(width, height, title)
    left, top, bottom = 48, 52, 30
    plot_w, plot_h = width - left - 12, height - top - bottom
    vmax = nice_max(max(values))
    parts = _open(width, height, title) + _axes(left, top, plot_w, plot_h, vmax) + _legend(series, left, 38)
    return parts, left, top, plot_h, vmax, plot_w / len(labels)


def bar_chart(labels: Sequence[str], series: Series, title: str, *, width: int = 720, height: int = 260) -> Markup:
    """Grouped vertical bars: one group per label (e.g. per day), one bar per series."""
    frame = _frame(labels, series, title, width, height)
    if isinstance(frame, Markup):
        return frame
    parts, left, top, plot_h, vmax, slot = frame
    bar_w = max(1.0, slot * 0.8 / len(series))
    for s, (name, vs) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        for i, v in enumerate(vs):
            h = plot_h * v / vmax
            x = left + slot * i + slot * 0.1 + bar_w * s
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{color}"><title>{escape(labels[i])} {escape(name)}：{_fmt(v)}</title></rect>')
    parts += _x_labels(labels, left, slot, height - 10)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(labels: Sequence[str], series: Series, title: str, *, width: int = 720, height: int = 260) -> Markup:
    """One line per series over the labels (days), with a dot and tooltip per point."""
    frame = _frame(labels, series, title, width, height)
    if isinstance(frame, Markup):
        return frame
    parts, left, top, plot_h, vmax, slot = frame
    for s, (name, vs) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        points = [(left + slot * (i + 0.5), top + plot_h - plot_h * v / vmax) for i, v in enumerate(vs)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (x, y), label, v in zip(points, labels, vs, strict=False):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                         f"<title>{escape(label)} {escape(name)}：{_fmt(v)}</title></circle>")
    parts += _x_labels(labels, left, slot, height - 10)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(items: Sequence[tuple[str, float]], title: str, *, width: int = 720, bar: int = 22) -> Markup:
    """Horizontal bars with the label on the left: categories, groups, top lists."""
    height = 40 + bar * max(1, len(items))
    if not items or not any(v for _, v in items):
        return _empty(width, 80, title)
    left = 170
    plot_w = width - left - 60
    vmax = max(v for _, v in items) or 1
    parts = _open(width, height, title)
    for i, (label, v) in enumerate(items):
        y = 28 + i * bar
        w = plot_w * v / vmax
        color = PALETTE[i % len(PALETTE)] if len(items) <= len(PALETTE) else PALETTE[0]
        parts.append(
            f'<text x="{left - 8}" y="{y + bar / 2 + 3:.1f}" text-anchor="end" fill="#1f2329">'
            f"{escape(_short(label, 14))}</text>"
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{bar - 6}" fill="{color}">'
            f"<title>{escape(label)}：{_fmt(v)}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + bar / 2 + 3:.1f}" fill="#4e5969">{_fmt(v)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def charts_for(report) -> dict[str, Markup]:
    """The standard chart set of a `figures.Report`, keyed by name."""
    from bot.reports.figures import METRIC_LABELS as L

    days = [d[5:] for d in report.days]

    def per_day(*metrics: str) -> list[tuple[str, list[int]]]:
        return [(L[m], [report.by_day[d][m] for d in report.days]) for m in metrics]

    groups = [(c["name"], c["messages"]) for c in report.by_chat[:15]]
    return {
        "activity": line_chart(days, per_day("messages", "active"), "每日消息数与活跃成员"),
        "answers": bar_chart(days, per_day("keyword_answers", "faq_answers", "suggested", "unanswered"),
                             "每日自动回复与未回答"),
        "blocks": bar_chart(days, per_day("blocked", "held"), "每日拦截与转人工审核"),
        "members": bar_chart(days, per_day("joins", "leaves"), "每日新成员与退群"),
        "categories": hbar_chart(report.categories, "拦截分类"),
        "groups": hbar_chart(groups, "各群消息数"),
    }
