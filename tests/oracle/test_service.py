"""The chain service end to end on a private anvil: register -> grade -> attest, restarts, reorgs."""

from __future__ import annotations

import json
import random

import pytest

from evidence.bundle import build_bundle
from evidence.store import LocalStore
from oracle.errors import EvidenceError, OracleError
from oracle.grader import ABSTAIN, GradeResult
from oracle.service import Oracle, OracleSettings, fetch_bundle, fruit_weight, lot_grade
from oracle.synth import render, render_ood
from tambon.attestation import Grade
from tests.oracle.chain import deploy


@pytest.fixture
def deployed(anvil, grader):
    return deploy(anvil.w3, grader.model.sha256)


@pytest.fixture
def store(tmp_path):
    return LocalStore(tmp_path / "blocks")


def bundle(store, seed: int, n_photos: int = 2, weight: float | None = 420.0, grade: str | None = None):
    photos = {f"fruit{i}.jpg": render(seed, i, grade=grade)[0] for i in range(n_photos)}
    record = {"commodity": "mango", "photos": sorted(photos)}
    if weight is not None:
        record["fruit_weight_g"] = weight
    return build_bundle(store, record, photos).onchain


def make_oracle(deployed, store, grader, tmp_path, crash_hook=None, **settings):
    opts = {"confirmations": 0, "poll_interval": 0.05, **settings}
    return Oracle(
        deployed.w3,
        deployed.provenance,
        deployed.registry,
        deployed.oracle,
        store,
        grader,
        tmp_path / "state.json",
        start_block=deployed.block,
        settings=OracleSettings(**opts),
        crash_hook=crash_hook,
    )


# --------------------------------------------------------------------------------- end to end


def test_run__registered_batch__attestation_accepted(deployed, store, grader, tmp_path):
    onchain = bundle(store, 101, grade="CLASS_I")
    batch_id = deployed.register(onchain)
    oracle = make_oracle(deployed, store, grader, tmp_path)
    oracle.preflight()
    report = oracle.step()
    assert report["found"] == 1 and report["posted"] == 1
    assert deployed.registry.functions.is_attested(onchain.digest, deployed.oracle.address).call()
    (log,) = deployed.attested_logs(onchain.digest)
    args = log["args"]
    assert args["batchId"] == batch_id and args["signer"] == deployed.oracle.address
    assert bytes(args["modelSha256"]).hex() == grader.model.sha256
    assert args["sizeCode"] == 2  # 420 g from record.json: Codex size B
    photos, _ = fetch_bundle(store, onchain, 12)
    expected, conf = lot_grade([grader.grade_bytes(b, n, weight_g=420) for n, b in photos])
    assert Grade(args["grade"]).name == expected
    assert args["confidenceBps"] == round(conf * 10_000)
    # The explanation (overlay per photo + grading.json) is in the store, linked from the evidence.
    from oracle.explanations import INDEX_NAME, lookup

    cid = lookup("0x" + onchain.digest.hex(), tmp_path / INDEX_NAME)
    assert cid is not None
    names = {e.name for e in store.ls(cid)}
    assert names == {"fruit0.overlay.png", "fruit1.overlay.png", "grading.json"}
    assert store.cat(cid, "fruit0.overlay.png").startswith(b"\x89PNG")
    grading = json.loads(store.cat(cid, "grading.json"))
    assert grading["evidence"] == "0x" + onchain.digest.hex()
    assert [row["overlay"] for row in grading["photos"]] == ["fruit0.overlay.png", "fruit1.overlay.png"]


def test_run__several_ready__one_attest_many(deployed, store, grader, tmp_path):
    evidences = [bundle(store, 200 + i, n_photos=1) for i in range(3)]
    for e in evidences:
        deployed.register(e)
    oracle = make_oracle(deployed, store, grader, tmp_path)
    assert oracle.step()["posted"] == 3
    roots = deployed.registry.events.RootAttested().get_logs(from_block=deployed.block)
    assert len(roots) == 1 and roots[0]["args"]["count"] == 3
    assert all(len(deployed.attested_logs(e.digest)) == 1 for e in evidences)


def test_run__restart_or_lost_state__never_posts_twice(deployed, store, grader, tmp_path):
    onchain = bundle(store, 300, n_photos=1)
    deployed.register(onchain)
    assert make_oracle(deployed, store, grader, tmp_path).step()["posted"] == 1
    assert make_oracle(deployed, store, grader, tmp_path).step()["posted"] == 0
    (tmp_path / "state.json").unlink()  # lost state: full rescan, the on-chain check stops it
    report = make_oracle(deployed, store, grader, tmp_path).step()
    assert report["posted"] == 0 and report["skipped"] == 1
    assert len(deployed.attested_logs(onchain.digest)) == 1
    assert deployed.oracle_reverted_txs() == 0


def test_run__waits_for_confirmations(deployed, store, grader, tmp_path):
    onchain = bundle(store, 310, n_photos=1)
    deployed.register(onchain)
    oracle = make_oracle(deployed, store, grader, tmp_path, confirmations=2)
    assert oracle.step()["found"] == 0
    deployed.w3.provider.make_request("anvil_mine", [2])
    assert oracle.step()["posted"] == 1


def test_run__not_a_fruit__abstain_posted(deployed, store, grader, tmp_path):
    photos = {"noise.jpg": render_ood(1, 0, "noise")[0]}
    onchain = build_bundle(store, {"commodity": "mango"}, photos).onchain
    deployed.register(onchain)
    make_oracle(deployed, store, grader, tmp_path).step()
    (log,) = deployed.attested_logs(onchain.digest)
    assert log["args"]["grade"] == Grade.ABSTAIN


def test_run__evidence_missing__retried_until_available(deployed, store, grader, tmp_path):
    other = LocalStore(tmp_path / "elsewhere")
    onchain = bundle(other, 320, n_photos=1)  # registered, but not (yet) in the oracle's store
    deployed.register(onchain)
    oracle = make_oracle(deployed, store, grader, tmp_path)
    assert oracle.step()["posted"] == 0
    assert onchain.digest_hex.removeprefix("0x") in "".join(oracle.state.pending)
    bundle(store, 320, n_photos=1)  # the same bundle arrives in the store
    oracle._backoff.clear()  # skip the backoff wait
    assert oracle.step()["posted"] == 1


def test_preflight__model_not_approved__refused(deployed, store, tmp_path):
    class OtherModel:
        sha256 = "ab" * 32

    class OtherGrader:
        model = OtherModel()

    oracle = make_oracle(deployed, store, OtherGrader(), tmp_path)
    with pytest.raises(OracleError, match="not approved"):
        oracle.preflight()


def test_preflight__key_not_active__refused(deployed, store, grader, tmp_path):
    from tambon.accounts import demo_account

    oracle = make_oracle(deployed, store, grader, tmp_path)
    oracle.account = demo_account(8)
    with pytest.raises(OracleError, match="not active"):
        oracle.preflight()


def test_fetch_bundle__corrupt_block__refused(store, tmp_path):
    onchain = bundle(store, 330, n_photos=1)
    for path in (tmp_path / "blocks").rglob("*"):
        if path.is_file() and path.stat().st_size > 10_000:  # a photo block
            path.write_bytes(b"x" + path.read_bytes()[1:])
    with pytest.raises(EvidenceError, match="corrupt"):
        fetch_bundle(store, onchain, 12)


# ----------------------------------------------------------------------------- crash / restart


class Crash(Exception):
    pass


def test_run__crash_at_random_points__exactly_once(deployed, store, grader, tmp_path):
    """Fast variant of the kill test: the oracle dies at random points inside `step()` (after a
    scan is saved, after a transaction is saved but before it is sent, after it is sent) while
    batches keep arriving; each restart starts from the state file alone."""
    rng = random.Random(6)
    evidences = []
    crashes = 0
    for _round in range(12):
        for _ in range(rng.randint(0, 2)):
            e = bundle(store, 400 + len(evidences), n_photos=1)
            deployed.register(e)
            evidences.append(e)
        point = rng.choice(["after_scan", "after_inflight_saved", "after_send", None])

        def hook(at, point=point):
            if at == point:
                raise Crash(at)

        try:
            make_oracle(deployed, store, grader, tmp_path, crash_hook=hook, max_batch=2).step()
        except Crash:
            crashes += 1
    for _ in range(4):  # a clean run finishes whatever is left
        make_oracle(deployed, store, grader, tmp_path, max_batch=2).step()
    assert crashes >= 5
    assert evidences
    for e in evidences:
        assert len(deployed.attested_logs(e.digest)) == 1
    assert deployed.oracle_reverted_txs() == 0


# ------------------------------------------------------------------------------------ reorg


def test_reorg__depth_3_removes_attestation__oracle_restores_it(deployed, store, grader, tmp_path):
    w3 = deployed.w3
    onchain = bundle(store, 500, n_photos=1)
    deployed.register(onchain)
    oracle = make_oracle(deployed, store, grader, tmp_path, confirmations=1)
    w3.provider.make_request("anvil_mine", [1])
    assert oracle.step()["posted"] == 1
    attested_in = deployed.attested_logs(onchain.digest)[0]["blockNumber"]
    w3.provider.make_request("anvil_mine", [2])
    head = w3.eth.block_number
    depth = head - attested_in + 1
    assert depth >= 3
    old_hash = w3.eth.get_block(head)["hash"]
    response = w3.provider.make_request("anvil_reorg", [depth, []])
    assert "error" not in response, response
    assert w3.eth.get_block(head)["hash"] != old_hash  # same height, other blocks
    assert not deployed.registry.functions.is_attested(onchain.digest, deployed.oracle.address).call()
    report = oracle.step()
    assert report["restored"] == 1 and report["posted"] == 1
    assert deployed.registry.functions.is_attested(onchain.digest, deployed.oracle.address).call()
    assert len(deployed.attested_logs(onchain.digest)) == 1


def test_reorg__cursor_block_replaced__rescans_from_ancestor(deployed, store, grader, tmp_path):
    w3 = deployed.w3
    oracle = make_oracle(deployed, store, grader, tmp_path, confirmations=0)
    oracle.step()
    w3.provider.make_request("anvil_mine", [3])
    oracle.step()
    cursor = oracle.state.cursor_block
    response = w3.provider.make_request("anvil_reorg", [3, []])
    assert "error" not in response, response
    onchain = bundle(store, 510, n_photos=1)
    deployed.register(onchain)  # lands in the new branch, below the old cursor height
    report = oracle.step()
    assert report["reorgs"] == 1 and report["posted"] == 1
    assert oracle.state.cursor_block >= cursor - 3


# ------------------------------------------------------------------------------------- pure


def _r(grade, conf=0.9):
    return GradeResult("f", grade, conf, None, None, 1, 0.0, "00")


def test_lot_grade__worst_graded_photo__min_confidence():
    assert lot_grade([_r("EXTRA", 0.9), _r("CLASS_II", 0.7), _r(ABSTAIN, 0.3)]) == ("CLASS_II", 0.7)


def test_lot_grade__mostly_abstained_or_empty__abstain():
    assert lot_grade([_r(ABSTAIN, 0.2), _r(ABSTAIN, 0.4), _r("EXTRA")])[0] == ABSTAIN
    assert lot_grade([]) == (ABSTAIN, 0.0)


def test_fruit_weight__only_plausible_numbers():
    assert fruit_weight({"fruit_weight_g": 350}) == 350.0
    assert fruit_weight({"fruit_weight_g": "350"}) is None
    assert fruit_weight({"fruit_weight_g": -1}) is None
    assert fruit_weight(None) is None


def test_run_loop__node_errors__retried_with_backoff(deployed, store, grader, tmp_path, monkeypatch):
    oracle = make_oracle(deployed, store, grader, tmp_path)
    calls = []
    real_step = oracle.step

    def flaky_step():
        calls.append(1)
        if len(calls) <= 2:
            raise ConnectionError("node briefly down")
        return real_step()

    monkeypatch.setattr(oracle, "step", flaky_step)
    monkeypatch.setattr("oracle.service.time.sleep", lambda s: None)
    onchain = bundle(store, 600, n_photos=1)
    deployed.register(onchain)
    oracle.run(stop=lambda: len(calls) >= 3)
    assert len(deployed.attested_logs(onchain.digest)) == 1
