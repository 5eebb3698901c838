"""`tambon demo` end to end: the whole stack comes up with the Nong Sanit data, and comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tambon.accounts import demo_account
from tambon.chain import Chain
from tambon.settings import Settings
from tests.frontend.world import assert_page_shows_report, local_stack_settings


@pytest.fixture
def demo_settings(tmp_path):
    settings = local_stack_settings(tmp_path)
    yield settings
    _tambon(settings, "stop")


def _tambon(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.as_env()}
    return subprocess.run(
        [sys.executable, "-m", "tambon", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_demo__seeds_every_state_then_a_second_run_reuses_it(demo_settings):
    first = _tambon(demo_settings, "demo", "--no-keep-running")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "Tambon Trust is running" in first.stdout
    assert _tambon(demo_settings, "status").returncode == 0

    chain = Chain(demo_settings)
    _assert_blocks_come_every_second(chain)  # seeding mined on demand, then back to a block a second
    escrow = chain.contract("GrantEscrow")
    assert escrow.functions.grant_count().call() == 2
    statuses = [escrow.functions.milestone(0, m).call()[2] for m in range(4)]
    assert statuses == [3, 2, 2, 1]  # paid, awaiting signatures, resubmitted after rejection, pending
    assert escrow.functions.milestone(0, 2).call()[3] == 2  # submitted twice
    assert escrow.functions.milestone(0, 2).call()[7] != b"\x00" * 32  # the rejection reason stays on record
    provenance = chain.contract("BatchProvenance")
    assert provenance.functions.totalSupply().call() == 6
    for batch_id in (1, 2, 3, 6):
        assert provenance.functions.batch(batch_id).call()[7] == 5  # five value-chain steps each
    for batch_id in (4, 5):  # one lot per farmer still in the field, open for capture
        info = provenance.functions.batch(batch_id).call()
        assert info[1] in (demo_account(6).address, demo_account(7).address) and not info[8] and not info[9]
    graded = (
        chain.contract("AttestationRegistry").events.Attested().get_logs(from_block=chain.deployment.block)
    )
    assert {1, 2, 3} <= {e["args"]["batchId"] for e in graded}
    signing = httpx.get(
        f"{demo_settings.public_url}/api/wallet/grants/0/milestones/1/release", timeout=30
    ).json()
    assert len(signing["signers"]) == 1
    access_log = (demo_settings.data_dir / "logs" / "web.log").read_text()
    assert '"GET /api/wallet/grants/0/milestones/1/release HTTP/1.1" 200' in access_log

    for lot in range(1, 7):
        checks = _assert_verify_command_agrees_with_the_page(demo_settings, lot)
        failed = {c["name"] for c in checks if c["status"] == "fail"}
        assert failed == ({"evidence"} if lot == 6 else set()), lot  # lot 6's receiving record was altered

    assert _tambon(demo_settings, "stop").returncode == 0
    again = _tambon(demo_settings, "demo", "--no-keep-running")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert escrow.functions.grant_count().call() == 2
    assert provenance.functions.totalSupply().call() == 6


def _assert_blocks_come_every_second(chain: Chain) -> None:
    first = chain.w3.eth.block_number
    time.sleep(3.5)
    latest = chain.w3.eth.block_number
    assert 2 <= latest - first <= 4  # with no transaction sent


def _assert_verify_command_agrees_with_the_page(settings: Settings, lot: int) -> list[dict]:
    """`tambon verify batch` prints the checks a buyer sees on the lot's page: same checks, same verdict."""
    run = _tambon(settings, "verify", "batch", str(lot), "--json", timeout=60)
    out = json.loads(run.stdout)
    api = httpx.get(f"{settings.public_url}/api/batches/{lot}", timeout=30).json()
    assert run.returncode == (3 if api["summary"]["fail"] else 0), run.stderr[-2000:]
    assert out["checks"] == api["checks"], lot
    assert out["summary"] == api["summary"], lot
    page = httpx.get(f"{settings.public_url}/batch/{lot}", headers={"Accept-Language": "en"}, timeout=30).text
    assert_page_shows_report(page, out, lot)
    return out["checks"]
