"""Plot areas and geometry checks (EUDR geolocation)."""

from __future__ import annotations

import pytest

from tambon import geo
from tambon.geo import InvalidGeometry


def _square(lon0: float, lat0: float, d: float) -> dict:
    ring = [[lon0, lat0], [lon0 + d, lat0], [lon0 + d, lat0 + d], [lon0, lat0 + d], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6) + 1e-7, round(y, 6) + 1e-7] for x, y in ring]]}


def test_area__equatorial_square_of_0_01_degree__about_123_ha():
    # 0.01 deg x 0.01 deg at the equator: (1111.95 m)^2 = 123.6 ha on the mean-radius sphere
    assert geo.area_ha(_square(100.0, 0.0, 0.01)) == pytest.approx(123.64, rel=1e-3)


def test_area__hole_subtracted_and_multipolygon_summed():
    outer = _square(100.0, 7.0, 0.02)["coordinates"][0]
    hole = _square(100.005, 7.005, 0.01)["coordinates"][0]
    with_hole = {"type": "Polygon", "coordinates": [outer, hole]}
    assert geo.area_ha(with_hole) == pytest.approx(
        0.75 * geo.area_ha({"type": "Polygon", "coordinates": [outer]}), rel=1e-3
    )
    multi = {"type": "MultiPolygon", "coordinates": [[outer], [hole]]}
    assert geo.area_ha(multi) == pytest.approx(
        1.25 * geo.area_ha({"type": "Polygon", "coordinates": [outer]}), rel=1e-3
    )
    assert geo.geometry_problems(multi) == []


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
