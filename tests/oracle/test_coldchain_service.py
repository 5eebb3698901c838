"""The cold-chain service on a private anvil: TRANSPORT step -> log -> verdict -> attestColdChain, once.

Logs are made in code (oracle.coldchain.synth): no real logger traces are licensed here yet.
"""

from __future__ import annotations

import json

import pytest

from evidence.bundle import build_bundle
from evidence.store import LocalStore
from oracle.coldchain import load_rules
from oracle.coldchain.service import ColdChainOracle
from oracle.coldchain.synth import WarmSpell, logger_csv, reefer_readings
from oracle.errors import OracleError
from oracle.model import SHA_FILE, read_expected_sha
from oracle.service import OracleSettings
from tambon.coldchain import Verdict
from tests.oracle.chain import deploy, registered_batch_id, send

MANGO, COFFEE = 201, 301
T0 = 1_793_000_000
RULES = load_rules()


class Crash(Exception):
    pass


@pytest.fixture
def deployed(anvil):
    d = deploy(anvil.w3, read_expected_sha(SHA_FILE))
    send(d.w3, d.registry.functions.approveModel(bytes.fromhex(RULES.sha256)), d.owner)
    return d


@pytest.fixture
def store(tmp_path):
    return LocalStore(tmp_path / "blocks")


def lot_with_transport(deployed, store, crop: int = MANGO, warm: WarmSpell | None = None, log: bool = True):
    """Register a lot and add a TRANSPORT step whose bundle carries a 30 h reefer log (made in code)."""
    fn = deployed.provenance.functions.register(b"\x01" * 32, 0x55, crop, 25_000, 20_500)
    receipt = send(deployed.w3, fn, deployed.producer)
    batch_id = registered_batch_id(deployed.provenance, receipt)
    times, temps = reefer_readings(T0, 30, 11.5, seed=batch_id, warm=warm)
    files = {"trip.csv": logger_csv(times, temps)} if log else {}
    record = {
        "event": "shipping",
        "transport": {
            "departed": "2026-10-26T14:33:20+07:00",
            "arrived": "2026-10-27T20:33:20+07:00",
        },  # T0 + 30 h
    }
    onchain = build_bundle(store, record, files).onchain
    data = (1100 & 0xFFFF) | ((1300 & 0xFFFF) << 16)
    send(
        deployed.w3,
        deployed.provenance.functions.addStep(batch_id, 3, onchain.digest, onchain.codec, data),
        deployed.producer,
    )
    return batch_id, onchain


def make_service(deployed, store, tmp_path, crash_hook=None):
    return ColdChainOracle(
        deployed.w3,
        deployed.provenance,
        deployed.registry,
        deployed.oracle,
        store,
        tmp_path / "coldchain-state.json",
        start_block=deployed.block,
        settings=OracleSettings(confirmations=0, poll_interval=0.05),
        crash_hook=crash_hook,
    )


def attested(deployed):
    return deployed.registry.events.ColdChainAttested().get_logs(from_block=0, to_block="latest")


def test_transport_steps__attested_once_each(deployed, store, tmp_path):
    ok_id, ok_cid = lot_with_transport(deployed, store)
    warm_id, warm_cid = lot_with_transport(deployed, store, warm=WarmSpell(8, 6, 25.0))
    bare_id, bare_cid = lot_with_transport(deployed, store, log=False)
    service = make_service(deployed, store, tmp_path)
    service.preflight()
    report = service.step()
    assert report["found"] == 3 and report["posted"] == 3
    by_batch = {e["args"]["batchId"]: e["args"] for e in attested(deployed)}
    assert by_batch[ok_id]["verdict"] == Verdict.OK and bytes(by_batch[ok_id]["logCid"]) == ok_cid.digest
    assert by_batch[warm_id]["verdict"] == Verdict.EXCURSION and by_batch[warm_id]["minutesOutOfRange"] > 300
    assert by_batch[bare_id]["verdict"] == Verdict.UNRELIABLE_LOG
    rec = deployed.registry.functions.coldChainRecord(ok_id, ok_cid.digest, deployed.oracle.address).call()
    assert rec[4].hex() == RULES.sha256 and 1_100 < rec[2] < 1_200  # MKT about 11.5 °C
    # Idempotent: another pass (and a fresh process on the same state) posts nothing new.
    assert service.step()["posted"] == 0
    assert make_service(deployed, store, tmp_path).step()["posted"] == 0
    assert len(attested(deployed)) == 3


def test_crop_without_rules__refused_not_retried(deployed, store, tmp_path):
    lot_with_transport(deployed, store, crop=COFFEE)
    service = make_service(deployed, store, tmp_path)
    report = service.step()
    assert report["posted"] == 0 and report["skipped"] == 1
    assert service.state.pending == {} and attested(deployed) == []


@pytest.mark.parametrize("point", ["after_inflight_saved", "after_send"])
def test_crash_while_posting__restart_posts_exactly_once(deployed, store, tmp_path, point):
    batch_id, onchain = lot_with_transport(deployed, store)

    def crash(at: str) -> None:
        if at == point:
            raise Crash(at)

    with pytest.raises(Crash):
        make_service(deployed, store, tmp_path, crash_hook=crash).step()
    saved = json.loads((tmp_path / "coldchain-state.json").read_text())
    assert saved["inflight"], "the signed transaction was written ahead"
    make_service(deployed, store, tmp_path).step()
    assert [e["args"]["batchId"] for e in attested(deployed)] == [batch_id]


def test_preflight__unapproved_rules_refused(anvil, store, tmp_path):
    d = deploy(anvil.w3, read_expected_sha(SHA_FILE))
    with pytest.raises(OracleError, match="cold-chain rules sha256 .* are not approved"):
        make_service(d, store, tmp_path).preflight()
