"""Server-side SVG charts (no JavaScript, no CDN): budget vs funded vs released over time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from frontend.services.grants import Point

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 90, 16, 16, 40


def _steps(points: Sequence[tuple[float, float]]) -> str:
    if not points:
        return ""
    path = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for (_x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        path.append(f"H{x1:.1f}V{y1:.1f}")
        del y0
    return "".join(path)


def budget_chart(
    budget: int,
    points: Sequence[Point],
    start: int,
    end: int,
    *,
    money: Callable[[int], str],
    date: Callable[[int], str],
    labels: dict[str, str],
    title: str,
) -> str:
    """An inline `<svg>`: budget line, cumulative funded and released as step lines from `start` to `end`."""
    end = max(end, start + 1)
    top_value = max([budget, *(p.funded for p in points), 1])

    def x(ts: int) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (ts - start) / (end - start)

    def y(value: int) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top_value)

    funded = (
        [(x(start), y(0))]
        + [(x(p.timestamp), y(p.funded)) for p in points]
        + [(x(end), y(points[-1].funded if points else 0))]
    )
    released = (
        [(x(start), y(0))]
        + [(x(p.timestamp), y(p.released)) for p in points]
        + [(x(end), y(points[-1].released if points else 0))]
    )
    ticks = "".join(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
        f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{escape(money(v))}</text>'
        for v in (0, top_value // 2, top_value)
    )
    xlabels = (
        f'<text x="{LEFT}" y="{HEIGHT - 12}" text-anchor="start">{escape(date(start))}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end">{escape(date(end))}</text>'
    )
    legend = "".join(
        f'<g transform="translate({LEFT + 10 + i * 170},{TOP + 4})"><rect width="12" height="4" y="4" class="{cls}-key"/>'
        f'<text x="18" y="10">{escape(labels[cls])}</text></g>'
        for i, cls in enumerate(("budget", "funded", "released"))
    )
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{ticks}{xlabels}'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(budget):.1f}" y2="{y(budget):.1f}" class="budget"/>'
        f'<path d="{_steps(funded)}" class="funded"/><path d="{_steps(released)}" class="released"/>{legend}</svg>'
    )
