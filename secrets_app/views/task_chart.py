"""The Tasks page's chart: failures per day over the last 30 days, stacked by error code,
drawn on the server as SVG (no chart library, no JavaScript). Colours come from CSS variables
(static/css/app.css: --chart-1 ... --chart-6), so it reads in both themes; the page puts a
table of the same numbers next to it."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from secrets_app.services.inbox_reading import ChartDay

WIDTH, HEIGHT = 720, 160
LEFT, BOTTOM, TOP = 32, 22, 8
SERIES = 6  # colours; codes beyond the sixth share the last one ("other")


def series_of(codes: list[str]) -> dict[str, int]:
    return {code: min(n, SERIES - 1) + 1 for n, code in enumerate(codes)}


def summary(days: list[ChartDay], codes: list[str]) -> str:
    total = sum(d.total for d in days)
    if not total:
        return f"No failed tasks in the last {len(days)} days."
    per_code = {c: sum(d.counts.get(c, 0) for d in days) for c in codes}
    parts = ", ".join(f"{c}: {n}" for c, n in per_code.items())
    busiest = max(days, key=lambda d: d.total)
    return (
        f"{total} failed task{'s' if total != 1 else ''} in the last {len(days)} days ({parts}); "
        f"most on {busiest.day:%b %d} ({busiest.total})."
    )


def chart_svg(days: list[ChartDay], codes: list[str]) -> SafeString:
    peak = max((d.total for d in days), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(days), 1)
    bar_w = max(step - 3, 2)
    series = series_of(codes)
    bars = []
    for n, day in enumerate(days):
        x = LEFT + n * step + 1.5
        y: float = TOP + plot_h
        for code in codes:
            count = day.counts.get(code, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            bars.append(
                format_html(
                    '<rect class="series-{}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}: {} × {}</title></rect>",
                    series[code],
                    f"{x:.1f}",
                    f"{y:.1f}",
                    f"{bar_w:.1f}",
                    f"{h:.1f}",
                    f"{day.day:%b %d}",
                    count,
                    code,
                )
            )
    ticks = format_html_join(
        "",
        '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (f"{LEFT + n * step + step / 2:.1f}", HEIGHT - 6, f"{day.day:%b %d}")
            for n, day in enumerate(days)
            # Today and every seventh day before it: labels never overlap.
            if (len(days) - 1 - n) % 7 == 0
        ),
    )
    axis = format_html(
        '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
        '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>'
        '<text class="tick" x="{}" y="{}" text-anchor="end">0</text>',
        LEFT,
        TOP + plot_h,
        WIDTH - 4,
        TOP + plot_h,
        LEFT - 4,
        TOP + 10,
        peak,
        LEFT - 4,
        TOP + plot_h,
    )
    return format_html(
        '<svg class="task-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMidYMid meet">{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        summary(days, codes),
        axis,
        mark_safe("".join(bars)),
        ticks,  # noqa: S308
    )
