"""Top-level commands for the local stack: `tambon deploy`, `tambon demo`, `tambon status`, `tambon stop`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tambon.errors import ConfigError
from tambon.settings import REPO_ROOT, get_settings
from tambon.stack import Stack

if TYPE_CHECKING:
    from web3 import Web3

# web3, the deployer and the chain client load inside the commands that use them, so that
# `tambon stop` answers in a fraction of a second even on a busy machine.
console = Console()
SEED_SCRIPT = REPO_ROOT / "scripts" / "seed_demo.py"
GRADE_WAIT_SECONDS = 180


def deploy(
    council: Annotated[
        str | None, typer.Option(help="Comma-separated member addresses (local: demo accounts 1-5).")
    ] = None,
    threshold: Annotated[int | None, typer.Option(help="Approvals needed (default: a majority).")] = None,
    keystore: Annotated[str | None, typer.Option(help="Deployer keystore (local: demo account 0).")] = None,
) -> None:
    """Deploy the contracts to TAMBON_RPC_URL and write deployments/<network>.json."""
    from web3 import Web3

    from tambon.accounts import demo_account, load_account
    from tambon.deploy import deploy_all, ensure_compiled

    settings = get_settings()
    ensure_compiled()
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url))
    chain_id = _chain_id(w3, settings.rpc_url)
    account = load_account(
        chain_id,
        keystore=Path(keystore).expanduser() if keystore else None,
        demo_index=None if keystore else 0,
    )
    members = (
        [m.strip() for m in council.split(",")] if council else [demo_account(i).address for i in range(1, 6)]
    )
    deployment = deploy_all(w3, account, members, threshold or len(members) // 2 + 1, settings.network)
    deployment.save(settings.deployment_file)
    for name, address in deployment.contracts.items():
        typer.echo(f"{name:20s} {address}")
    typer.echo(f"written {settings.deployment_file}")


def status() -> None:
    """Report each service of the local stack and the deployment."""
    from web3 import Web3

    from tambon.chain import Deployment
    from tambon.deploy import is_live

    settings = get_settings()
    all_up = True
    for name, (up, detail) in Stack(settings).status().items():
        all_up &= up
        console.print(f"{'[green]✓[/green]' if up else '[red]✗[/red]'} {name:9s} {detail}", highlight=False)
    try:
        deployment = Deployment.load(settings.deployment_file)
        live = is_live(Web3(Web3.HTTPProvider(settings.rpc_url)), deployment)
        console.print(
            f"{'[green]✓[/green]' if live else '[red]✗[/red]'} contracts {settings.deployment_file.name} "
            f"({'live' if live else 'not on the running chain'})",
            highlight=False,
        )
        all_up &= live
    except ConfigError as exc:
        console.print(f"[red]✗[/red] contracts {exc}", highlight=False)
        all_up = False
    raise typer.Exit(0 if all_up else 1)


def stop() -> None:
    """Stop every service the local stack started."""
    stopped = Stack(get_settings()).stop_all()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def demo(
    keep_running: Annotated[
        bool, typer.Option(help="Stay up until Ctrl-C (off: set up and leave it running).")
    ] = True,
) -> None:
    """Start the whole local stack, deploy, seed the Nong Sanit demo and print where to look."""
    from tambon.deploy import ensure_compiled

    settings = get_settings()
    stack = Stack(settings)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("Compiling contracts", ensure_compiled),
        ("Starting the local chain", lambda: stack.start("chain")),
        ("Starting the evidence node", lambda: stack.start("evidence")),
        ("Deploying contracts", lambda: _deploy_unless_live(settings)),
        ("Seeding grants, producers and produce batches", lambda: _seed_chain(stack)),
        # the index first: the oracle and the site read it when it has started, the node otherwise
        ("Starting the chain index", lambda: stack.start("index")),
        ("Starting the grading oracle", lambda: stack.start("oracle")),
        ("Starting the web site", lambda: stack.start("web", timeout=90)),
        ("Collecting a first council signature", lambda: _seed(settings, "web")),
        ("Waiting for the oracle to grade every batch", lambda: _wait_for_grades(stack)),
    ]
    stack.claim_demo()
    # A terminal closing (SIGHUP), `tambon stop`, a container or systemd (SIGTERM) end the demo the way
    # Ctrl-C does: every service it started is stopped, none is left orphaned.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        _run_steps(steps)
        _print_urls(settings)
        if not keep_running:
            return
        console.print("Press Ctrl-C (or run `tambon stop`) to stop everything.")
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("\nStopping…")
        stopped = stack.stop_all()
        console.print(f"stopped: {', '.join(stopped) or 'nothing'}")
    except ConfigError:
        stack.stop_all()
        raise
    finally:
        stack.release_demo()


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _run_steps(steps: list[tuple[str, Callable[[], object]]]) -> None:
    """Run the demo's steps with a progress bar on a terminal, one line a step elsewhere (logs, CI)."""
    if not console.is_terminal:
        started = time.monotonic()
        for number, (label, step) in enumerate(steps, 1):
            print(f"[{number}/{len(steps)}] {label}…", flush=True)
            step()
        print(f"ready in {time.monotonic() - started:.0f} s", flush=True)
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("Tambon Trust demo", total=len(steps))
        for label, step in steps:
            progress.update(task, description=label)
            step()
            progress.advance(task)
        progress.update(task, description="Ready")


def _chain_id(w3: Web3, url: str) -> int:
    try:
        return w3.eth.chain_id
    except Exception as exc:  # requests raises a family of connection errors
        raise ConfigError(f"cannot reach the node at {url}: {exc}") from exc


def _deploy_unless_live(settings) -> None:
    from web3 import Web3

    from tambon.accounts import demo_account
    from tambon.chain import Deployment
    from tambon.deploy import deploy_all, is_live

    w3 = Web3(Web3.HTTPProvider(settings.rpc_url))
    if settings.deployment_file.exists() and is_live(w3, Deployment.load(settings.deployment_file)):
        return
    members = [demo_account(i).address for i in range(1, 6)]
    deploy_all(w3, demo_account(0), members, 3, settings.network).save(settings.deployment_file)


def _seed_chain(stack: Stack) -> None:
    with stack.blocks_on_demand():
        _seed(stack.settings, "chain")


def _seed(settings, phase: str) -> None:
    log = settings.data_dir / "logs" / "seed.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        result = subprocess.run(
            [sys.executable, str(SEED_SCRIPT), "--phase", phase],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env={**os.environ, **settings.as_env()},
        )
    if result.returncode != 0:
        raise ConfigError(f"seeding the demo ({phase}) failed; see {log}")


def _wait_for_grades(stack: Stack) -> None:
    from tambon.chain import Chain

    chain = Chain(stack.settings)
    provenance = chain.contract("BatchProvenance")
    registry = chain.contract("AttestationRegistry")
    deadline = time.monotonic() + GRADE_WAIT_SECONDS
    while time.monotonic() < deadline:
        batches = provenance.functions.totalSupply().call()
        graded = {
            e["args"]["batchId"]
            for e in registry.events.Attested().get_logs(from_block=chain.deployment.block)
        }
        if batches and len(graded) >= batches:
            return
        if stack.check("oracle") is None:
            raise ConfigError(
                f"the oracle stopped before grading every batch; see {stack.log_dir / 'oracle.log'}"
            )
        time.sleep(1)
    raise ConfigError(
        f"the oracle graded fewer batches than registered within {GRADE_WAIT_SECONDS} s; see its log"
    )


def _print_urls(settings) -> None:
    from tambon.chain import Chain

    base = settings.public_url
    chain = Chain(settings)
    registered = (
        chain.contract("BatchProvenance").events.BatchRegistered().get_logs(from_block=chain.deployment.block)
    )
    batch_id = registered[0]["args"]["batchId"] if registered else 1
    console.print(
        "\n[bold]Tambon Trust is running[/bold]\n"
        f"  Verify a produce batch   {base}/batch/{batch_id}\n"
        f"  Grants dashboard         {base}/grants\n"
        f"  Council signing page     {base}/wallet/council\n"
        f"  Community submission     {base}/wallet/submit\n"
        f"  API docs                 {base}/api/docs\n"
        f"  Evidence gateway         {settings.gateway_url}/ipfs/<cid>\n"
        f"  Chain (anvil)            {settings.rpc_url}\n"
        "  [yellow]The demo accounts use public test keys anyone knows: never send them real funds.[/yellow]\n"
        "  `tambon status` reports each service; logs are in "
        f"{settings.data_dir / 'logs'}",
        highlight=False,
    )
