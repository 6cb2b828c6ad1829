"""Bar charts drawn on the server as inline SVG: no script, no external file, readable offline."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from babel.dates import format_date, format_datetime
from markupsafe import Markup, escape

from ticketflow.domain.stats.schemas import CheckInSlot, DailySales
from ticketflow.lib.i18n import DEFAULT_LOCALE, FORMAT_LOCALES, as_language

SERIES_COLOURS = ("#206bc4", "#d63939")
MAX_DAYS = 366
MAX_FILLED_SLOTS = 192
"""Up to 48 hours of 15-minute slots are drawn with the empty ones; longer spans only busy slots."""
MAX_SLOTS = 400
MAX_BAR_WIDTH = 40.0


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    values: tuple[int, ...]
    """One value a series, stacked from the bottom."""


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is >= value (at least 1)."""
    if value <= 1:
        return 1
    magnitude = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    series: Sequence[str],
    width: int = 760,
    height: int = 240,
) -> Markup:
    """Stacked bars with a y axis, a few x labels and a tooltip (`<title>`) on every bar."""
    left, right, top, bottom = 48, 12, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    step = nice_ceiling(math.ceil(max((sum(b.values) for b in bars), default=0) / 4))
    peak = 4 * step
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tf-chart" viewBox="0 0 {width} {height}"'
        f' width="100%" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = step * i
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e7e9"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end"'
            f' fill="#667382">{value}</text>'
        )
    slot = plot_w / max(len(bars), 1)
    bar_w = min(max(slot * 0.8, 1.0), MAX_BAR_WIDTH)
    label_every = max(1, math.ceil(len(bars) / 10))
    for index, bar in enumerate(bars):
        x = left + index * slot + (slot - bar_w) / 2
        base = float(top + plot_h)
        tooltip = f"{bar.label}: " + ", ".join(
            f"{name} {value}" for name, value in zip(series, bar.values, strict=True)
        )
        parts.append(f'<g class="tf-bar" data-label="{escape(bar.label)}" data-total="{sum(bar.values)}">')
        parts.append(f"<title>{escape(tooltip)}</title>")
        for value, colour in zip(bar.values, SERIES_COLOURS, strict=False):
            if value <= 0:
                continue
            h = plot_h * value / peak
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
        parts.append("</g>")
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" font-size="11"'
                f' text-anchor="middle" fill="#667382">{escape(bar.label)}</text>'
            )
    legend_x = left
    for name, colour in zip(series, SERIES_COLOURS, strict=False):
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{height - 5}" font-size="11" fill="#1d273b">{escape(name)}</text>'
        )
        legend_x += 24 + 7 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def sales_bars(days: Sequence[DailySales], locale: str = DEFAULT_LOCALE) -> list[Bar]:
    """One bar a day from the first sale to the last (the most recent year at most)."""
    if not days:
        return []
    counts = {dt.date.fromisoformat(d.date): d.tickets for d in days}
    last = max(counts)
    first = max(min(counts), last - dt.timedelta(days=MAX_DAYS - 1))
    span = (last - first).days + 1
    return [
        Bar(
            label=format_date(day, "dd MMM", locale=FORMAT_LOCALES[as_language(locale)]),
            values=(counts.get(day, 0),),
        )
        for day in (first + dt.timedelta(days=n) for n in range(span))
    ]


def check_in_bars(slots: Sequence[CheckInSlot], locale: str = DEFAULT_LOCALE) -> list[Bar]:
    """One bar a 15-minute slot; gaps drawn empty when the span is short enough to read."""
    if not slots:
        return []
    # Keyed and stepped in UTC: local times of one zone compare by wall clock, so across a DST
    # change the repeated hour's slots would collide and the span would be off by an hour.
    by_start = {s.starts_at.astimezone(dt.UTC): s for s in slots}
    zone = slots[0].starts_at.tzinfo
    first, last = min(by_start), max(by_start)
    step = dt.timedelta(minutes=15)
    span = int((last - first) / step) + 1
    if span <= MAX_FILLED_SLOTS:
        starts = [first + n * step for n in range(span)]
    else:
        starts = sorted(by_start)[-MAX_SLOTS:]
    multi_day = first.astimezone(zone).date() != last.astimezone(zone).date()
    bars = []
    for start in starts:
        slot = by_start.get(start)
        label = format_datetime(
            start.astimezone(zone),
            "dd MMM HH:mm" if multi_day else "HH:mm",
            locale=FORMAT_LOCALES[as_language(locale)],
        )
        bars.append(Bar(label=label, values=(slot.admitted, slot.refused) if slot else (0, 0)))
    return bars
