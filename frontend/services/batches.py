"""A batch's verifiable history, rebuilt from chain facts and the evidence store.

`BatchService.history()` reads the facts from the chain index (`tambon.index`) when the site has
one, else straight from the node (views + logs at the pinned head); the functions above it are pure
and turn events and facts into what the verify page shows. The checks themselves (evidence,
signature, key, model, graded evidence, producer) are the core's (`tambon.verify`), so the page and
`tambon verify batch` always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from eth_utils import to_checksum_address

from evidence.bundle import evidence_link
from frontend.errors import NotFound
from frontend.i18n import day_to_date
from frontend.services import gs1
from frontend.services.catalog import crop_label
from frontend.services.chain import ChainReader, Event, Head, topic_uint
from frontend.services.evidence import IMAGE_SUFFIXES, PASS, EvidenceService, Proof
from tambon.attestation import Attestation
from tambon.cid import DAG_PB, RAW, OnchainCid, cid_string
from tambon.errors import TambonError
from tambon.index.reader import BatchFacts, IndexReader
from tambon.provenance import Stage, decode_transport, lineage, lineage_origins, lineage_roots, stage_name
from tambon.verify import (
    Check,
    evidence_check,
    graded_evidence_check,
    key_check,
    model_check,
    producer_check,
    signature_check,
    summary,
)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True, slots=True)
class Party:
    address: str
    name: str | None = None
    registration_id: str | None = None
    status: str = "unregistered"  # registered | revoked | unregistered
    registered_at: int = 0
    revoked_at: int = 0


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    cid: str | None
    check: Check
    files: tuple = ()
    record: Mapping | None = None
    url: str = ""
    checked_at: float = 0.0  # when the evidence was last proven (or found unavailable)
    unavailable_since: float = 0.0  # proven once, not served intact since then


@dataclass(frozen=True, slots=True)
class Step:
    batch_id: int
    index: int
    stage: str
    actor: str
    timestamp: int
    tx_hash: str
    data: int
    evidence: EvidenceRef
    temp_min_c: float | None = None
    temp_max_c: float | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    batch_id: int
    sender: str
    receiver: str
    timestamp: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class AttestationView:
    """A grading attestation as the page shows it: the signed fields as the core holds them (a new
    field of `tambon.attestation.Attestation` needs nothing here) and what the site found about them."""

    attestation: Attestation
    signer: str
    attested_at: int
    tx_hash: str
    evidence: EvidenceRef
    checks: tuple[Check, ...]
    #: (photo name, URL of the oracle's overlay: outline and defect regions) per graded photo
    overlays: tuple[tuple[str, str, str], ...] = ()  # (photo name, overlay URL, its thumbnail route)

    @property
    def grade(self) -> str:
        return self.attestation.grade.name

    @property
    def ok(self) -> bool:
        return all(c.status == PASS for c in self.checks)


@dataclass
class BatchHistory:
    batch_id: int
    head: Head
    producer: Party
    grower: Party
    holder: Party
    crop: int
    crop_label: str
    quantity_grams: int
    harvest_day: date
    step_count: int
    closed: bool
    consumed: bool
    parents: list[int]
    children: list[int]
    lineage: list[int]
    gtin: str
    digital_link: str
    metadata: dict[str, Any]
    metadata_evidence: EvidenceRef
    registered_at: int
    steps: list[Step] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    attestations: list[AttestationView] = field(default_factory=list)
    coldchain: list[Any] = field(default_factory=list)  # frontend.services.coldchain.ColdChainView
    parties: dict[str, Party] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    times: dict[str, int] = field(default_factory=dict)
    lot: str | None = None  # traceability lot code (tambon.lots), set with gtin/digital_link by the site
    #: every producer the lot comes from (a merged lot has several); `grower` is the first
    origins: list[Party] = field(default_factory=list)

    @property
    def checks(self) -> list[Check]:
        out = [
            self.metadata_evidence.check,
            *(producer_check(o.status, o.registration_id) for o in self.origins or [self.grower]),
        ]
        out += [s.evidence.check for s in self.steps]
        for a in self.attestations:
            out += list(a.checks)
        return out

    @property
    def summary(self) -> dict[str, int]:
        return summary(self.checks)

    def stages(self) -> list[tuple[str, list[Step]]]:
        return group_by_stage(self.steps)


# pure helpers


def steps_from_events(
    events: Iterable[Event], times: Mapping[str, int], evidence: Callable[[bytes, int], EvidenceRef]
) -> list[Step]:
    out = []
    for e in events:
        if e.name != "StepAdded":
            continue
        stage = stage_name(e.args["stage"])
        tmin = tmax = None
        if stage == Stage.TRANSPORT.name:
            tmin, tmax = decode_transport(e.args["data"])
        out.append(
            Step(
                batch_id=e.args["batchId"],
                index=e.args["index"],
                stage=stage,
                actor=e.args["actor"],
                timestamp=times[e.block_hash],
                tx_hash=e.tx_hash,
                data=e.args["data"],
                evidence=evidence(e.args["evidence"], e.args["codec"]),
                temp_min_c=tmin,
                temp_max_c=tmax,
            )
        )
    return out


def group_by_stage(steps: Iterable[Step]) -> list[tuple[str, list[Step]]]:
    """Steps grouped by value-chain stage in Table 3 order; each group in time order."""
    groups: dict[str, list[Step]] = {}
    for step in sorted(steps, key=lambda s: (s.timestamp, s.batch_id, s.index)):
        groups.setdefault(step.stage, []).append(step)
    order = {stage.name: stage.value for stage in Stage}
    return sorted(groups.items(), key=lambda kv: order.get(kv[0], len(order)))


def transfers_from_events(events: Iterable[Event], times: Mapping[str, int]) -> list[Transfer]:
    """Custody changes (mints excluded: registration is shown on its own)."""
    return [
        Transfer(e.args["tokenId"], e.args["sender"], e.args["receiver"], times[e.block_hash], e.tx_hash)
        for e in events
        if e.name == "Transfer" and e.args["sender"] != ZERO_ADDRESS
    ]


def metadata_view(document: Mapping | None, evidence: EvidenceService) -> dict[str, Any]:
    """The ERC-721 metadata fields the page shows; only ipfs:// images are linked (via the gateway)."""
    if not document:
        return {
            "name": None,
            "description": None,
            "image": None,
            "banner": None,
            "attributes": [],
            "evidence": None,
        }
    image = _ipfs_to_gateway(document.get("image"), evidence)
    located = _ipfs_cid(document.get("image"))
    # an image inside a bundle gets the site's proven, resized banners; a bare file CID is linked as is
    banner = (
        f"/thumb/{located[0]}/{quote(located[1])}"
        if located and located[1].lower().endswith(IMAGE_SUFFIXES)
        else None
    )
    attributes = []
    for item in document.get("attributes") or []:
        if isinstance(item, Mapping) and "value" in item:
            attributes.append(
                {"trait_type": str(item.get("trait_type", ""))[:80], "value": str(item["value"])[:200]}
            )
    linked = evidence_link(document)
    return {
        "name": str(document.get("name", ""))[:200] or None,
        "description": str(document.get("description", ""))[:2000] or None,
        "image": image,
        "banner": banner,
        "attributes": attributes[:40],
        "evidence": _ipfs_cid(linked),
    }


def _ipfs_cid(uri: Any) -> tuple[str, str] | None:
    """(cid, path) of an `ipfs://<cid>/<path>` URI with a valid CID, else None."""
    if not isinstance(uri, str) or not uri.startswith("ipfs://"):
        return None
    cid, _, path = uri.removeprefix("ipfs://").partition("/")
    try:
        OnchainCid.parse(cid)
    except TambonError:
        return None
    return cid, path


def _ipfs_to_gateway(uri: Any, evidence: EvidenceService) -> str | None:
    parsed = _ipfs_cid(uri)
    return evidence.url(*parsed) if parsed else None


def evidence_ref(proof: Proof | None) -> EvidenceRef:
    if proof is None:
        return EvidenceRef(None, evidence_check(None, ""))
    return EvidenceRef(
        proof.cid,
        evidence_check(proof.status, proof.detail),
        proof.files,
        proof.record,
        proof.url,
        proof.checked_at,
        proof.unavailable_since,
    )


@dataclass(frozen=True, slots=True)
class Label:
    batch_id: int
    gtin: str
    uri: str
    crop_label: str
    quantity_grams: int
    harvest_day: date
    lot: str | None = None  # traceability lot code (tambon.lots)


# reading


def _party(facts: Facts, address: str) -> Party:
    address = to_checksum_address(address)
    reg_id, name, registered_at, revoked_at = facts.producer(address)
    if not registered_at:
        return Party(address)
    status = "revoked" if revoked_at else "registered"
    return Party(address, name, reg_id, status, registered_at, revoked_at)


class ChainFacts:
    """Batch facts read from the node at a pinned head (views + logs), cached under that head."""

    def __init__(self, reader: ChainReader, head: Head) -> None:
        self.reader, self.head = reader, head

    def _call(self, fn: Any, key: tuple) -> Any:
        return self.reader.call(self.head, fn, key=key)

    def batch(self, batch_id: int) -> BatchFacts | None:
        p = self.reader.provenance
        if not self._call(p.functions.exists(batch_id), ("exists", batch_id)):
            return None
        info = self._call(p.functions.batch(batch_id), ("batch", batch_id))
        producer, holder, digest, codec, crop, quantity, day, step_count, closed, consumed, _ = info
        return BatchFacts(
            batch_id,
            producer,
            holder,
            bytes(digest),
            codec,
            crop,
            quantity,
            day,
            step_count,
            closed,
            consumed,
        )

    def parents(self, batch_id: int) -> list[int]:
        p = self.reader.provenance
        return list(self._call(p.functions.parentsOf(batch_id), ("parents", batch_id)))

    def children(self, batch_id: int) -> list[int]:
        p = self.reader.provenance
        first, count = self._call(p.functions.childrenOf(batch_id), ("children", batch_id))
        return list(range(first, first + count)) if count else []

    def provenance_events(self, ids: list[int]) -> list[Event]:
        r, p = self.reader, self.reader.provenance
        id_topics = [topic_uint(i) for i in ids]
        own = [r.topic(p, n) for n in ("BatchRegistered", "StepAdded", "Split", "Merged")]
        events = r.logs(self.head, p, [own, id_topics])
        events += r.logs(self.head, p, [r.topic(p, "Transfer"), None, None, id_topics])
        events.sort(key=lambda e: (e.block_number, e.log_index))
        return events

    def attestation_events(self, ids: list[int]) -> list[Event]:
        r = self.reader
        return r.logs(self.head, r.registry, [r.topic(r.registry, "Attested"), [topic_uint(i) for i in ids]])

    def coldchain_events(self, ids: list[int]) -> list[Event]:
        r = self.reader
        topics = [r.topic(r.registry, "ColdChainAttested"), [topic_uint(i) for i in ids]]
        return r.logs(self.head, r.registry, topics)

    def block_times(self, events: Iterable[Event]) -> dict[str, int]:
        return self.reader.block_times(events)

    def producer(self, address: str) -> tuple[str, str, int, int]:
        p = self.reader.provenance
        return tuple(self._call(p.functions.producerOf(address), ("producer", address)))

    def key_status(self, signer: str) -> tuple[int, int]:
        return tuple(self._call(self.reader.registry.functions.keyStatus(signer), ("key", signer)))

    def model_status(self, model_sha256: bytes) -> tuple[int, int]:
        fn = self.reader.registry.functions.modelStatus(model_sha256)
        return tuple(self._call(fn, ("model", model_sha256)))

    def signed_call(self, tx_hash: str) -> tuple[str, dict[str, Any]] | None:
        return self.reader.decode_input(self.reader.registry, tx_hash)


class IndexFacts:
    """Batch facts from the chain index: a few indexed queries, no node round trip."""

    def __init__(self, index: IndexReader) -> None:
        self.index = index
        self.batch = index.batch
        self.parents = index.parents
        self.children = index.children
        self.provenance_events = index.provenance_events
        self.attestation_events = index.attestation_events
        self.coldchain_events = index.coldchain_events
        self.producer = index.producer
        self.key_status = index.key_status
        self.model_status = index.model_status
        self.signed_call = index.signed_call

    def block_times(self, events: Iterable[Event]) -> dict[str, int]:
        return self.index.block_times(e.block_hash for e in events)


Facts = ChainFacts | IndexFacts


class BatchService:
    def __init__(
        self,
        reader: ChainReader,
        evidence: EvidenceService,
        public_url: str,
        company_prefix: str,
        index: IndexReader | None = None,
    ):
        self.reader = reader
        self.evidence = evidence
        self.public_url = public_url
        self.company_prefix = company_prefix
        self.index = index

    def facts(self, head: Head) -> Facts:
        """The index when the site has one (its head is the index's), else the node at `head`."""
        return IndexFacts(self.index) if self.index is not None else ChainFacts(self.reader, head)

    def _evidence(self, digest: bytes, codec: int) -> EvidenceRef:
        return evidence_ref(self.evidence.prove_onchain(digest, codec))

    def exists(self, head: Head, batch_id: int) -> bool:
        return self.facts(head).batch(batch_id) is not None

    def party(self, head: Head, address: str) -> Party:
        return _party(self.facts(head), address)

    def parents(self, head: Head, batch_id: int) -> list[int]:
        return self.facts(head).parents(batch_id)

    def lineage(self, head: Head, batch_id: int) -> list[int]:
        facts = self.facts(head)
        return lineage(batch_id, facts.parents)

    def label(self, head: Head, batch_id: int) -> Label:
        """What a printed label needs: GTIN, Digital Link URI, crop, weight, harvest day."""
        info = self.facts(head).batch(batch_id)
        if info is None:
            raise NotFound(f"batch {batch_id} does not exist")
        gtin = gs1.gtin_for_crop(info.crop, self.company_prefix)
        uri = gs1.digital_link(self.public_url, gtin, batch_id)
        return Label(
            batch_id, gtin, uri, crop_label(info.crop), info.quantity_grams, day_to_date(info.harvest_day)
        )

    def history(self, head: Head, batch_id: int) -> BatchHistory:
        facts = self.facts(head)
        info = facts.batch(batch_id)
        if info is None:
            raise NotFound(f"batch {batch_id} does not exist")
        parents = facts.parents(batch_id)
        ids = lineage(batch_id, facts.parents)
        events = facts.provenance_events(ids)
        attested = facts.attestation_events(ids)
        verdicts = facts.coldchain_events(ids)
        times = facts.block_times([*events, *attested, *verdicts])

        steps = steps_from_events(events, times, self._evidence)
        known = {bytes(e.args["evidence"]): e.args["codec"] for e in events if "codec" in e.args}
        known.setdefault(info.evidence, info.codec)
        # the batch's own grades first, then its ancestors' (nearest first), each in time order
        rank = {b: i for i, b in enumerate(ids)}
        attested.sort(key=lambda e: (rank.get(e.args["batchId"], len(rank)), e.block_number, e.log_index))
        attestations = [self._attestation(facts, e, times, known) for e in attested]

        registered_at = next(
            (
                times[e.block_hash]
                for e in events
                if e.name == "BatchRegistered" and e.args["batchId"] == batch_id
            ),
            0,
        )
        metadata_proof = self.evidence.prove_onchain(info.evidence, info.codec)
        metadata = metadata_view(
            metadata_proof.record if metadata_proof and metadata_proof.status == PASS else None, self.evidence
        )
        registered_by = {e.args["batchId"]: e.args["producer"] for e in events if e.name == "BatchRegistered"}
        origins = lineage_origins(lineage_roots(batch_id, facts.parents), registered_by) or [info.producer]
        grower = origins[0]
        addresses = {info.producer, info.holder, *origins} | {s.actor for s in steps}
        transfers = transfers_from_events(events, times)
        addresses |= {t.receiver for t in transfers} | {t.sender for t in transfers}
        parties = {a: _party(facts, a) for a in addresses}
        gtin = gs1.gtin_for_crop(info.crop, self.company_prefix)
        return BatchHistory(
            batch_id=batch_id,
            head=head,
            producer=parties[info.producer],
            grower=parties[grower],
            origins=[parties[a] for a in origins],
            holder=parties[info.holder],
            crop=info.crop,
            crop_label=crop_label(info.crop),
            quantity_grams=info.quantity_grams,
            harvest_day=day_to_date(info.harvest_day),
            step_count=info.step_count,
            closed=info.closed,
            consumed=info.consumed,
            parents=parents,
            children=facts.children(batch_id),
            lineage=ids,
            gtin=gtin,
            digital_link=gs1.digital_link(self.public_url, gtin, batch_id),
            metadata=metadata,
            metadata_evidence=evidence_ref(metadata_proof),
            registered_at=registered_at,
            steps=steps,
            transfers=transfers,
            attestations=attestations,
            coldchain=self._coldchain(head, ids, verdicts, events, times),
            parties=parties,
            events=events,
            times=times,
        )

    def _attestation(
        self, facts: Facts, e: Event, times: Mapping[str, int], known: Mapping[bytes, int]
    ) -> AttestationView:
        a = e.args
        att = Attestation.from_message(a)
        attested_at = times[e.block_hash]
        signer = to_checksum_address(a["signer"])
        activated, revoked = facts.key_status(signer)
        approved, model_revoked = facts.model_status(bytes(a["modelSha256"]))
        call = facts.signed_call(e.tx_hash)
        digest = bytes(a["evidence"])
        ev = self._evidence(digest, known[digest]) if digest in known else self._first_provable(digest)
        checks = (
            signature_check(att, signer, call, self.reader.chain_id, self.reader.registry.address),
            key_check(activated, revoked, attested_at),
            model_check(approved, model_revoked, attested_at),
            ev.check,
            graded_evidence_check(digest in known),
        )
        return AttestationView(
            attestation=att,
            signer=signer,
            attested_at=attested_at,
            tx_hash=e.tx_hash,
            evidence=ev,
            checks=checks,
            overlays=self._overlays(digest, ev),
        )

    def _overlays(self, digest: bytes, ev: EvidenceRef) -> tuple[tuple[str, str, str], ...]:
        """The oracle's overlay of each photo, from the explanation it stored beside the evidence."""
        from oracle.explanations import lookup, overlay_name

        cid = lookup("0x" + digest.hex())
        if cid is None:
            return ()
        return tuple(
            (
                f.name,
                self.evidence.url(cid, overlay_name(f.name)),
                f"/thumb/{cid}/{quote(overlay_name(f.name))}",
            )
            for f in ev.files
            if f.is_image
        )

    def _coldchain(
        self, head: Head, ids: list[int], verdicts: list[Event], events: list[Event], times: Mapping[str, int]
    ) -> list[Any]:
        from frontend.services.coldchain import coldchain_views  # it builds on this module's checks

        return coldchain_views(
            self.reader, head, ids, verdicts, events, times, self._evidence, self.evidence.reading_store
        )

    def _first_provable(self, digest: bytes) -> EvidenceRef:
        """The on-chain digest carries no codec here: try a bundle (dag-pb), then a raw file."""
        cids = [cid for cid in (cid_string(digest, c) for c in (DAG_PB, RAW)) if cid is not None]
        return evidence_ref(self.evidence.prove_first_passing(cids) if cids else None)
