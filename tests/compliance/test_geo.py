"""Plot areas and geometry checks (EUDR geolocation)."""

from __future__ import annotations

import pytest

from tambon import geo
from tambon.geo import InvalidGeometry


def _square(lon0: float, lat0: float, d: float) -> dict:
    ring = [[lon0, lat0], [lon0 + d, lat0], [lon0 + d, lat0 + d], [lon0, lat0 + d], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6) + 1e-7, round(y, 6) + 1e-7] for x, y in ring]]}


def test_area__equatorial_square_of_0_01_degree__about_123_ha():
    # 0.01 deg x 0.01 deg at the equator on WGS84: 1113.19 m (longitude) x 1105.74 m (latitude)
    # = 123.09 ha; a sphere of mean radius would say 123.64 ha
    assert geo.area_ha(_square(100.0, 0.0, 0.01)) == pytest.approx(1113.1949 * 1105.7428 / 10_000, rel=1e-4)


def test_area__hole_subtracted_and_multipolygon_summed():
    outer = _square(100.0, 7.0, 0.02)["coordinates"][0]
    hole = _square(100.005, 7.005, 0.01)["coordinates"][0]
    with_hole = {"type": "Polygon", "coordinates": [outer, hole]}
    assert geo.area_ha(with_hole) == pytest.approx(
        0.75 * geo.area_ha({"type": "Polygon", "coordinates": [outer]}), rel=1e-3
    )
    beside = _square(100.03, 7.0, 0.02)["coordinates"][0]
    multi = {"type": "MultiPolygon", "coordinates": [[outer], [beside]]}
    assert geo.area_ha(multi) == pytest.approx(
        2 * geo.area_ha({"type": "Polygon", "coordinates": [outer]}), rel=1e-3
    )
    assert geo.geometry_problems(multi) == []
    overlapping = _as_written({"type": "MultiPolygon", "coordinates": [[outer], [hole]]})
    assert "polygons overlap" in geo.geometry_problems(overlapping)[0]


def _as_written(geometry: dict) -> dict:
    """The geometry as a capture app writes it: every coordinate with six decimals."""
    import json
    import re

    from tambon.records import loads

    text = re.sub(r"-?\d+\.\d+|-?\d+(?=[,\]])", lambda m: f"{float(m.group()):.6f}", json.dumps(geometry))
    return loads(text)


def test_polygon__hole_outside_its_shell__refused():
    """A 6.83 ha shell (WGS84; 6.86 ha on a sphere) whose "hole" lies outside it."""
    shell = [[100.370012, 7.095001], [100.372301, 7.095001], [100.372301, 7.097443], [100.370012, 7.097443],
             [100.370012, 7.095001]]  # fmt: skip
    outside = [[100.373, 7.095], [100.3741, 7.095], [100.3741, 7.096], [100.373, 7.096], [100.373, 7.095]]
    polygon = _as_written({"type": "Polygon", "coordinates": [shell, outside]})
    [problem] = geo.geometry_problems(polygon)
    assert "not a valid polygon (Hole lies outside shell" in problem
    assert geo.area_ha({"type": "Polygon", "coordinates": [shell]}) == pytest.approx(6.83, abs=0.01)


def test_decimals__counted_as_written():
    from tambon.records import loads

    point = loads('{"type": "Point", "coordinates": [100.361240, 7.089210]}')
    assert [geo.decimals(c) for c in point["coordinates"]] == [6, 6]  # trailing zeros count
    assert geo.geometry_problems(point) == []
    assert geo.decimals(loads("[1.5e-7]")[0]) == 8 and geo.decimals(loads("[100.36124]")[0]) == 5


def test_decimals():
    assert geo.decimals(100.123456) == 6
    assert geo.decimals(100.5) == 1
    assert geo.decimals(100) == 0
    assert geo.decimals(1.5e-07) == 8
    assert geo.decimals(True) == 0


def test_check_geometry__raises_with_every_problem():
    with pytest.raises(InvalidGeometry, match="latitude 91.0 out of range.*latitude 91.0 has fewer"):
        geo.check_geometry({"type": "Point", "coordinates": [100.123456, 91.0]})
    assert geo.check_geometry({"type": "Point", "coordinates": [100.123456, 7.123456]})


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ("POINT(1 2)", "must be an object"),
        ({"type": "Point", "coordinates": ["100.123456", 7.123456]}, "coordinates must be numbers"),
        ({"type": "Point", "coordinates": [100.123456]}, "a position is [longitude, latitude]"),
        ({"type": "Polygon", "coordinates": []}, "non-empty array"),
        (
            {"type": "Polygon", "coordinates": [[[100.1234567, 7.1234567]] * 4]},
            "fewer than 3 distinct corners",
        ),
    ],
)
def test_geometry_problems__malformed(geometry, message):
    assert any(message in p for p in geo.geometry_problems(geometry)), geo.geometry_problems(geometry)
