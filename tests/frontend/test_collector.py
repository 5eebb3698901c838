"""The site worker's collector policy (`frontend.collector`): long-lived objects frozen, survivors of
each full collection frozen, frozen cycles freed once the frozen objects have grown."""

import gc
import weakref

from frontend import collector
from frontend.collector import REWALK_GROWTH, long_lived_frozen


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_long_lived_frozen__survivors_of_a_full_collection__frozen():
    with long_lived_frozen():
        assert gc.get_freeze_count() > 0  # what was alive on entry
        gc.collect()
        gc.collect()  # settle: whatever rewalk the entry's growth started is done
        kept = [[i] for i in range(50_000)]
        gc.collect()
        assert not collector._freezer.rewalking
        walked = {id(o) for o in gc.get_objects()}  # what collections still walk: the frozen are not
        assert not any(id(item) in walked for item in kept)
        assert gc.get_count()[2] == 0  # nothing left for the next full collection to walk
        del kept
    assert gc.get_freeze_count() == 0
    assert not any(
        isinstance(getattr(cb, "__self__", None), collector._SurvivorFreezer) for cb in gc.callbacks
    )


def test_long_lived_frozen__frozen_cycle_dropped__freed_once_the_frozen_objects_grew():
    with long_lived_frozen():
        gc.collect()
        gc.collect()  # settle: whatever rewalk the entry's growth started is done
        node = Node()
        alive = weakref.ref(node)
        gc.collect()  # node survives a full collection: frozen
        del node
        gc.collect()
        assert alive() is not None  # frozen garbage is not walked...
        grown = [[i] for i in range(int(REWALK_GROWTH * gc.get_freeze_count()) + 1_000)]
        for _ in range(3):  # ...until the frozen objects grew enough: unfrozen, walked, freed
            gc.collect()
        assert alive() is None
        del grown


def test_long_lived_frozen__nested__collector_restored_when_the_last_leaves():
    with long_lived_frozen():
        with long_lived_frozen():
            pass
        assert collector._freezer is not None
        assert gc.get_freeze_count() > 0
    assert collector._freezer is None
    assert gc.get_freeze_count() == 0
