"""Personas and factories for BatchProvenance tests (ape isolates chain state per test)."""

from __future__ import annotations

import hashlib

import pytest

RAW = 0x55
DAG_PB = 0x70
CULTIVATION, HARVEST, PROCESSING, TRANSPORT, MARKETING = range(5)
MANGO = 201
RICE = 101
HARVEST_DAY = 20_400  # 2025-11-09


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def transport_data(min_centi_c: int, max_centi_c: int) -> int:
    """TRANSPORT step data: min (bits 0..15) and max (bits 16..31) as int16 in 0.01 degC."""
    return (min_centi_c & 0xFFFF) | ((max_centi_c & 0xFFFF) << 16)


@pytest.fixture(scope="session")
def council(accounts):
    """Owner of the contracts (the GrantEscrow in production)."""
    return accounts[0]


@pytest.fixture(scope="session")
def producer(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def packer(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def carrier(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def seller(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[9]


@pytest.fixture(scope="session", autouse=True)
def _personas(council, producer, packer, carrier, seller, attacker):
    """Resolve the session personas before any module snapshot (keeps ape's isolation cheap)."""


@pytest.fixture(scope="module")
def provenance(project, council):
    return project.batch_provenance.deploy(council, sender=council)


@pytest.fixture
def create_batch(provenance, producer):
    """Register one lot (single `register`) and return its id."""

    def create(
        label: str = "lot",
        sender=None,
        codec: int = RAW,
        crop: int = MANGO,
        grams: int = 1_250_000,
        day: int = HARVEST_DAY,
    ) -> int:
        receipt = provenance.register(digest(label), codec, crop, grams, day, sender=sender or producer)
        return receipt.return_value

    return create


@pytest.fixture
def create_run(provenance, producer):
    """Register `count` lots with one `registerMany`; returns their ids."""

    def create(count: int = 5, label: str = "run", sender=None, crop: int = RICE) -> list[int]:
        lots = [
            (digest(f"{label}-{i}"), RAW if i % 2 else DAG_PB, crop, 10_000 + i, HARVEST_DAY + i)
            for i in range(count)
        ]
        first = provenance.registerMany(lots, sender=sender or producer).return_value
        return list(range(first, first + count))

    return create
