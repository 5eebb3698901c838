"""EUDR plot geolocation: GeoJSON (RFC 7946, WGS84) checks and plot areas.

EUDR Art. 2(28) and 9(1)(d): every plot of land is given by latitude/longitude with at
least six decimal digits; a single point suffices for plots up to 4 ha, plots above 4 ha
need a polygon with enough points to describe the perimeter.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tambon.errors import TambonError

MIN_DECIMALS = 6
POINT_MAX_HA = 4.0
#: mean Earth radius (IUGG), metres; areas use the spherical-excess formula GeoJSON tools use
EARTH_RADIUS_M = 6_371_008.8
GEOMETRY_TYPES = ("Point", "Polygon", "MultiPolygon")


class InvalidGeometry(TambonError, ValueError):
    """A plot geolocation is not valid GeoJSON (WGS84, enough decimals, closed simple rings)."""

    http_status = 400

    http_status = 400


def decimals(value: float) -> int:
    """Decimal digits a coordinate was given with (Python's shortest round-trip repr)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, int):
        return 0
    text = repr(value)
    if "e" in text or "E" in text:
        mantissa, _, exp = text.lower().partition("e")
        frac = len(mantissa.partition(".")[2])
        return max(0, frac - int(exp))
    return len(text.partition(".")[2])


def _position_problems(pos: Any, where: str) -> list[str]:
    if not isinstance(pos, Sequence) or isinstance(pos, str) or len(pos) not in (2, 3):
        return [f"{where}: a position is [longitude, latitude] (optionally altitude)"]
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in pos):
        return [f"{where}: coordinates must be numbers"]
    lon, lat = pos[0], pos[1]
    problems = []
    if not -180 <= lon <= 180:
        problems.append(f"{where}: longitude {lon} out of range [-180, 180]")
    if not -90 <= lat <= 90:
        problems.append(f"{where}: latitude {lat} out of range [-90, 90] (GeoJSON is [longitude, latitude])")
    for name, value in (("longitude", lon), ("latitude", lat)):
        if decimals(value) < MIN_DECIMALS:
            problems.append(f"{where}: {name} {value} has fewer than {MIN_DECIMALS} decimal places (EUDR)")
    return problems


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return ((d1 > 0) != (d2 > 0) and d1 != 0 and d2 != 0) and ((d3 > 0) != (d4 > 0) and d3 != 0 and d4 != 0)


def _ring_problems(ring: Any, where: str) -> list[str]:
    if not isinstance(ring, Sequence) or isinstance(ring, str):
        return [f"{where}: a linear ring is an array of positions"]
    problems = []
    for i, pos in enumerate(ring):
        problems += _position_problems(pos, f"{where}[{i}]")
    if problems:
        return problems
    if len(ring) < 4:
        return [f"{where}: a linear ring needs at least 4 positions (3 corners and the first repeated)"]
    if list(ring[0][:2]) != list(ring[-1][:2]):
        return [f"{where}: ring is not closed (the last position must equal the first)"]
    pts = [tuple(p[:2]) for p in ring[:-1]]
    if len(set(pts)) < 3:
        return [f"{where}: ring has fewer than 3 distinct corners"]
    n = len(pts)
    if n <= 500:  # O(n^2) self-intersection check; field polygons are small
        for i in range(n):
            a, b = pts[i], pts[(i + 1) % n]
            for j in range(i + 2, n):
                if i == 0 and j == n - 1:
                    continue  # adjacent through the closing edge
                c, d = pts[j], pts[(j + 1) % n]
                if _segments_cross(a, b, c, d):
                    return [f"{where}: ring intersects itself (edges {i} and {j})"]
    return problems


def geometry_problems(geometry: Any, where: str = "geometry") -> list[str]:
    """Everything wrong with a plot geometry; empty when it is a valid WGS84 Point/Polygon/MultiPolygon."""
    if not isinstance(geometry, Mapping):
        return [f"{where}: GeoJSON geometry must be an object"]
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind not in GEOMETRY_TYPES:
        return [f"{where}: GeoJSON type must be one of {', '.join(GEOMETRY_TYPES)}, got {kind!r}"]
    if coords is None:
        return [f"{where}: missing coordinates"]
    if kind == "Point":
        return _position_problems(coords, f"{where}.coordinates")
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, Sequence) or isinstance(polygons, str) or not polygons:
        return [f"{where}.coordinates: must be a non-empty array"]
    problems: list[str] = []
    for p, rings in enumerate(polygons):
        base = f"{where}.coordinates" + ("" if kind == "Polygon" else f"[{p}]")
        if not isinstance(rings, Sequence) or isinstance(rings, str) or not rings:
            problems.append(f"{base}: a polygon is a non-empty array of linear rings")
            continue
        for r, ring in enumerate(rings):
            problems += _ring_problems(ring, f"{base}[{r}]")
    return problems


def check_geometry(geometry: Any, where: str = "geometry") -> Mapping:
    problems = geometry_problems(geometry, where)
    if problems:
        raise InvalidGeometry("; ".join(problems))
    return geometry


def _ring_area_m2(ring: Sequence[Sequence[float]]) -> float:
    """Spherical-excess area of a ring (Chamberlain & Duquette 2007), square metres, unsigned."""
    total = 0.0
    n = len(ring)
    for i in range(n - 1):
        lon1, lat1 = math.radians(ring[i][0]), math.radians(ring[i][1])
        lon2, lat2 = math.radians(ring[i + 1][0]), math.radians(ring[i + 1][1])
        total += (lon2 - lon1) * (2 + math.sin(lat1) + math.sin(lat2))
    return abs(total * EARTH_RADIUS_M * EARTH_RADIUS_M / 2)


def area_ha(geometry: Mapping) -> float:
    """Area of a (valid) Polygon/MultiPolygon in hectares, holes subtracted; 0 for a Point."""
    kind = geometry["type"]
    if kind == "Point":
        return 0.0
    polygons = [geometry["coordinates"]] if kind == "Polygon" else geometry["coordinates"]
    m2 = 0.0
    for rings in polygons:
        m2 += _ring_area_m2(rings[0]) - sum(_ring_area_m2(h) for h in rings[1:])
    return m2 / 10_000


def plot_problems(plot: Mapping, where: str = "plot") -> list[str]:
    """A plot's geometry plus the EUDR point/polygon rule (a point only up to 4 ha)."""
    geometry = plot.get("geometry")
    problems = geometry_problems(geometry, f"{where}.geometry")
    if problems:
        return problems
    declared = plot.get("area_ha")
    if (
        isinstance(geometry, Mapping)
        and geometry["type"] == "Point"
        and isinstance(declared, int | float)
        and declared > POINT_MAX_HA
    ):
        problems.append(
            f"{where}: a plot of {declared} ha needs a Polygon; "
            f"a Point is allowed only up to {POINT_MAX_HA:g} ha (EUDR)"
        )
    return problems


def iter_positions(geometry: Mapping) -> Iterator[Sequence[float]]:
    kind = geometry["type"]
    if kind == "Point":
        yield geometry["coordinates"]
        return
    polygons = [geometry["coordinates"]] if kind == "Polygon" else geometry["coordinates"]
    for rings in polygons:
        for ring in rings:
            yield from ring
