"""The devices dashboard's chart over time, drawn on the server as SVG.

The Content-Security-Policy allows no inline script, so the chart is plain markup: polylines with
presentation attributes, a title and description for screen readers, and the same figures as a
table beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal.device_api.fleet import LABELS, STATES
from portal.device_api.models import FleetSample

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36
# More points than pixels helps nobody; a month of 5-minute samples is thinned to this.
MAX_POINTS = 180
# Colour and dash pattern per state, so the lines stay apart without colour vision too.
LOOKS = {
    "offline": ("#dc3545", ""),
    "behind": ("#b35c00", "8 4"),
    "never_activated": ("#6c757d", "2 4"),
    "online": ("#198754", ""),
}


@dataclass(frozen=True)
class Series:
    """One state's line."""

    state: str
    label: str
    colour: str
    dash: str
    points: str
    dots: list[tuple[float, float]]
    latest: int


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw the chart and its table."""

    series: list[Series]
    y_ticks: list[tuple[float, int]]
    x_ticks: list[tuple[float, str]]
    rows: list[FleetSample]
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def fleet_chart(samples: list[FleetSample], start: datetime, end: datetime) -> Chart | None:
    """Lines of registers per state over [start, end], or None without samples."""
    if not samples:
        return None
    rows = thin(samples)
    peak = max(getattr(row, state) for row in rows for state in STATES)
    step = _nice_step(peak)
    top_value = max(step, math.ceil(peak / step) * step)
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        share = min(max((moment - start).total_seconds() / span, 0.0), 1.0)
        return round(LEFT + share * (WIDTH - LEFT - RIGHT), 1)

    def y(value: int) -> float:
        return round(HEIGHT - BOTTOM - value / top_value * (HEIGHT - BOTTOM - TOP), 1)

    series = []
    for state in STATES:
        colour, dash = LOOKS[state]
        coords = [(x(row.taken_at), y(getattr(row, state))) for row in rows]
        series.append(
            Series(
                state=state,
                label=LABELS[state],
                colour=colour,
                dash=dash,
                points=" ".join(f"{cx},{cy}" for cx, cy in coords),
                # A line needs two points; a lone sample, or a few, show as dots as well.
                dots=coords if len(coords) <= 30 else [],
                latest=getattr(rows[-1], state),
            )
        )
    y_ticks = [(y(value), value) for value in range(0, top_value + 1, step)]
    fmt = "%H:%M" if end - start <= timedelta(days=1) else "%m-%d %H:%M"
    moments = [start + (end - start) * i / 4 for i in range(5)]
    return Chart(
        series=series,
        y_ticks=y_ticks,
        x_ticks=[(x(moment), moment.strftime(fmt)) for moment in moments],
        rows=rows,
        description=_describe(rows),
    )


def thin(samples: list[FleetSample]) -> list[FleetSample]:
    """At most MAX_POINTS samples, evenly spread, always keeping the latest."""
    stride = math.ceil(len(samples) / MAX_POINTS)
    return samples[::-1][::stride][::-1] if stride > 1 else samples


def _nice_step(peak: int) -> int:
    """A round tick step (1, 2, 5, 10, 20, ...) giving at most five ticks up to `peak`."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if peak <= step * 5:
                return step
        magnitude *= 10


def _describe(rows: list[FleetSample]) -> str:
    last = rows[-1]
    figures = ", ".join(f"{getattr(last, state)} {LABELS[state].lower()}" for state in STATES)
    first = rows[0].taken_at.strftime("%Y-%m-%d %H:%M")
    return (
        f"Registers per state from {first} to {last.taken_at.strftime('%Y-%m-%d %H:%M')} UTC, "
        f"{len(rows)} samples. Latest: {figures}."
    )
