"""`tambon grant` end to end on the test node: a council works a grant from a terminal."""

from __future__ import annotations

import json
import sys

import pytest

from tambon import cli
from tambon.settings import get_settings

EVIDENCE = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
PROPOSAL = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"


@pytest.fixture
def run(settings, monkeypatch, capsys):
    """Run `tambon ARGS…` in process against the test deployment; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("TAMBON_RPC_URL", settings.rpc_url)
    monkeypatch.setenv("TAMBON_DEPLOYMENTS_DIR", str(settings.deployments_dir))
    monkeypatch.setenv("TAMBON_NETWORK", settings.network)
    get_settings.cache_clear()

    def _run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()  # drop what fixtures printed (ape logs its transactions)
        monkeypatch.setattr(sys, "argv", ["tambon", *args])
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield _run
    get_settings.cache_clear()


def create_grant(run, recipient: str, *milestones: str) -> str:
    """`tambon grant create` by council member 1; returns the new grant's id."""
    args = [x for m in milestones for x in ("--milestone", m)]
    code, out, err = run(
        "grant", "create", "--recipient", recipient, "--proposal", PROPOSAL, *args, "--dev-account", "1"
    )
    assert code == 0, err
    return out.split()[1]


@pytest.fixture
def thb_funder(deployment, accounts, project):
    token = project.thb_token.at(deployment.contracts["ThbToken"])
    token.mint(accounts[7], 200_000 * 10**18, sender=accounts[0])
    return accounts[7]


def test_grant_cli__create_fund_submit_sign_release__pays_community(
    run, thb_funder, deployment, project, accounts
):
    community = accounts[6]
    grant_id = int(create_grant(run, community.address, "50000@2099-01-31", "150000@2099-06-30"))
    token = project.thb_token.at(deployment.contracts["ThbToken"])
    before = token.balanceOf(community)
    assert run("grant", "fund", str(grant_id), "200,000", "--dev-account", "7")[0] == 0
    assert run("grant", "submit", str(grant_id), "0", "--evidence", EVIDENCE, "--dev-account", "6")[0] == 0

    signed = []
    for member in ("1", "3", "5"):
        code, out, err = run("grant", "sign", str(grant_id), "0", "--dev-account", member)
        assert code == 0, err
        signed.append(out.strip().splitlines()[-1].split())
    deadline = signed[0][0]
    args = ["grant", "release", str(grant_id), "0", "--deadline", deadline, "--dev-account", "9"]
    code, out, err = run(*args, *[x for _, sig in signed for x in ("--signature", sig)])
    assert code == 0, err
    assert "paid: 50,000" in out

    assert token.balanceOf(community) == before + 50_000 * 10**18
    code, out, _ = run("grant", "status", str(grant_id))
    assert code == 0 and "paid" in out


def test_grant_cli__typed_data_json__signed_by_wallet_rpc_gives_same_signature(
    run, thb_funder, accounts, networks, tmp_path
):
    community = accounts[6]
    grant_id = create_grant(run, community.address, "1000@2099-01-31")
    run("grant", "fund", grant_id, "1000", "--dev-account", "7")
    run("grant", "submit", grant_id, "0", "--evidence", EVIDENCE, "--dev-account", "6")
    code, out, err = run("grant", "typed-data", grant_id, "0", "--deadline", "4102444800")
    assert code == 0, err
    data = json.loads(out)

    # What MetaMask & co. do: eth_signTypedData_v4 on the node's unlocked account 1.
    wallet_signature = networks.provider.make_request(
        "eth_signTypedData_v4", [accounts[1].address, json.dumps(data)]
    )
    typed_file = tmp_path / "release.json"
    typed_file.write_text(out)
    code, out, err = run("grant", "sign", "--typed-data", str(typed_file), "--dev-account", "1")
    assert code == 0, err
    assert out.split()[-1] == wallet_signature
    assert "Release" in err and "amount" in err


CREATE = ("grant", "create", "--recipient", "0x" + "66" * 20, "--proposal", PROPOSAL, "--dev-account", "1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grant", "status", "99"), "no grant 99"),
        (("grant", "submit", "0", "0", "--evidence", "not-a-cid", "--dev-account", "6"), "not a valid CID"),
        (("grant", "fund", "0", "0", "--dev-account", "7"), "amount must be positive"),
        (("grant", "fund", "0", "lots", "--dev-account", "7"), "not an amount"),
        (("grant", "sign", "0", "0"), "no signing account"),
        ((*CREATE, "--milestone", "1@2099-01-31", "--token", "usd"), "token must be eth, a stablecoin"),
    ],
)
def test_grant_cli__bad_input__one_error_line_and_nonzero_exit(run, thb_funder, accounts, args, message):
    create_grant(run, accounts[6].address, "1000@2099-01-31")
    code, out, err = run(*args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err


def test_grant_cli__release_below_threshold__refused_before_sending(run, thb_funder, accounts):
    grant_id = create_grant(run, accounts[6].address, "1000@2099-01-31")
    run("grant", "fund", grant_id, "1000", "--dev-account", "7")
    run("grant", "submit", grant_id, "0", "--evidence", EVIDENCE, "--dev-account", "6")
    deadline, signature = run("grant", "sign", grant_id, "0", "--dev-account", "1")[1].split()
    code, _, err = run(
        "grant",
        "release",
        grant_id,
        "0",
        "--deadline",
        deadline,
        "--signature",
        signature,
        "--dev-account",
        "9",
    )
    assert code == 1
    assert "1 distinct member signatures; the council needs 3" in err


def test_grant_cli__erc20_grant_on_a_deployment_without_the_demo_token(
    run, deployment, project, accounts, monkeypatch, tmp_path
):
    """A testnet deployment has no ThbToken: any ERC-20 grant still creates, funds and shows."""
    from dataclasses import replace

    contracts = {k: v for k, v in deployment.contracts.items() if k != "ThbToken"}
    replace(deployment, network="sepolia", contracts=contracts).save(tmp_path / "testnet" / "sepolia.json")
    monkeypatch.setenv("TAMBON_DEPLOYMENTS_DIR", str(tmp_path / "testnet"))
    monkeypatch.setenv("TAMBON_NETWORK", "sepolia")
    get_settings.cache_clear()
    stablecoin = project.thb_token.deploy(sender=accounts[0])  # any ERC-20 the council chose
    stablecoin.mint(accounts[7], 1_000 * 10**18, sender=accounts[0])
    code, out, err = run(
        "grant", "create", "--recipient", accounts[6].address, "--proposal", PROPOSAL,
        "--milestone", "1000@2099-01-31", "--token", stablecoin.address, "--dev-account", "1",
    )  # fmt: skip
    assert code == 0, err
    grant_id = out.split()[1]
    code, out, err = run("grant", "fund", grant_id, "1,000", "--dev-account", "7")
    assert code == 0, err
    assert "funded: 1,000 of 1,000" in out
    code, out, err = run("grant", "status", grant_id)
    assert code == 0, err
    assert "THB" in out and "ConfigError" not in err
