"""Fixtures for the verify site: a real evidence node, a populated chain, the app under test."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.frontend.world import evidence_node, populate


@pytest.fixture(scope="session")
def evidence_server(tmp_path_factory):
    store, server = evidence_node(tmp_path_factory.mktemp("evidence-store"))
    yield store, server
    server.stop()


@pytest.fixture(scope="session")
def world(project, chain, accounts, deployment, evidence_server):
    store, server = evidence_server
    return populate(project, chain, accounts, deployment, store, server.url)


@pytest.fixture
def web_settings():
    from frontend.settings import WebSettings

    return WebSettings(org_name="อบต. หนองสนิท", evidence_retry_seconds=0.0)


@pytest.fixture
def site_settings(settings, evidence_server):
    _store, server = evidence_server
    return settings.model_copy(update={"evidence_api_url": server.url, "gateway_url": server.url,
                                       "public_url": "http://testserver"})


@pytest.fixture
def client(world, site_settings, web_settings):
    from frontend.app import create_app

    with TestClient(create_app(site_settings, web_settings)) as c:
        yield c
