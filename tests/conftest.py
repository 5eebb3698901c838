"""Shared personas and fixtures. Contract tests run on a real anvil node through ape-foundry."""

import os
from pathlib import Path

# ape-vyper resolves the compiler through vvm; point it at the pip-installed vyper (see Makefile).
os.environ.setdefault("VVM_BINARY_PATH", str(Path(__file__).resolve().parent.parent / ".venv" / "vvm"))

import pytest  # noqa: E402

from tambon.build import drop_stale_build  # noqa: E402

drop_stale_build()


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def thb(project, deployer):
    """The demo THB stablecoin; its owner (the deployer) is a minter."""
    return project.thb_token.deploy(sender=deployer)
