"""Fixtures for the verify site: a real evidence node, a populated chain, the app under test."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.frontend.world import shared_world


@pytest.fixture(scope="session")
def world(project, chain, accounts, deployment, tmp_path_factory):
    """The populated อปท. (shared with the other suite when both run in one session)."""
    return shared_world(project, chain, accounts, deployment, tmp_path_factory.mktemp("evidence-store"))


@pytest.fixture(scope="session")
def evidence_server(world):
    """(store, node): the embedded evidence node the world's evidence lives in."""
    return world.store, world.node


@pytest.fixture
def web_settings():
    from frontend.settings import WebSettings

    return WebSettings(org_name="อบต. หนองสนิท", evidence_retry_seconds=0.0)


@pytest.fixture
def site_settings(settings, evidence_server):
    _store, server = evidence_server
    return settings.model_copy(
        update={"evidence_api_url": server.url, "gateway_url": server.url, "public_url": "http://testserver"}
    )


@pytest.fixture
def client(world, site_settings, web_settings):
    from frontend.app import create_app

    with TestClient(create_app(site_settings, web_settings)) as c:
        yield c
