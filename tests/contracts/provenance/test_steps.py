"""addStep: the life of a batch over the five stages, custody, authorisation and append-only history."""

import ape
import pytest

from .conftest import (
    CULTIVATION,
    DAG_PB,
    HARVEST,
    MARKETING,
    PROCESSING,
    RAW,
    TRANSPORT,
    digest,
    transport_data,
)


def _steps(provenance, batch_id):
    """StepAdded logs of one batch, fetched by its indexed topic as a verify page does."""
    from ape import chain

    return list(provenance.StepAdded.range(0, chain.blocks.height + 1, search_topics={"batchId": batch_id}))


def test_full_life__five_stages_with_custody_transfers(
    provenance, producer, packer, carrier, seller, create_batch
):
    batch_id = create_batch("mango-nong-sanit")
    cold_chain = transport_data(-150, 800)  # -1.50 .. 8.00 degC
    plan = [
        (producer, CULTIVATION, "gap-certificate", 0, None),
        (producer, HARVEST, "harvest-photos", 0, packer),
        (packer, PROCESSING, "packing-record", 0, carrier),
        (carrier, TRANSPORT, "reefer-log", cold_chain, seller),
        (seller, MARKETING, "sale-receipt", 0, None),
    ]
    receipts = []
    for actor, stage, label, data, next_holder in plan:
        receipts.append(provenance.addStep(batch_id, stage, digest(label), RAW, data, sender=actor))
        if next_holder is not None:
            receipts.append(provenance.safeTransferFrom(actor, next_holder, batch_id, sender=actor))

    steps = [e for r in receipts for e in r.events.filter(provenance.StepAdded)]
    assert [s.index for s in steps] == [0, 1, 2, 3, 4]
    assert [s.stage for s in steps] == [CULTIVATION, HARVEST, PROCESSING, TRANSPORT, MARKETING]
    assert [s.actor for s in steps] == [producer, producer, packer, carrier, seller]
    assert [bytes(s.evidence) for s in steps] == [digest(p[2]) for p in plan]
    assert steps[3].data == cold_chain and all(s.batchId == batch_id for s in steps)
    custody = [(t.sender, t.receiver) for r in receipts for t in r.events.filter(provenance.Transfer)]
    assert custody == [(producer, packer), (packer, carrier), (carrier, seller)]

    info = provenance.batch(batch_id)
    assert info.stepCount == 5 and info.closed and info.holder == seller and info.producer == producer
    # The history is readable from logs alone and matches the count.
    assert len(_steps(provenance, batch_id)) == provenance.stepCount(batch_id)


def test_add_step__returns_index_and_counts(provenance, producer, create_batch, create_run):
    batch_id = create_batch()
    run_id = create_run(9)[6]
    for expected in range(3):
        assert (
            provenance.addStep(
                batch_id, HARVEST, digest(f"s{expected}"), DAG_PB, 0, sender=producer
            ).return_value
            == expected
        )
        assert (
            provenance.addStep(run_id, HARVEST, digest(f"r{expected}"), RAW, 7, sender=producer).return_value
            == expected
        )
    assert provenance.stepCount(batch_id) == 3 and provenance.stepCount(run_id) == 3
    # Neighbours in the same lane word are untouched.
    assert provenance.stepCount(run_id - 1) == 0 and provenance.stepCount(run_id + 1) == 0


def test_add_step__by_approved_and_operator(provenance, producer, packer, carrier, create_batch):
    batch_id = create_batch()
    provenance.approve(packer, batch_id, sender=producer)
    provenance.addStep(batch_id, PROCESSING, digest("p"), RAW, 0, sender=packer)
    provenance.setApprovalForAll(carrier, True, sender=producer)
    provenance.addStep(batch_id, TRANSPORT, digest("t"), RAW, transport_data(0, 100), sender=carrier)
    assert provenance.stepCount(batch_id) == 2


def test_add_step__non_holder__reverts(provenance, attacker, create_batch, create_run):
    for batch_id in (create_batch(), create_run(3)[1]):
        with ape.reverts("provenance: not holder or approved"):
            provenance.addStep(batch_id, HARVEST, digest("fake"), RAW, 0, sender=attacker)


def test_add_step__previous_holder_after_transfer__reverts(provenance, producer, carrier, create_run):
    batch_id = create_run(4)[2]
    provenance.transferFrom(producer, carrier, batch_id, sender=producer)
    with ape.reverts("provenance: not holder or approved"):
        provenance.addStep(batch_id, HARVEST, digest("late"), RAW, 0, sender=producer)
    provenance.addStep(batch_id, TRANSPORT, digest("ok"), RAW, 0, sender=carrier)


def test_add_step__approval_cleared_by_transfer__reverts(provenance, producer, packer, carrier, create_batch):
    batch_id = create_batch()
    provenance.approve(packer, batch_id, sender=producer)
    provenance.transferFrom(producer, carrier, batch_id, sender=producer)
    with ape.reverts("provenance: not holder or approved"):
        provenance.addStep(batch_id, PROCESSING, digest("p"), RAW, 0, sender=packer)


def test_add_step__after_final_sale__reverts(provenance, producer, seller, create_batch):
    batch_id = create_batch()
    provenance.addStep(batch_id, MARKETING, digest("sold"), RAW, 0, sender=producer)
    with ape.reverts("provenance: batch closed"):
        provenance.addStep(batch_id, TRANSPORT, digest("more"), RAW, 0, sender=producer)
    # Custody of the sold lot can still move (to the buyer); it still takes no steps.
    provenance.transferFrom(producer, seller, batch_id, sender=producer)
    with ape.reverts("provenance: batch closed"):
        provenance.addStep(batch_id, MARKETING, digest("again"), RAW, 0, sender=seller)


def test_add_step__unknown_batch__reverts(provenance, producer, create_batch):
    create_batch()
    for bad in (0, 2, 10**30):
        with ape.reverts("provenance: unknown batch"):
            provenance.addStep(bad, HARVEST, digest("x"), RAW, 0, sender=producer)


def test_add_step__bad_stage__reverts(provenance, producer, create_batch):
    batch_id = create_batch()
    with ape.reverts("provenance: bad stage"):
        provenance.addStep(batch_id, 5, digest("x"), RAW, 0, sender=producer)


def test_add_step__bad_cid__reverts(provenance, producer, create_batch):
    batch_id = create_batch()
    with ape.reverts("provenance: empty evidence"):
        provenance.addStep(batch_id, HARVEST, b"\x00" * 32, RAW, 0, sender=producer)
    with ape.reverts("provenance: unsupported codec"):
        provenance.addStep(batch_id, HARVEST, digest("x"), 0x71, 0, sender=producer)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (transport_data(500, -200), "provenance: bad temperature range"),
        (transport_data(-100, -300), "provenance: bad temperature range"),
        (1 << 32, "provenance: bad transport data"),
    ],
)
def test_add_step__bad_transport_data__reverts(provenance, producer, create_batch, data, reason):
    batch_id = create_batch()
    with ape.reverts(reason):
        provenance.addStep(batch_id, TRANSPORT, digest("reefer"), RAW, data, sender=producer)


def test_add_step__transport_extremes_accepted(provenance, producer, create_batch):
    batch_id = create_batch()
    provenance.addStep(batch_id, TRANSPORT, digest("a"), RAW, transport_data(-32768, 32767), sender=producer)
    provenance.addStep(batch_id, TRANSPORT, digest("b"), RAW, transport_data(-5, -5), sender=producer)
    assert provenance.stepCount(batch_id) == 2
