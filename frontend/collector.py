"""The cyclic garbage collector in a site worker: long-lived objects frozen, so a full collection
walks only what is new.

A worker on a 10,000-lot index holds ~450,000 objects that live as long as it does (modules,
templates, every lot's facts stamp, the lot directory, cached histories and page keys). CPython's
full collection walks all of them, and it ran every 25-60 s under a moving head for 350-800 ms with
the GIL held: every request in that worker waited for it. Here the objects alive when the site
starts, and the survivors of each full collection, go to the permanent generation (`gc.freeze`),
which collections skip; objects that die by reference count are freed as before. A cycle that
becomes garbage after its objects were frozen is only freed by a collection that walks the frozen
ones too: once the frozen objects have grown to `REWALK_GROWTH` times what they were after the last
such walk, they are unfrozen and the next full collection walks (and frees) everything once, then
freezes its survivors again.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: how many times the frozen objects may grow before a full collection walks them all again
REWALK_GROWTH = 2.0


class _SurvivorFreezer:
    def __init__(self) -> None:
        self.baseline = 0
        self.rewalking = False

    def start(self) -> None:
        gc.freeze()
        self.baseline = gc.get_freeze_count()
        gc.callbacks.append(self.after_collection)

    def stop(self) -> None:
        gc.callbacks.remove(self.after_collection)
        gc.unfreeze()

    def after_collection(self, phase: str, info: dict) -> None:
        if phase != "stop" or info["generation"] != 2:
            return
        gc.freeze()
        if self.rewalking:  # this collection walked every object: its survivors are the new baseline
            self.rewalking = False
            self.baseline = gc.get_freeze_count()
        elif gc.get_freeze_count() > REWALK_GROWTH * max(self.baseline, 1):
            gc.unfreeze()
            self.rewalking = True


_lock = threading.Lock()
_holders = 0
_freezer: _SurvivorFreezer | None = None


@contextmanager
def long_lived_frozen() -> Iterator[None]:
    """Long-lived objects frozen (see the module docstring) while any caller is inside; the collector
    as it was once the last one leaves."""
    global _holders, _freezer
    with _lock:
        if _holders == 0:
            _freezer = _SurvivorFreezer()
            _freezer.start()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _freezer is not None:
                _freezer.stop()
                _freezer = None
