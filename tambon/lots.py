"""A produce lot's public identity, decided once for labels, QR codes, EPCIS, FSMA 204, EUDR, the
resolver and the verify page (schemas/record/README.md, "Lot identity").

    ident = identify(7, records, fallback_gtin=crop_gtin)     # records of batch 7, in chain order
    ident.uri("https://verify.example")   # .../01/08851234000012/10/TH-MG-260402-A/21/7

- GTIN (AI 01): the `commodity.gtin` the batch's records name (the latest one), else its split
  parent's, else the crop's GTIN under the site's GS1 company prefix.
- Lot (AI 10): the `traceability_lot_code` its records assign (the latest one), else its split
  parent's (a box split from a packed lot stays in that lot). None until a record assigns one.
- Serial (AI 21): the batch token id. A token id is never a lot: `/10/9` names lot "9", not batch 9.

`LotIndex` answers "which batches carry (GTIN, lot)": the resolver's lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tambon import gs1

#: GS1's canonical resolver: EPCIS names lots and items with Digital Link URIs on it
GS1_ID = "https://id.gs1.org"


@dataclass(frozen=True, slots=True)
class LotIdentity:
    """GTIN-14 + traceability lot code (None before one is assigned) + the batch token id (serial)."""

    gtin: str
    lot: str | None
    batch_id: int

    @property
    def serial(self) -> str:
        return str(self.batch_id)

    @property
    def path(self) -> str:
        """`/01/{gtin}/10/{lot}/21/{batch id}` (no /10/ before a lot code is assigned)."""
        return gs1.build_path(self.gtin, lot=self.lot, serial=self.serial)

    def uri(self, base: str) -> str:
        """The Digital Link a label's QR code carries."""
        return base.rstrip("/") + self.path

    def class_uri(self, base: str = GS1_ID) -> str:
        """The lot as an EPC class (LGTIN `/01/{gtin}/10/{lot}`; the product class `/01/{gtin}` before
        a lot code is assigned)."""
        return base.rstrip("/") + gs1.build_path(self.gtin, lot=self.lot)

    def instance_uri(self, base: str = GS1_ID) -> str:
        """The batch token as an EPC instance (SGTIN `/01/{gtin}/21/{batch id}`)."""
        return base.rstrip("/") + gs1.build_path(self.gtin, serial=self.serial)

    @property
    def element_string(self) -> str:
        """Human-readable interpretation printed under a barcode: `(01)…(10)…(21)…`."""
        lot = f"(10){self.lot}" if self.lot else ""
        return f"(01){self.gtin}{lot}(21){self.serial}"


def record_gtin(record: Mapping[str, Any]) -> str | None:
    """The GTIN-14 a record names (`commodity.gtin`), or None."""
    commodity = record.get("commodity")
    value = commodity.get("gtin") if isinstance(commodity, Mapping) else None
    return gs1.normalise_gtin(value) if isinstance(value, str) and value.strip() else None


def record_lot(record: Mapping[str, Any]) -> str | None:
    """The traceability lot code a record assigns, or None."""
    value = record.get("traceability_lot_code")
    return value.strip() if isinstance(value, str) and value.strip() else None


def identify(
    batch_id: int,
    records: Iterable[Mapping[str, Any] | None],
    *,
    inherited: LotIdentity | None = None,
    fallback_gtin: str | None = None,
) -> LotIdentity:
    """A batch's identity from its records in chain order; `inherited` is its split parent's identity
    (None for a registered or merged batch), `fallback_gtin` the crop's GTIN."""
    gtin = lot = None
    for record in records:
        if record:
            gtin = record_gtin(record) or gtin
            lot = record_lot(record) or lot
    if inherited is not None:
        gtin, lot = gtin or inherited.gtin, lot or inherited.lot
    gtin = gtin or (gs1.normalise_gtin(fallback_gtin) if fallback_gtin else None)
    if gtin is None:
        raise gs1.InvalidGtin(f"batch {batch_id}: no record names a GTIN and no crop GTIN is known")
    return LotIdentity(gtin, lot, batch_id)


@dataclass
class LotIndex:
    """(GTIN, lot code) -> the batches that carry it, in chain order (the first assigned the lot;
    later ones are its split boxes). The one lookup the resolver uses."""

    _lots: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    _gtins: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, identities: Iterable[LotIdentity]) -> LotIndex:
        index = cls()
        for ident in sorted(identities, key=lambda i: i.batch_id):
            index._gtins.add(ident.gtin)
            if ident.lot is not None:
                index._lots.setdefault((ident.gtin, ident.lot), []).append(ident.batch_id)
        return index

    def batches(self, gtin: str, lot: str) -> list[int]:
        return list(self._lots.get((gs1.normalise_gtin(gtin), lot), ()))

    def knows_gtin(self, gtin: str) -> bool:
        return gs1.normalise_gtin(gtin) in self._gtins

    def lots_of(self, gtin: str) -> list[str]:
        key = gs1.normalise_gtin(gtin)
        return [lot for (g, lot) in self._lots if g == key]
