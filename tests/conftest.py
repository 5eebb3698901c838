"""Shared personas and fixtures. Contract tests run on a real anvil node through ape-foundry."""

import os
from pathlib import Path

# ape-vyper resolves the compiler through vvm; point it at the pip-installed vyper (see Makefile).
os.environ.setdefault("VVM_BINARY_PATH", str(Path(__file__).resolve().parent.parent / ".venv" / "vvm"))

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from tambon.build import drop_stale_build  # noqa: E402

drop_stale_build()

# A run's outcome must not depend on chance: property tests and state machines draw the same examples
# on every run, none fails for being slow on a loaded host, and no example database carries one
# machine's past failures into another's run. `--hypothesis-profile=explore` hunts for new examples.
settings.register_profile("repeatable", derandomize=True, database=None, deadline=None)
settings.register_profile("explore")
settings.load_profile("repeatable")


@pytest.fixture(scope="session", autouse=True)
def _revert_reasons_without_source_tracing():
    """Tests check what a revert says (every refusal of our contracts carries a reason string). On each
    reverted transaction ape would also trace it through the Vyper source map (to point its Python
    traceback at the contract line, and for `# dev:` comments our contracts do not use) and print its
    call tree: seconds per revert over hundreds of them. Custom errors are still decoded from the ABI."""
    from ape.exceptions import TransactionError
    from ape.managers.compilers import CompilerManager
    from ape_ethereum.trace import Trace

    patch = pytest.MonkeyPatch()
    patch.setattr(TransactionError, "with_ape_traceback", lambda self: self)
    patch.setattr(CompilerManager, "enrich_error", lambda self, err: self.get_custom_error(err) or err)
    patch.setattr(Trace, "show", lambda self, verbose=False, file=None: None)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def thb(project, deployer):
    """The demo THB stablecoin; its owner (the deployer) is a minter."""
    return project.thb_token.deploy(sender=deployer)


@pytest.fixture(scope="session")
def rpc_url(networks):
    """HTTP endpoint of the anvil node ape started, for services that speak plain web3."""
    return networks.provider.web3.provider.endpoint_uri


@pytest.fixture(scope="session")
def council_members(accounts):
    """The demo council: five members, threshold three."""
    return [accounts[i] for i in range(1, 6)]


@pytest.fixture(scope="session")
def deployment(project, networks, council_members, tmp_path_factory):
    """All contracts of one อปท. as `tambon deploy` deploys them, saved as deployments/local.json."""
    from tambon.accounts import demo_account
    from tambon.deploy import deploy_all

    project.load_contracts()  # compiles into .build/, which the deployer reads
    result = deploy_all(
        networks.provider.web3, demo_account(0), [m.address for m in council_members], 3, "local"
    )
    result.save(tmp_path_factory.mktemp("deployments") / f"{result.network}.json")
    return result


@pytest.fixture
def settings(deployment, rpc_url, tmp_path):
    """Service settings pointing at the test node, its deployment and a fresh data directory."""
    from tambon.settings import Settings

    deployments_dir = tmp_path / "deployments"
    deployment.save(deployments_dir / f"{deployment.network}.json")
    return Settings(
        network=deployment.network,
        rpc_url=rpc_url,
        deployments_dir=deployments_dir,
        data_dir=tmp_path / "data",
    )
