"""The value chain of a produce lot: stages, what a step's data word means, and lineage.

`Stage` is the one list of value-chain stages (the seed's Table 3). Its number is what
BatchProvenance stores (`addStep(batchId, stage, …)`, `uint8`); labels,
the record events a farmer can capture under each stage and the page order all derive from it.
Adding a stage is one member here (plus the contract's bound and the translations).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum

from tambon.errors import TambonError

#: At most this many ancestors are followed for one lot (the page and exports stay bounded).
MAX_LINEAGE = 32

#: TRANSPORT step data: two int16 in 0.01 °C, min in bits 0–15, max in bits 16–31.
TEMPERATURE_SCALE = 100
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


class StageError(TambonError):
    """An unknown stage name or number, or a step data word that does not fit its stage."""

    http_status = 400


class Stage(IntEnum):
    """Value-chain stages in Table 3 order; the value is the on-chain stage number."""

    CULTIVATION = 0
    HARVEST = 1
    PROCESSING = 2
    TRANSPORT = 3
    MARKETING = 4

    @property
    def label(self) -> str:
        """English msgid shown on pages (templates translate it)."""
        return _LABELS[self]

    @property
    def events(self) -> tuple[str, ...]:
        """The record events (record.json `event`) that are added under this stage."""
        return tuple(event for event, stage in _STAGE_OF_EVENT.items() if stage is self)

    @classmethod
    def parse(cls, value: str | int) -> Stage:
        """A stage from its name (any case) or on-chain number; `StageError` otherwise."""
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                raise StageError(f"stage number must be 0 to {len(cls) - 1}, got {value}") from None
        if isinstance(value, str):
            name = value.strip().upper()
            if name in cls.__members__:
                return cls[name]
        names = ", ".join(s.name for s in cls)
        raise StageError(f"stage must be one of {names}, got {str(value)[:20]!r}")

    @classmethod
    def for_event(cls, event: str) -> Stage:
        """The stage a step whose record has this `event` is added under."""
        try:
            return _STAGE_OF_EVENT[event]
        except KeyError:
            known = ", ".join(_STAGE_OF_EVENT)
            raise StageError(f"record event must be one of {known}, got {str(event)[:30]!r}") from None


_LABELS = {
    Stage.CULTIVATION: "Cultivation",
    Stage.HARVEST: "Harvest",
    Stage.PROCESSING: "Processing and packing",
    Stage.TRANSPORT: "Transport",
    Stage.MARKETING: "Sale",
}
#: record.json `event` (FSMA 204 tracking events and the project's own) → stage, in capture order.
_STAGE_OF_EVENT = {
    "cultivation": Stage.CULTIVATION,
    "harvesting": Stage.HARVEST,
    "cooling": Stage.HARVEST,
    "initial_packing": Stage.PROCESSING,
    "transformation": Stage.PROCESSING,
    "shipping": Stage.TRANSPORT,
    "receiving": Stage.MARKETING,
    "sale": Stage.MARKETING,
}


#: The record events a farmer records with the field capture page, in the order it offers them (the
#: first is the default); later stages are recorded by packers, carriers and sellers.
FIELD_CAPTURE_EVENTS = ("harvesting", "cultivation", "shipping")


def event_label(event: str) -> str:
    """English msgid of a record event ("initial_packing" → "Initial packing"); templates translate it."""
    return event.replace("_", " ").capitalize()


def stage_name(number: int) -> str:
    """A stage's name for display, or `STAGE_<n>` for a number this code does not know yet."""
    try:
        return Stage(number).name
    except ValueError:
        return f"STAGE_{number}"


def _int16(value: int) -> int:
    value &= 0xFFFF
    return value - 0x10000 if value & 0x8000 else value


def encode_transport(min_c: float, max_c: float) -> int:
    """The TRANSPORT step data word for a trip's minimum and maximum temperature (°C)."""
    low, high = round(min_c * TEMPERATURE_SCALE), round(max_c * TEMPERATURE_SCALE)
    if not INT16_MIN <= low <= high <= INT16_MAX:
        raise StageError(
            f"transport temperatures must satisfy -327.68 <= min <= max <= 327.67 °C, got {min_c}, {max_c}"
        )
    return (low & 0xFFFF) | ((high & 0xFFFF) << 16)


def decode_transport(data: int) -> tuple[float, float]:
    """(min, max) °C of a TRANSPORT step's data word."""
    return _int16(data) / TEMPERATURE_SCALE, _int16(data >> 16) / TEMPERATURE_SCALE


def lineage(batch_id: int, parents_of: Callable[[int], Sequence[int]], limit: int = MAX_LINEAGE) -> list[int]:
    """The batch and its ancestors (breadth first, each once), at most `limit` ids."""
    seen = [batch_id]
    queue = [batch_id]
    while queue and len(seen) < limit:
        current = queue.pop(0)
        for parent in parents_of(current):
            if parent not in seen and len(seen) < limit:
                seen.append(parent)
                queue.append(parent)
    return seen


def lineage_roots(
    batch_id: int, parents_of: Callable[[int], Sequence[int]], limit: int = MAX_LINEAGE
) -> list[int]:
    """The lots a batch comes from: the ancestors with no parents (the batch itself if it has none)."""
    return [b for b in lineage(batch_id, parents_of, limit) if not parents_of(b)]


def lineage_origins(roots: Sequence[int], registered_by: Mapping[int, str]) -> list[str]:
    """Who registered the lots a batch comes from: each root's producer, once, in root order.

    A merged lot has several; it counts as from registered producers only if every one of them is.
    """
    origins: list[str] = []
    for root in roots:
        producer = registered_by.get(root)
        if producer is not None and producer not in origins:
            origins.append(producer)
    return origins
