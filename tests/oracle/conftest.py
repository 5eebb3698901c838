"""Oracle fixtures: photos are drawn in code (oracle.synth), never downloaded."""

from __future__ import annotations

import pytest

from oracle.synth import render

#: Seed for held-out photos: the shipped model was trained on another seed.
HELD_OUT_SEED = 424242


@pytest.fixture(scope="session")
def grader():
    from oracle.grader import Grader

    return Grader()


@pytest.fixture(scope="module")
def anvil():
    """A private anvil per module: reorgs, snapshots and kills there do not disturb ape's shared node."""
    from tests.oracle.chain import Anvil

    node = Anvil()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def held_out():
    """40 held-out photos (bytes, truth) with known size, defect fraction and class."""
    return [render(HELD_OUT_SEED, i) for i in range(40)]
