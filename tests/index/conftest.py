"""Index fixtures: the populated world on the session's anvil, a direct full scan to compare with."""

from __future__ import annotations

import pytest

from tests.frontend.world import shared_world


@pytest.fixture(scope="session")
def world(project, chain, accounts, deployment, tmp_path_factory):
    return shared_world(project, chain, accounts, deployment, tmp_path_factory.mktemp("evidence-store"))


@pytest.fixture
def w3(networks):
    return networks.provider.web3


@pytest.fixture
def index_settings(settings, tmp_path):
    return settings.model_copy(update={"index_url": f"sqlite:///{tmp_path / 'index.sqlite'}"})
