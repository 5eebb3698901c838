"""A batch's verifiable history, rebuilt from the chain (views + logs) and the evidence store.

`BatchService.history()` does the reads; the functions above it are pure and turn events and
on-chain records into what the verify page shows, including every check and its result:
- evidence: the bytes the store serves for each on-chain CID prove that CID (CAR, block by block);
- signature: the attestation in the relaying transaction's calldata recovers to the logged signer;
- key: that oracle key was active when the attestation was recorded and has not been revoked since;
- model: the model hash was approved at that time and is still approved;
- graded evidence: what the oracle graded is evidence recorded in this batch's history;
- producer: the minter is a community enterprise registered by the council.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from eth_utils import to_checksum_address

from frontend.errors import NotFound
from frontend.i18n import day_to_date
from frontend.services import gs1
from frontend.services.catalog import GRADES, crop_label
from frontend.services.chain import ChainReader, Event, Head, topic_uint
from frontend.services.evidence import FAIL, PASS, UNKNOWN, EvidenceService, Proof
from tambon.attestation import Attestation, merkle_proof, merkle_root, recover_attestation, recover_batch_item
from tambon.cid import DAG_PB, RAW, OnchainCid
from tambon.errors import SignatureError, TambonError
from tambon.provenance import Stage, decode_transport, lineage, stage_name

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # evidence | signature | key | model | graded_evidence | producer
    status: str  # pass | fail | unknown
    detail: str


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
    batch_id: int
    signer: str
    grade: str
    size_code: int
    confidence_bps: int
    model_sha256: str
    graded_at: int
    attested_at: int
    tx_hash: str
    evidence: EvidenceRef
    checks: tuple[Check, ...]

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
    parties: dict[str, Party] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    times: dict[str, int] = field(default_factory=dict)
    lot: str | None = None  # traceability lot code (tambon.lots), set with gtin/digital_link by the site

    @property
    def checks(self) -> list[Check]:
        out = [self.metadata_evidence.check, producer_check(self.grower)]
        out += [s.evidence.check for s in self.steps]
        for a in self.attestations:
            out += list(a.checks)
        return out

    @property
    def summary(self) -> dict[str, int]:
        counts = {PASS: 0, FAIL: 0, UNKNOWN: 0}
        for c in self.checks:
            counts[c.status] += 1
        return counts

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


def producer_check(producer: Party) -> Check:
    if producer.status == "registered":
        return Check("producer", PASS, f"registered by the council as {producer.registration_id}")
    if producer.status == "revoked":
        return Check("producer", FAIL, "the council revoked this producer's registration")
    return Check("producer", UNKNOWN, "the producer is not a registered community enterprise")


def key_check(activated_at: int, revoked_at: int, attested_at: int) -> Check:
    """The oracle key was active when the attestation was recorded and is not revoked now."""
    if activated_at == 0 or activated_at > attested_at:
        return Check("key", FAIL, "the signing key was not an active oracle key at attestation time")
    if revoked_at and revoked_at < attested_at:
        return Check("key", FAIL, "the signing key was already revoked at attestation time")
    if revoked_at:
        # the registry refuses revoked keys, so a recorded attestation predates the revocation
        return Check(
            "key", FAIL, f"the council revoked this oracle key on {_iso(revoked_at)}, after this attestation"
        )
    return Check("key", PASS, f"oracle key active since {_iso(activated_at)}, not revoked")


def model_check(approved_at: int, revoked_at: int, attested_at: int) -> Check:
    if approved_at == 0 or approved_at > attested_at:
        return Check("model", FAIL, "the model was not approved at attestation time")
    if revoked_at:
        return Check("model", FAIL, f"the council withdrew approval of this model on {_iso(revoked_at)}")
    return Check("model", PASS, f"model approved since {_iso(approved_at)}")


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _attestation_from_args(value: Any) -> Attestation:
    return Attestation.from_message(value) if isinstance(value, Mapping) else Attestation(*value)


def signature_check(
    att: Attestation, signer: str, call: tuple[str, dict[str, Any]] | None, chain_id: int, registry: str
) -> Check:
    """Recover the attestation's signer from the relaying transaction's calldata."""
    if call is None:
        return Check(
            "signature", UNKNOWN, "relayed through another contract; the registry verified it on-chain"
        )
    name, args = call
    try:
        if name == "attest":
            recovered = recover_attestation(att, args["signature"], chain_id, registry)
        elif name == "attestMany":
            items = [_attestation_from_args(a) for a in args["attestations"]]
            index = items.index(att)
            leaves = [a.struct_hash() for a in items]
            root = merkle_root(leaves)
            recovered = recover_batch_item(
                att, merkle_proof(leaves, index), root, len(items), args["signature"], chain_id, registry
            )
        else:
            return Check("signature", UNKNOWN, f"recorded by an unexpected call {name}")
    except (SignatureError, ValueError, TambonError) as exc:
        return Check("signature", FAIL, f"signature does not verify: {exc}")
    if recovered.lower() != signer.lower():
        return Check(
            "signature", FAIL, f"signature recovers to {recovered}, not to the logged signer {signer}"
        )
    return Check("signature", PASS, f"EIP-712 signature recovers to oracle key {recovered}")


def metadata_view(document: Mapping | None, evidence: EvidenceService) -> dict[str, Any]:
    """The ERC-721 metadata fields the page shows; only ipfs:// images are linked (via the gateway)."""
    if not document:
        return {"name": None, "description": None, "image": None, "attributes": [], "evidence": None}
    image = _ipfs_to_gateway(document.get("image"), evidence)
    attributes = []
    for item in document.get("attributes") or []:
        if isinstance(item, Mapping) and "value" in item:
            attributes.append(
                {"trait_type": str(item.get("trait_type", ""))[:80], "value": str(item["value"])[:200]}
            )
    raw_props = document.get("properties")
    props: Mapping[str, Any] = raw_props if isinstance(raw_props, Mapping) else {}
    linked = document.get("evidence") or props.get("evidence")
    return {
        "name": str(document.get("name", ""))[:200] or None,
        "description": str(document.get("description", ""))[:2000] or None,
        "image": image,
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
        return EvidenceRef(None, Check("evidence", UNKNOWN, "no evidence recorded"))
    return EvidenceRef(
        proof.cid,
        Check("evidence", proof.status, proof.detail),
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


class BatchService:
    def __init__(self, reader: ChainReader, evidence: EvidenceService, public_url: str, company_prefix: str):
        self.reader = reader
        self.evidence = evidence
        self.public_url = public_url
        self.company_prefix = company_prefix

    def _evidence(self, digest: bytes, codec: int) -> EvidenceRef:
        return evidence_ref(self.evidence.prove_onchain(digest, codec))

    def exists(self, head: Head, batch_id: int) -> bool:
        p = self.reader.provenance
        return bool(self.reader.call(head, p.functions.exists(batch_id), key=("exists", batch_id)))

    def party(self, head: Head, address: str) -> Party:
        address = to_checksum_address(address)
        p = self.reader.provenance
        reg_id, name, registered_at, revoked_at = self.reader.call(
            head, p.functions.producerOf(address), key=("producer", address)
        )
        if not registered_at:
            return Party(address)
        status = "revoked" if revoked_at else "registered"
        return Party(address, name, reg_id, status, registered_at, revoked_at)

    def parents(self, head: Head, batch_id: int) -> list[int]:
        p = self.reader.provenance
        return list(self.reader.call(head, p.functions.parentsOf(batch_id), key=("parents", batch_id)))

    def label(self, head: Head, batch_id: int) -> Label:
        """What a printed label needs: GTIN, Digital Link URI, crop, weight, harvest day."""
        if not self.exists(head, batch_id):
            raise NotFound(f"batch {batch_id} does not exist")
        info = self.reader.call(
            head, self.reader.provenance.functions.batch(batch_id), key=("batch", batch_id)
        )
        crop, quantity, day = info[4], info[5], info[6]
        gtin = gs1.gtin_for_crop(crop, self.company_prefix)
        uri = gs1.digital_link(self.public_url, gtin, batch_id)
        return Label(batch_id, gtin, uri, crop_label(crop), quantity, day_to_date(day))

    def history(self, head: Head, batch_id: int) -> BatchHistory:
        r = self.reader
        p = r.provenance
        if not self.exists(head, batch_id):
            raise NotFound(f"batch {batch_id} does not exist")
        info = r.call(head, p.functions.batch(batch_id), key=("batch", batch_id))
        (producer, holder, digest, codec, crop, quantity, day, step_count, closed, consumed, _has_parents) = (
            info
        )
        parents = self.parents(head, batch_id)
        first_child, child_count = r.call(head, p.functions.childrenOf(batch_id), key=("children", batch_id))
        ids = lineage(batch_id, lambda b: self.parents(head, b))
        id_topics = [topic_uint(i) for i in ids]
        own = [r.topic(p, n) for n in ("BatchRegistered", "StepAdded", "Split", "Merged")]
        events = r.logs(head, p, [own, id_topics])
        events += r.logs(head, p, [r.topic(p, "Transfer"), None, None, id_topics])
        events.sort(key=lambda e: (e.block_number, e.log_index))
        attested = r.logs(head, r.registry, [r.topic(r.registry, "Attested"), id_topics])
        times = r.block_times([*events, *attested])

        steps = steps_from_events(events, times, self._evidence)
        known = {bytes(e.args["evidence"]): e.args["codec"] for e in events if "codec" in e.args}
        known.setdefault(bytes(digest), codec)
        # the batch's own grades first, then its ancestors' (nearest first), each in time order
        rank = {b: i for i, b in enumerate(ids)}
        attested.sort(key=lambda e: (rank.get(e.args["batchId"], len(rank)), e.block_number, e.log_index))
        attestations = [self._attestation(head, e, times, known) for e in attested]

        registered_at = next(
            (
                times[e.block_hash]
                for e in events
                if e.name == "BatchRegistered" and e.args["batchId"] == batch_id
            ),
            0,
        )
        metadata_proof = self.evidence.prove_onchain(bytes(digest), codec)
        metadata = metadata_view(
            metadata_proof.record if metadata_proof and metadata_proof.status == PASS else None, self.evidence
        )
        roots = [b for b in ids if not self.parents(head, b)]
        grower = next(
            (
                e.args["producer"]
                for e in events
                if e.name == "BatchRegistered" and e.args["batchId"] in roots
            ),
            producer,
        )
        addresses = {producer, holder, grower} | {s.actor for s in steps}
        transfers = transfers_from_events(events, times)
        addresses |= {t.receiver for t in transfers} | {t.sender for t in transfers}
        parties = {a: self.party(head, a) for a in addresses}
        gtin = gs1.gtin_for_crop(crop, self.company_prefix)
        return BatchHistory(
            batch_id=batch_id,
            head=head,
            producer=parties[producer],
            grower=parties[grower],
            holder=parties[holder],
            crop=crop,
            crop_label=crop_label(crop),
            quantity_grams=quantity,
            harvest_day=day_to_date(day),
            step_count=step_count,
            closed=closed,
            consumed=consumed,
            parents=parents,
            children=list(range(first_child, first_child + child_count)) if child_count else [],
            lineage=ids,
            gtin=gtin,
            digital_link=gs1.digital_link(self.public_url, gtin, batch_id),
            metadata=metadata,
            metadata_evidence=evidence_ref(metadata_proof),
            registered_at=registered_at,
            steps=steps,
            transfers=transfers,
            attestations=attestations,
            parties=parties,
            events=events,
            times=times,
        )

    def _attestation(
        self, head: Head, e: Event, times: Mapping[str, int], known: Mapping[bytes, int]
    ) -> AttestationView:
        r = self.reader
        a = e.args
        att = Attestation.from_message(a)
        attested_at = times[e.block_hash]
        signer = to_checksum_address(a["signer"])
        activated, revoked = r.call(head, r.registry.functions.keyStatus(signer), key=("key", signer))
        approved, model_revoked = r.call(
            head, r.registry.functions.modelStatus(a["modelSha256"]), key=("model", bytes(a["modelSha256"]))
        )
        call = r.decode_input(r.registry, e.tx_hash)
        digest = bytes(a["evidence"])
        if digest in known:
            ev = self._evidence(digest, known[digest])
            graded = Check("graded_evidence", PASS, "the graded evidence is recorded in this batch's history")
        else:
            ev = self._first_provable(digest)
            graded = Check("graded_evidence", FAIL, "the graded evidence is not part of this batch's history")
        checks = (
            signature_check(att, signer, call, r.chain_id, r.registry.address),
            key_check(activated, revoked, attested_at),
            model_check(approved, model_revoked, attested_at),
            ev.check,
            graded,
        )
        return AttestationView(
            batch_id=att.batch_id,
            signer=signer,
            grade=GRADES.get(int(att.grade), str(att.grade)),
            size_code=att.size_code,
            confidence_bps=att.confidence_bps,
            model_sha256="0x" + att.model_sha256.hex(),
            graded_at=att.graded_at,
            attested_at=attested_at,
            tx_hash=e.tx_hash,
            evidence=ev,
            checks=checks,
        )

    def _first_provable(self, digest: bytes) -> EvidenceRef:
        """The on-chain digest carries no codec here: try a bundle (dag-pb), then a raw file."""
        refs = [self._evidence(digest, c) for c in (DAG_PB, RAW)]
        for ref in refs:
            if ref.check.status == PASS:
                return ref
        return refs[0]
