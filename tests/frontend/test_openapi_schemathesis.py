"""Property-based API fuzzing with schemathesis, driven by the app's own OpenAPI document.

Every operation is called with generated parameters and bodies against the populated test world
(real chain, real evidence node): no request may end in a server error.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from frontend.app import create_app


@pytest.fixture
def api_schema(world, site_settings, web_settings):
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_app(site_settings, web_settings))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api__generated_requests__never_a_server_error(case):
    case.call_and_validate(checks=[schemathesis.checks.not_a_server_error])
