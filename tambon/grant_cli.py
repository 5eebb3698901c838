"""`tambon grant …`: open, fund, submit, sign and release grants from a terminal.

A council member can sign offline (`sign` prints the signature, or signs a typed-data JSON file
with no node at all); anyone collects the signatures and calls `release`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tambon.accounts import load_account
from tambon.chain import Chain
from tambon.cid import OnchainCid
from tambon.grants import GrantError, Grants, format_amount, parse_amount, parse_milestone
from tambon.tokens import token_named
from tambon.typed_data import sign

app = typer.Typer(help="Community grants: create, fund, submit, sign, release, status.", no_args_is_help=True)
console = Console()
# What is about to be signed goes to stderr, so stdout stays machine-readable.
notice = Console(stderr=True)

Keystore = Annotated[
    Path | None, typer.Option(help="Encrypted keystore (password from TAMBON_KEYSTORE_PASSWORD).")
]
DevAccount = Annotated[int | None, typer.Option("--dev-account", help="Demo account N of the local chain.")]


def _grants() -> Grants:
    chain = Chain()
    chain.check_connected()
    return Grants(chain)


def _account(grants: Grants, keystore: Path | None, dev_account: int | None):
    return load_account(grants.chain.chain_id, keystore=keystore, demo_index=dev_account)


def _token_address(grants: Grants, token: str) -> str:
    known = token_named(grants.chain.deployment, token)
    if known is not None:
        return known.address
    if not grants.chain.w3.is_address(token):
        raise GrantError(
            f"token must be eth, a stablecoin of this deployment or an ERC-20 address, got {token!r}"
        )
    return grants.chain.w3.to_checksum_address(token)


@app.command()
def create(
    recipient: Annotated[str, typer.Option(help="The community's wallet address.")],
    milestone: Annotated[list[str], typer.Option(help="AMOUNT@YYYY-MM-DD, once per milestone, in order.")],
    proposal: Annotated[str, typer.Option(help="CID of the proposal document.")],
    token: Annotated[str, typer.Option(help="thb (demo stablecoin), eth, or an ERC-20 address.")] = "thb",
    budget: Annotated[str | None, typer.Option(help="Funding cap; defaults to the milestones' sum.")] = None,
    keystore: Keystore = None,
    dev_account: DevAccount = None,
) -> None:
    """Open a grant (any council member)."""
    grants = _grants()
    token_address = _token_address(grants, token)
    decimals = grants.token_decimals(token_address)
    plan = [parse_milestone(spec, decimals) for spec in milestone]
    cap = parse_amount(budget, decimals) if budget else sum(amount for amount, _ in plan)
    grant_id = grants.create(
        _account(grants, keystore, dev_account),
        grants.chain.w3.to_checksum_address(recipient),
        token_address,
        cap,
        plan,
        OnchainCid.parse(proposal),
    )
    typer.echo(f"grant {grant_id} created with {len(plan)} milestones, budget {format_amount(cap, decimals)}")


@app.command()
def fund(
    grant_id: int,
    amount: Annotated[str, typer.Argument(help="In token units, e.g. 200000 (THB) or 1.5 (ETH).")],
    keystore: Keystore = None,
    dev_account: DevAccount = None,
) -> None:
    """Put money into a grant (anyone)."""
    grants = _grants()
    grant = grants.grant(grant_id)
    decimals = grants.token_decimals(grant.token)
    grants.fund(_account(grants, keystore, dev_account), grant_id, parse_amount(amount, decimals))
    funded = grants.grant(grant_id).funded
    typer.echo(
        f"grant {grant_id} funded: {format_amount(funded, decimals)} of {format_amount(grant.budget, decimals)}"
    )


@app.command()
def submit(
    grant_id: int,
    milestone_id: int,
    evidence: Annotated[str, typer.Option(help="CID of the evidence bundle.")],
    keystore: Keystore = None,
    dev_account: DevAccount = None,
) -> None:
    """Submit a milestone's evidence (the community's wallet)."""
    grants = _grants()
    grants.submit(_account(grants, keystore, dev_account), grant_id, milestone_id, OnchainCid.parse(evidence))
    typer.echo(f"milestone {milestone_id} of grant {grant_id} submitted for review")


@app.command("typed-data")
def typed_data_command(
    grant_id: int,
    milestone_id: int,
    deadline: Annotated[int | None, typer.Option(help="Unix time; default now + 72 h.")] = None,
) -> None:
    """Print the Release typed data as JSON, for any wallet's eth_signTypedData_v4."""
    typer.echo(json.dumps(_grants().release_typed_data(grant_id, milestone_id, deadline), indent=2))


@app.command("sign")
def sign_command(
    grant_id: Annotated[int | None, typer.Argument()] = None,
    milestone_id: Annotated[int | None, typer.Argument()] = None,
    typed_data_file: Annotated[
        Path | None, typer.Option("--typed-data", help="Sign this JSON offline, with no node.")
    ] = None,
    deadline: Annotated[int | None, typer.Option(help="Unix time; default now + 72 h.")] = None,
    keystore: Keystore = None,
    dev_account: DevAccount = None,
) -> None:
    """Sign a release as a council member; prints `deadline signature`."""
    if typed_data_file is not None:
        data = json.loads(typed_data_file.read_text())
        chain_id = int(data["domain"]["chainId"])
        account = load_account(chain_id, keystore=keystore, demo_index=dev_account)
    else:
        if grant_id is None or milestone_id is None:
            raise typer.BadParameter("give GRANT_ID MILESTONE_ID, or --typed-data FILE")
        grants = _grants()
        account = _account(grants, keystore, dev_account)
        data = grants.release_typed_data(grant_id, milestone_id, deadline)
    _show_decision(data)
    typer.echo(f"{data['message']['deadline']} 0x{sign(data, account.key).hex()}")


@app.command()
def release(
    grant_id: int,
    milestone_id: int,
    deadline: Annotated[int, typer.Option(help="The deadline the members signed.")],
    signature: Annotated[list[str], typer.Option(help="A member's signature; repeat for each.")],
    keystore: Keystore = None,
    dev_account: DevAccount = None,
) -> None:
    """Pay a milestone with the collected council signatures (anyone may send)."""
    grants = _grants()
    grants.release(_account(grants, keystore, dev_account), grant_id, milestone_id, deadline, signature)
    grant = grants.grant(grant_id)
    amount = grants.milestone(grant_id, milestone_id).amount
    typer.echo(
        f"milestone {milestone_id} of grant {grant_id} paid: "
        f"{format_amount(amount, grants.token_decimals(grant.token))} to {grant.recipient}"
    )


@app.command()
def status(grant_id: Annotated[int | None, typer.Argument()] = None) -> None:
    """Show grants and their milestones."""
    grants = _grants()
    ids = [grant_id] if grant_id is not None else list(range(grants.count()))
    for gid in ids:
        grant = grants.grant(gid)
        decimals = grants.token_decimals(grant.token)
        unit = grants.token(grant.token).symbol
        table = Table(
            title=f"Grant {gid} → {grant.recipient} ({unit})" + (" [cancelled]" if grant.cancelled else ""),
            caption=f"budget {format_amount(grant.budget, decimals)} · funded {format_amount(grant.funded, decimals)}"
            f" · paid {format_amount(grant.paid, decimals)}",
        )
        for column in ("#", "amount", "deadline (UTC)", "status", "nonce", "evidence"):
            table.add_column(column)
        for m in grants.milestones(gid):
            table.add_row(
                str(m.milestone_id),
                format_amount(m.amount, decimals),
                datetime.fromtimestamp(m.deadline, tz=UTC).strftime("%Y-%m-%d"),
                m.status.name.lower(),
                str(m.nonce),
                m.evidence or "—",
            )
        console.print(table)


def _show_decision(data: dict) -> None:
    """What is being signed, in words, before the signature is printed (as a wallet would show it)."""
    notice.print(f"[bold]{data['primaryType']}[/bold] on chain {data['domain']['chainId']}", highlight=False)
    for key, value in data["message"].items():
        notice.print(f"  {key}: {value}", highlight=False)
