"""Small plots as numbers for an SVG template: a line of recent samples, bars per hour.

Only coordinates are computed here; the template draws them, so every label still goes
through the template's escaping.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Final

WIDTH: Final = 320.0
HEIGHT: Final = 80.0
PAD: Final = 4.0


@dataclass(frozen=True, slots=True)
class Line:
    points: str
    last: float | None
    top: float
    samples: int


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Bars:
    bars: list[Bar]
    top: int
    total: int


def line(series: list[tuple[float, float]]) -> Line:
    """A polyline over the samples, scaled to the plot (time across, value up)."""
    if not series:
        return Line("", None, 0.0, 0)
    t0, t1 = series[0][0], series[-1][0]
    top = max(v for _, v in series) or 1.0
    span = (t1 - t0) or 1.0
    points = " ".join(
        f"{PAD + (t - t0) / span * (WIDTH - 2 * PAD):.1f},"
        f"{HEIGHT - PAD - v / top * (HEIGHT - 2 * PAD):.1f}"
        for t, v in series
    )
    return Line(points, series[-1][1], top, len(series))


def bars(counts: list[tuple[datetime, int]]) -> Bars:
    if not counts:
        return Bars([], 0, 0)
    top = max(count for _, count in counts) or 1
    slot = (WIDTH - 2 * PAD) / len(counts)
    drawn = []
    for index, (hour, count) in enumerate(counts):
        height = count / top * (HEIGHT - 2 * PAD)
        drawn.append(
            Bar(
                round(PAD + index * slot, 1),
                round(HEIGHT - PAD - height, 1),
                round(max(slot - 2, 1), 1),
                round(height, 1),
                hour.strftime("%H:00"),
                count,
            )
        )
    return Bars(drawn, top, sum(c for _, c in counts))
