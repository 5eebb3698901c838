"""EUDR plot geolocation: GeoJSON (RFC 7946, WGS84) checks and plot areas.

EUDR Art. 2(28) and 9(1)(d): every plot of land is given by latitude/longitude with at
least six decimal digits; a single point suffices for plots up to 4 ha, plots above 4 ha
need a polygon with enough points to describe the perimeter.

Decimals are counted as the number was written (`JsonNumber.text`, kept by `tambon.records.loads`):
`100.361240` has six. Polygons are checked by shapely (rings closed and simple, holes inside their
shell, no overlaps); areas are geodesic on the WGS84 ellipsoid (pyproj.Geod).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from tambon.errors import TambonError

MIN_DECIMALS = 6
POINT_MAX_HA = 4.0
WGS84 = Geod(ellps="WGS84")
#: a declared plot area may differ from its polygon's by this much (relative) before it is refused
AREA_TOLERANCE = 0.10
GEOMETRY_TYPES = ("Point", "Polygon", "MultiPolygon")


class InvalidGeometry(TambonError, ValueError):
    """A plot geolocation is not valid GeoJSON (WGS84, enough decimals, closed simple rings)."""

    http_status = 400

    http_status = 400


class JsonNumber(float):
    """A JSON number that remembers how it was written (EUDR counts the decimals as written)."""

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


def decimals(value: float) -> int:
    """Decimal digits a coordinate was written with (its JSON text; else Python's shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, int):
        return 0
    text = value.text if isinstance(value, JsonNumber) else repr(value)
    mantissa, _, exp = text.lower().partition("e")
    frac = len(mantissa.partition(".")[2])
    return max(0, frac - int(exp or 0))


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
    if len({tuple(p[:2]) for p in ring[:-1]}) < 3:
        return [f"{where}: ring has fewer than 3 distinct corners"]
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
        ring_problems: list[str] = []
        for r, ring in enumerate(rings):
            ring_problems += _ring_problems(ring, f"{base}[{r}]")
        if not ring_problems:
            polygon = Polygon(rings[0], rings[1:])
            if not polygon.is_valid:  # self-intersection, a hole outside its shell, overlapping holes
                ring_problems.append(f"{base}: not a valid polygon ({explain_validity(polygon)})")
        problems += ring_problems
    if not problems and kind == "MultiPolygon" and not shape(geometry).is_valid:
        problems.append(f"{where}: polygons overlap ({explain_validity(shape(geometry))})")
    return problems


def check_geometry(geometry: Any, where: str = "geometry") -> Mapping:
    problems = geometry_problems(geometry, where)
    if problems:
        raise InvalidGeometry("; ".join(problems))
    return geometry


def area_ha(geometry: Mapping) -> float:
    """Geodesic area of a (valid) Polygon/MultiPolygon on the WGS84 ellipsoid in hectares, holes
    subtracted; 0 for a Point."""
    if geometry["type"] == "Point":
        return 0.0
    found = shape(geometry)
    parts = list(found.geoms) if isinstance(found, MultiPolygon) else [found]
    # Geod sums signed ring areas: shells counter-clockwise, holes clockwise, whatever was written
    return sum(WGS84.geometry_area_perimeter(orient(p, sign=1.0))[0] for p in parts) / 10_000


def plot_problems(plot: Mapping, where: str = "plot") -> list[str]:
    """A plot's geometry plus the EUDR point/polygon rule (a point only up to 4 ha)."""
    geometry = plot.get("geometry")
    problems = geometry_problems(geometry, f"{where}.geometry")
    if problems:
        return problems
    declared = plot.get("area_ha")
    if (
        not isinstance(geometry, Mapping)
        or not isinstance(declared, int | float)
        or isinstance(declared, bool)
    ):
        return problems
    if geometry["type"] == "Point" and declared > POINT_MAX_HA:
        problems.append(
            f"{where}: a plot of {declared} ha needs a Polygon; "
            f"a Point is allowed only up to {POINT_MAX_HA:g} ha (EUDR)"
        )
    elif geometry["type"] != "Point":
        measured = area_ha(geometry)
        if abs(declared - measured) > AREA_TOLERANCE * measured:
            problems.append(
                f"{where}: declared area {declared:g} ha differs from its polygon's {measured:.2f} ha "
                f"(geodesic, WGS84) by more than {AREA_TOLERANCE:.0%}"
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
