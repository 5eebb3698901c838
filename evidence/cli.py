"""`tambon evidence ...`: compute CIDs, add and fetch evidence, run the embedded node."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from evidence.cids import cid_str
from evidence.errors import BadRequest
from evidence.importer import PROFILES, import_path

app = typer.Typer(
    help="Evidence store: Kubo-identical CIDs, embedded IPFS node, bundles.", no_args_is_help=True
)

ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", help=f"import profile: {', '.join(PROFILES)} (default: settings, kubo-v1)"),
]


def _profile(name: str | None) -> str:
    from evidence.settings import get_evidence_settings

    chosen = name or get_evidence_settings().profile
    if chosen not in PROFILES:
        raise BadRequest(f"unknown profile {chosen!r} (known: {', '.join(PROFILES)})")
    return chosen


@app.command()
def cid(
    path: Annotated[Path, typer.Argument(help="file or directory")],
    profile: ProfileOpt = None,
    hidden: Annotated[
        bool, typer.Option(help="include dot-files in directories (ipfs add --hidden)")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="print every entry, as ipfs add does")
    ] = False,
) -> None:
    """Print the CID of PATH (nothing is stored). The last line is the CID."""
    lines: list[str] = []

    def note(rel: str, node) -> None:
        if verbose:
            lines.append(f"added {cid_str(node.cid)} {rel}")

    node = import_path(path, _profile(profile), hidden=hidden, on_entry=note)
    for line in lines:
        typer.echo(line)
    typer.echo(cid_str(node.cid))


@app.command()
def add(
    path: Annotated[Path, typer.Argument(help="file or directory")],
    profile: ProfileOpt = None,
    hidden: Annotated[bool, typer.Option(help="include dot-files in directories")] = False,
    pin: Annotated[bool, typer.Option(help="pin the added root")] = True,
) -> None:
    """Add PATH to the configured store (TAMBON_EVIDENCE_BACKEND); the last line is the CID."""
    from evidence.remote import open_store

    store = open_store(profile=_profile(profile))
    typer.echo(store.add_path(path, pin=pin, hidden=hidden))


@app.command()
def get(
    cid: Annotated[str, typer.Argument(help="CID or /ipfs/<cid>/path")],
    out: Annotated[Path, typer.Argument(help="where to write the file or directory (must not exist)")],
) -> None:
    """Fetch CID into OUT, verifying every block against its CID."""
    from evidence.remote import open_store

    written = open_store().get(cid, out)
    typer.echo(str(written))


@app.command()
def ls(cid: Annotated[str, typer.Argument(help="directory CID or /ipfs/<cid>/path")]) -> None:
    """List a directory (e.g. an evidence bundle): CID, size, kind, name."""
    from evidence.remote import open_store

    for entry in open_store().ls(cid):
        typer.echo(f"{entry.cid} {entry.size} {entry.kind} {entry.name}")


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname:
        raise BadRequest(f"not a URL with a host: {url!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


@app.command(
    # One string per paragraph: the help reflows them to the terminal's width.
    help=(
        "Run the embedded node: Kubo RPC subset + gateway on the API port, gateway on the gateway port.\n\n"
        "The RPC adds and unpins evidence, so it listens on loopback unless TAMBON_EVIDENCE_API_TOKEN is "
        "set; browsers may use it only from TAMBON_EVIDENCE_ALLOWED_ORIGINS (none by default)."
    )
)
def serve(
    host: Annotated[str | None, typer.Option(help="API host (default: from TAMBON_EVIDENCE_API_URL)")] = None,
    port: Annotated[int | None, typer.Option(help="API port (default: from TAMBON_EVIDENCE_API_URL)")] = None,
    gateway: Annotated[
        bool, typer.Option(help="also serve the gateway alone on TAMBON_GATEWAY_URL's port when it differs")
    ] = True,
) -> None:
    """Run the embedded evidence node (see the command's help)."""
    import ipaddress

    import uvicorn

    from evidence.node import create_app, create_gateway_app
    from evidence.settings import get_evidence_settings
    from evidence.store import LocalStore
    from tambon.settings import get_settings

    settings = get_settings()
    ev = get_evidence_settings()
    api_host, api_port = _host_port(settings.evidence_api_url)
    api_host, api_port = host or api_host, port or api_port
    try:
        loopback = api_host == "localhost" or ipaddress.ip_address(api_host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and ev.token is None:
        raise BadRequest(
            f"the RPC would listen on {api_host}, beyond loopback, with no token: "
            "set TAMBON_EVIDENCE_API_TOKEN (clients send it as a bearer token) or use 127.0.0.1"
        )
    store = LocalStore(ev.resolved_store_dir, ev.profile, fsync=ev.fsync)
    node = create_app(
        store,
        max_upload_bytes=ev.max_upload_bytes,
        allowed_origins=ev.allowed_origins,
        api_token=ev.token,
    )
    servers = [uvicorn.Server(uvicorn.Config(node, host=api_host, port=api_port))]
    gw_host, gw_port = _host_port(settings.gateway_url)
    if gateway and (gw_host, gw_port) != (api_host, api_port):
        servers.append(uvicorn.Server(uvicorn.Config(create_gateway_app(store), host=gw_host, port=gw_port)))
    typer.echo(f"evidence node: store {store.blocks.root}")
    typer.echo(
        f"  RPC + gateway  http://{api_host}:{api_port}/api/v0  http://{api_host}:{api_port}/ipfs/<cid>"
    )
    if len(servers) > 1:
        typer.echo(f"  gateway        http://{gw_host}:{gw_port}/ipfs/<cid>")

    async def run() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(run())


def _referenced_and_store():
    from evidence.settings import get_evidence_settings
    from evidence.store import LocalStore
    from tambon.references import referenced_digests
    from tambon.settings import get_settings

    ev = get_evidence_settings()
    if ev.backend != "local":
        raise BadRequest("gc and status work on the embedded node's store (TAMBON_EVIDENCE_BACKEND=local)")
    return referenced_digests(get_settings()), LocalStore(ev.resolved_store_dir, ev.profile)


@app.command()
def gc(
    window: Annotated[
        float, typer.Option(help="hours an upload may stay unreferenced on chain before it is removed")
    ] = 24.0,
    dry_run: Annotated[bool, typer.Option(help="report what would go, remove nothing")] = False,
) -> None:
    """Unpin and remove evidence no on-chain CID references after WINDOW hours; pin referenced evidence."""
    from evidence.gc import collect

    if window < 0:
        raise BadRequest("window must be zero or more hours")
    referenced, store = _referenced_and_store()
    report = collect(store, referenced, window=window * 3600, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"referenced on chain, pinned for good: {len(report.pinned_for_good)}")
    typer.echo(f"unreferenced, younger than {window:g} h, kept: {len(report.kept_young)}")
    typer.echo(f"unpinned: {len(report.unpinned)}")
    typer.echo(f"{verb}: {report.blocks_removed} blocks, {report.bytes_freed} bytes")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Pins and bytes of the store: referenced on chain, and not (young uploads and garbage)."""
    import json

    from evidence.gc import status as store_status

    referenced, store = _referenced_and_store()
    report = store_status(store, referenced)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    typer.echo(f"pins: {report.pins} ({report.referenced_pins} referenced on chain)")
    typer.echo(f"blocks: {report.blocks}, {report.bytes_total} bytes")
    typer.echo(f"referenced bytes: {report.bytes_referenced}")
    typer.echo(f"unreferenced bytes: {report.bytes_unreferenced}")
