"""Fuzzing the id routes with arbitrary path segments: never a server error, always a clear message."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROUTES = (
    "/api/batches/{}",
    "/api/batches/{}/epcis",
    "/api/grants/{}",
    "/api/wallet/grants/{}/milestones/1/release",
    "/api/wallet/grants/0/milestones/{}/release-tx",
    "/batch/{}",
    "/batch/{}/epcis",
    "/qr/{}.svg",
)
segments = st.one_of(
    st.text(min_size=1, max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        ["0", "00", "1", "2", "18446744073709551615", "18446744073709551616", "1e3", "0x1", "١٢"]
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(ROUTES), segment=segments)
def test_id_routes__any_segment__4xx_or_200_never_5xx(client, world, route, segment):
    path = route.format(quote(segment, safe=""))
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code < 500, (path, response.text[:300])
    if response.status_code >= 400 and response.headers["content-type"].startswith("application/json"):
        assert response.json()["detail"]
