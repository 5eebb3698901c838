"""split / merge: children record their parents, parents are consumed, quantities and holders carry over."""

import ape

from .conftest import DAG_PB, HARVEST, HARVEST_DAY, MANGO, PROCESSING, RAW, RICE, digest


def _boxes(*grams):
    return [(digest(f"box-{i}"), RAW, g) for i, g in enumerate(grams)]


def test_split__children_link_parent_and_parent_is_consumed(provenance, producer, packer, create_batch):
    parent = create_batch("lot", grams=10_000, day=HARVEST_DAY)
    provenance.transferFrom(producer, packer, parent, sender=producer)
    receipt = provenance.split(parent, _boxes(4_000, 3_000, 2_500), sender=packer)
    first = receipt.return_value
    children = [first, first + 1, first + 2]
    [event] = receipt.events.filter(provenance.Split)
    assert (event.parentId, event.actor, event.firstChildId, event.count) == (parent, packer, first, 3)
    for child, grams in zip(children, (4_000, 3_000, 2_500), strict=True):
        info = provenance.batch(child)
        assert info.holder == packer and info.producer == packer and info.hasParents
        assert (info.crop, info.quantityGrams, info.harvestDay) == (MANGO, grams, HARVEST_DAY)
        assert list(provenance.parentsOf(child)) == [parent]
        assert provenance.tokenURI(child).startswith("ipfs://bafkrei")
    assert provenance.childrenOf(parent) == (first, 3)
    assert provenance.batch(parent).consumed and list(provenance.parentsOf(parent)) == []
    assert provenance.balanceOf(packer) == 4


def test_split__consumed_parent_takes_no_steps_or_second_split(provenance, producer, create_batch):
    parent = create_batch(grams=100)
    provenance.split(parent, _boxes(50, 50), sender=producer)
    with ape.reverts("provenance: batch consumed"):
        provenance.addStep(parent, PROCESSING, digest("late"), RAW, 0, sender=producer)
    with ape.reverts("provenance: batch consumed"):
        provenance.split(parent, _boxes(10, 10), sender=producer)


def test_split__of_a_run_batch_and_children_take_steps(provenance, producer, create_run):
    parent = create_run(6)[3]  # 10_003 g, crop RICE, harvest HARVEST_DAY + 3
    first = provenance.split(parent, _boxes(5_000, 5_003), sender=producer).return_value
    info = provenance.batch(first + 1)
    assert (info.crop, info.quantityGrams, info.harvestDay) == (RICE, 5_003, HARVEST_DAY + 3)
    provenance.addStep(first + 1, PROCESSING, digest("packed"), DAG_PB, 0, sender=producer)
    assert provenance.stepCount(first + 1) == 1 and provenance.stepCount(first) == 0


def test_split__exceeding_quantity__reverts(provenance, producer, create_batch):
    parent = create_batch(grams=1_000)
    with ape.reverts("provenance: split exceeds quantity"):
        provenance.split(parent, _boxes(600, 401), sender=producer)


def test_split__one_child__reverts(provenance, producer, create_batch):
    parent = create_batch()
    with ape.reverts("provenance: split needs two children"):
        provenance.split(parent, _boxes(1), sender=producer)


def test_split__non_holder__reverts(provenance, attacker, create_batch):
    parent = create_batch()
    with ape.reverts("provenance: not holder or approved"):
        provenance.split(parent, _boxes(1, 1), sender=attacker)


def test_split__closed_batch__reverts(provenance, producer, create_batch):
    parent = create_batch()
    provenance.addStep(parent, 4, digest("sold"), RAW, 0, sender=producer)
    with ape.reverts("provenance: batch closed"):
        provenance.split(parent, _boxes(1, 1), sender=producer)


def test_merge__child_links_parents_sums_weight_earliest_harvest(
    provenance, producer, create_batch, create_run
):
    a = create_batch("a", grams=1_000, day=HARVEST_DAY + 5)
    run = create_run(3, crop=MANGO)  # 10_000.., days HARVEST_DAY..
    parents = [a, run[1], run[2]]
    receipt = provenance.merge(parents, digest("merged"), DAG_PB, sender=producer)
    child = receipt.return_value
    [event] = receipt.events.filter(provenance.Merged)
    assert event.childId == child and list(event.parentIds) == parents and event.actor == producer
    info = provenance.batch(child)
    assert info.quantityGrams == 1_000 + 10_001 + 10_002 and info.harvestDay == HARVEST_DAY + 1
    assert info.crop == MANGO and info.codec == DAG_PB and info.hasParents and info.holder == producer
    assert list(provenance.parentsOf(child)) == parents
    for parent in parents:
        assert provenance.batch(parent).consumed and provenance.childrenOf(parent) == (child, 1)
    with ape.reverts("provenance: batch consumed"):
        provenance.addStep(a, HARVEST, digest("x"), RAW, 0, sender=producer)


def test_merge__by_operator_of_the_holder(provenance, producer, packer, create_batch):
    a, b = create_batch("a"), create_batch("b")
    provenance.setApprovalForAll(packer, True, sender=producer)
    child = provenance.merge([a, b], digest("m"), RAW, sender=packer).return_value
    assert provenance.ownerOf(child) == producer


def test_merge__different_holders__reverts(provenance, producer, carrier, create_batch):
    a = create_batch("a")
    b = create_batch("b", sender=carrier)
    provenance.setApprovalForAll(producer, True, sender=carrier)
    with ape.reverts("provenance: parents held by different accounts"):
        provenance.merge([a, b], digest("m"), RAW, sender=producer)


def test_merge__mixed_crops__reverts(provenance, producer, create_batch):
    a, b = create_batch("a", crop=MANGO), create_batch("b", crop=RICE)
    with ape.reverts("provenance: merge mixes crops"):
        provenance.merge([a, b], digest("m"), RAW, sender=producer)


def test_merge__unsorted_or_repeated_parents__reverts(provenance, producer, create_batch):
    a, b = create_batch("a"), create_batch("b")
    with ape.reverts("provenance: parents not sorted"):
        provenance.merge([b, a], digest("m"), RAW, sender=producer)
    with ape.reverts("provenance: parents not sorted"):
        provenance.merge([a, a], digest("m"), RAW, sender=producer)


def test_merge__one_parent__reverts(provenance, producer, create_batch):
    with ape.reverts("provenance: merge needs two parents"):
        provenance.merge([create_batch()], digest("m"), RAW, sender=producer)


def test_merge__consumed_or_unknown_parent__reverts(provenance, producer, create_batch):
    a, b, c = create_batch("a"), create_batch("b"), create_batch("c")
    provenance.merge([a, b], digest("m"), RAW, sender=producer)
    with ape.reverts("provenance: batch consumed"):
        provenance.merge([b, c], digest("m2"), RAW, sender=producer)
    with ape.reverts("provenance: unknown batch"):
        provenance.merge([c, 999], digest("m3"), RAW, sender=producer)


def test_merge__non_holder__reverts(provenance, attacker, create_batch):
    a, b = create_batch("a"), create_batch("b")
    with ape.reverts("provenance: not holder or approved"):
        provenance.merge([a, b], digest("m"), RAW, sender=attacker)


def test_split_then_merge__lineage_is_traceable(provenance, producer, create_batch):
    lot = create_batch("lot", grams=9_000)
    first = provenance.split(lot, _boxes(3_000, 3_000, 3_000), sender=producer).return_value
    merged = provenance.merge([first, first + 2], digest("pallet"), RAW, sender=producer).return_value
    grandparents = {p for child in provenance.parentsOf(merged) for p in provenance.parentsOf(child)}
    assert grandparents == {lot}
    assert provenance.batch(merged).quantityGrams == 6_000
