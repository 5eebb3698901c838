"""The JSON API's public response shapes (OpenAPI shows them): built from the core's and services'
objects field by field, so renaming an internal field cannot change what clients read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from frontend.services.batches import AttestationView, BatchHistory, EvidenceRef, Party, Step, Transfer
from frontend.services.chain import Head
from frontend.services.coldchain import ColdChainView
from frontend.services.evidence import FileRef
from frontend.services.grants import Dashboard, GrantView, Point
from frontend.services.wallet import TxRequest
from tambon import gs1
from tambon.attestation import ATTESTATION_FIELDS, RegistryStruct
from tambon.grants import Milestone
from tambon.tokens import Token
from tambon.verify import Check

MilestoneStatusName = Literal["PENDING", "SUBMITTED", "PAID", "REJECTED", "ESCALATED"]


class TokenOut(BaseModel):
    address: str = Field(description="checksummed ERC-20 address; the zero address for ETH")
    symbol: str
    decimals: int
    currency: str | None = Field(description="ISO 4217 code a stablecoin of this deployment stands for")
    sign: str | None = Field(description="currency sign amounts are printed with (฿)")

    @classmethod
    def of(cls, token: Token) -> TokenOut:
        return cls(
            address=token.address,
            symbol=token.symbol,
            decimals=token.decimals,
            currency=token.currency,
            sign=token.sign,
        )


class MilestoneOut(BaseModel):
    grant_id: int
    milestone_id: int
    amount: int = Field(description="in the token's base units")
    deadline: int = Field(description="unix time")
    status: MilestoneStatusName
    nonce: int
    submitted_at: int = Field(description="unix time of the last submission, 0 if none")
    evidence_cid: str | None
    evidence_url: str | None
    rejection_cid: str | None = Field(description="CID of the council's reason for the last rejection")

    @classmethod
    def of(cls, m: Milestone, gateway_url: str) -> MilestoneOut:
        return cls(
            grant_id=m.grant_id,
            milestone_id=m.milestone_id,
            amount=m.amount,
            deadline=m.deadline,
            status=m.status.name,  # type: ignore[arg-type]  # MilestoneStatus names are the Literal's
            nonce=m.nonce,
            submitted_at=m.submitted_at,
            evidence_cid=m.evidence,
            evidence_url=f"{gateway_url}/ipfs/{m.evidence}" if m.evidence else None,
            rejection_cid=m.rejection_cid,
        )


class GrantOut(BaseModel):
    grant_id: int
    recipient: str
    recipient_name: str | None = Field(description="the community's registered name, if it is a producer")
    token: TokenOut
    budget: int
    funded: int
    paid: int
    cancelled: bool
    milestones: list[MilestoneOut]

    @classmethod
    def of(cls, view: GrantView, gateway_url: str) -> GrantOut:
        g = view.grant
        return cls(
            grant_id=g.grant_id,
            recipient=g.recipient,
            recipient_name=view.recipient_name,
            token=TokenOut.of(view.token),
            budget=g.budget,
            funded=g.funded,
            paid=g.paid,
            cancelled=g.cancelled,
            milestones=[MilestoneOut.of(m, gateway_url) for m in view.milestones],
        )


class TotalsOut(BaseModel):
    budget: int
    funded: int
    released: int
    pending: int = Field(description="amounts of milestones awaiting the council")


class PointOut(BaseModel):
    timestamp: int
    funded: int = Field(description="cumulative")
    released: int = Field(description="cumulative")

    @classmethod
    def of(cls, p: Point) -> PointOut:
        return cls(timestamp=p.timestamp, funded=p.funded, released=p.released)


class TokenMoneyOut(BaseModel):
    token: TokenOut
    totals: TotalsOut
    series: list[PointOut] = Field(
        description="one point per Funded or MilestoneReleased event, in chain order"
    )


class CouncilOut(BaseModel):
    members: list[str]
    threshold: int


class CommunityOut(BaseModel):
    address: str
    name: str | None
    grants: list[int]


class GrantsOut(BaseModel):
    block: int
    council: CouncilOut
    money: list[TokenMoneyOut] = Field(description="per token (two tokens with one symbol stay apart)")
    grants: list[GrantOut]
    communities: list[CommunityOut]

    @classmethod
    def of(cls, board: Dashboard, gateway_url: str) -> GrantsOut:
        money = []
        for address, token in sorted(board.tokens.items(), key=lambda item: (item[1].symbol, item[0])):
            t = board.totals(address)
            money.append(
                TokenMoneyOut(
                    token=TokenOut.of(token),
                    totals=TotalsOut(
                        budget=t.budget, funded=t.funded, released=t.released, pending=t.pending
                    ),
                    series=[PointOut.of(p) for p in board.series[address]],
                )
            )
        return cls(
            block=board.head.number,
            council=CouncilOut(members=board.members, threshold=board.threshold),
            money=money,
            grants=[GrantOut.of(g, gateway_url) for g in board.grants],
            communities=[
                CommunityOut(address=c.address, name=c.name, grants=[g.grant.grant_id for g in c.grants])
                for c in board.communities
            ],
        )


class TxRequestOut(BaseModel):
    """What `eth_sendTransaction` gets (hex strings, as EIP-1193 wallets expect)."""

    to: str
    data: str
    value: str
    chainId: str  # noqa: N815 (EIP-1193 field name)

    @classmethod
    def of(cls, tx: TxRequest) -> TxRequestOut:
        return cls(to=tx.to, data=tx.data, value=tx.value, chainId=tx.chainId)


class SigningStatusOut(BaseModel):
    grant_id: int
    milestone_id: int
    nonce: int
    deadline: int = Field(description="unix time the signatures of this round expire")
    signers: list[str] = Field(description="current council members who have signed")
    threshold: int
    ready: bool = Field(description="enough signatures to send")


class ReleaseRoundOut(SigningStatusOut):
    typed_data: dict[str, Any] = Field(description="the exact eth_signTypedData_v4 JSON members sign")


class RejectionOut(BaseModel):
    open: bool
    reason_cid: str | None = None
    reason: str | None = Field(default=None, description="the reason's text, as the community reads it")
    typed_data: dict[str, Any] | None = None
    signers: list[str]
    threshold: int
    ready: bool


class ReceiptOut(BaseModel):
    tx_hash: str
    status: Literal["pending", "success", "reverted"]
    block: int | None = Field(default=None, description="the block it was mined in, once mined")
    chain_id: int


class UploadOut(BaseModel):
    cid: str
    digest: str = Field(description="0x + the CID's sha2-256 digest, as the contracts store it")
    codec: int
    files: list[str]
    url: str


class CapturedStepOut(UploadOut):
    tx: TxRequestOut = Field(description="addStep for the holder's wallet (eth_sendTransaction)")


class HeldBatchOut(BaseModel):
    batch_id: int
    label: str = Field(description="how the page lists it, in the page language")
    crop: str
    lot: str | None = Field(None, description="its traceability lot code, once a record assigns one")
    harvest_day: str = Field(description="ISO date")


class HeldBatchesOut(BaseModel):
    holder: str
    batches: list[HeldBatchOut] = Field(description="open lots the holder may add steps to")


class ValidRecordOut(BaseModel):
    valid: Literal[True]
    schema_version: str
    event: str


class SignInMessageOut(BaseModel):
    message: str = Field(description="the EIP-4361 text to sign with personal_sign")
    nonce: str


class SessionOut(BaseModel):
    address: str
    expires: int = Field(description="unix time the session ends")


class SignedInOut(SessionOut):
    roles: list[str] = Field(
        description="what the account may upload for: council, community, producer, holder"
    )


class SignedOutOut(BaseModel):
    signed_out: Literal[True]


# GET /api/batches/{id}: a batch's verified history


def signed_message_model(name: str, fields: tuple[tuple[str, str, str], ...], doc: str) -> type[BaseModel]:
    """A model of a signed struct's EIP-712 message, one property per field under its contract name
    (bytes as 0x-hex), derived from the core's field list: a new signed field needs nothing here."""
    properties: dict[str, Any] = {
        key: (str, Field(description=f"{kind}, 0x-hex"))
        if kind.startswith("bytes")
        else (int, Field(description=kind))
        for _, key, kind in fields
    }
    return create_model(name, __doc__=doc, **properties)


AttestationMessageOut = signed_message_model(
    "AttestationMessageOut",
    ATTESTATION_FIELDS,
    "The `Attestation` the oracle signed, field for field as the registry's EIP-712 type names them.",
)


def _message(struct: RegistryStruct) -> dict[str, Any]:
    return {
        key: "0x" + value.hex() if isinstance(value, bytes) else value
        for key, value in struct.message().items()
    }


class HeadOut(BaseModel):
    number: int
    hash: str
    timestamp: int = Field(description="unix time")

    @classmethod
    def of(cls, head: Head) -> HeadOut:
        return cls(number=head.number, hash=head.hash, timestamp=head.timestamp)


class PartyOut(BaseModel):
    address: str
    name: str | None = Field(description="the registered community enterprise's name")
    registration_id: str | None
    status: Literal["registered", "revoked", "unregistered"]
    registered_at: int = Field(description="unix time, 0 if never registered")
    revoked_at: int = Field(description="unix time, 0 if not revoked")

    @classmethod
    def of(cls, party: Party) -> PartyOut:
        return cls(
            address=party.address,
            name=party.name,
            registration_id=party.registration_id,
            status=party.status,  # type: ignore[arg-type]  # Party.status is one of the Literal's values
            registered_at=party.registered_at,
            revoked_at=party.revoked_at,
        )


class CheckOut(BaseModel):
    name: str = Field(description="evidence | signature | key | model | graded_evidence | producer")
    status: Literal["pass", "fail", "unknown"]
    detail: str

    @classmethod
    def of(cls, check: Check) -> CheckOut:
        return cls(name=check.name, status=check.status, detail=check.detail)  # type: ignore[arg-type]


class FileOut(BaseModel):
    name: str
    size: int
    url: str
    is_image: bool
    thumb: str = Field(description="the site's thumbnail route of an image, else empty")

    @classmethod
    def of(cls, file: FileRef) -> FileOut:
        return cls(name=file.name, size=file.size, url=file.url, is_image=file.is_image, thumb=file.thumb)


class EvidenceOut(BaseModel):
    cid: str | None
    check: CheckOut = Field(description="whether every block of the evidence hashes to its on-chain CID")
    files: list[FileOut]
    record: dict[str, Any] | None = Field(description="its record.json (or a JSON document), as stored")
    url: str = Field(description="the evidence on the gateway")
    checked_at: float = Field(description="unix time it was last proven (or found unavailable)")
    unavailable_since: float = Field(
        description="unix time since when it has not been served intact, 0 if it has"
    )

    @classmethod
    def of(cls, ref: EvidenceRef) -> EvidenceOut:
        return cls(
            cid=ref.cid,
            check=CheckOut.of(ref.check),
            files=[FileOut.of(f) for f in ref.files],
            record=dict(ref.record) if ref.record is not None else None,
            url=ref.url,
            checked_at=ref.checked_at,
            unavailable_since=ref.unavailable_since,
        )


class StepOut(BaseModel):
    batch_id: int
    index: int
    stage: str = Field(description="value-chain stage name (tambon.provenance.Stage)")
    actor: str
    timestamp: int = Field(description="unix time of its block")
    tx_hash: str
    data: int = Field(description="the step's data word (TRANSPORT: min/max temperature)")
    evidence: EvidenceOut
    temp_min_c: float | None
    temp_max_c: float | None

    @classmethod
    def of(cls, step: Step) -> StepOut:
        return cls(
            batch_id=step.batch_id,
            index=step.index,
            stage=step.stage,
            actor=step.actor,
            timestamp=step.timestamp,
            tx_hash=step.tx_hash,
            data=step.data,
            evidence=EvidenceOut.of(step.evidence),
            temp_min_c=step.temp_min_c,
            temp_max_c=step.temp_max_c,
        )


class StageOut(BaseModel):
    stage: str
    steps: list[StepOut] = Field(description="in time order")


class TransferOut(BaseModel):
    batch_id: int
    sender: str
    receiver: str
    timestamp: int
    tx_hash: str

    @classmethod
    def of(cls, t: Transfer) -> TransferOut:
        return cls(
            batch_id=t.batch_id,
            sender=t.sender,
            receiver=t.receiver,
            timestamp=t.timestamp,
            tx_hash=t.tx_hash,
        )


class OverlayOut(BaseModel):
    photo: str
    url: str = Field(description="the oracle's overlay (outline and defect regions) on the gateway")
    thumb: str


class AttestationOut(BaseModel):
    message: AttestationMessageOut  # type: ignore[valid-type]  # a model class built from the core's fields
    grade: str = Field(description="the grade's name (tambon.attestation.Grade)")
    signer: str = Field(description="the oracle key that signed it")
    attested_at: int = Field(description="unix time of the block that recorded it")
    tx_hash: str
    evidence: EvidenceOut = Field(description="the graded evidence")
    checks: list[CheckOut]
    overlays: list[OverlayOut]

    @classmethod
    def of(cls, view: AttestationView) -> AttestationOut:
        return cls(
            message=AttestationMessageOut(**_message(view.attestation)),
            grade=view.grade,
            signer=view.signer,
            attested_at=view.attested_at,
            tx_hash=view.tx_hash,
            evidence=EvidenceOut.of(view.evidence),
            checks=[CheckOut.of(c) for c in view.checks],
            overlays=[OverlayOut(photo=photo, url=url, thumb=thumb) for photo, url, thumb in view.overlays],
        )


class ColdChainOut(BaseModel):
    batch_id: int
    log_cid: str = Field(description="0x sha2-256 digest of the TRANSPORT step's evidence CID")
    signer: str
    verdict: str
    minutes_out_of_range: int
    mkt_c: float = Field(description="mean kinetic temperature")
    shelf_life_days: int
    rules_sha256: str
    analysed_at: int
    attested_at: int
    tx_hash: str
    evidence: EvidenceOut
    checks: list[CheckOut]
    report: dict[str, Any] | None = Field(
        description="the oracle's analysis of the log, as it publishes it (None when the log cannot be fetched)"
    )

    @classmethod
    def of(cls, view: ColdChainView) -> ColdChainOut:
        return cls(
            batch_id=view.batch_id,
            log_cid=view.log_cid,
            signer=view.signer,
            verdict=view.verdict,
            minutes_out_of_range=view.minutes_out_of_range,
            mkt_c=view.mkt_c,
            shelf_life_days=view.shelf_life_days,
            rules_sha256=view.rules_sha256,
            analysed_at=view.analysed_at,
            attested_at=view.attested_at,
            tx_hash=view.tx_hash,
            evidence=EvidenceOut.of(view.evidence),
            checks=[CheckOut.of(c) for c in view.checks],
            report=view.report.as_json() if view.report is not None else None,
        )


class AttributeOut(BaseModel):
    trait_type: str
    value: str


class MetadataOut(BaseModel):
    """The ERC-721 metadata fields the verify page shows."""

    name: str | None
    description: str | None
    image: str | None = Field(description="the image on the gateway (ipfs:// images only)")
    banner: str | None = Field(description="the site's proven banner route when the image lies in a bundle")
    attributes: list[AttributeOut]
    evidence: tuple[str, str] | None = Field(description="(CID, path) of the evidence bundle it links")


class SummaryOut(BaseModel):
    pass_: int = Field(alias="pass")
    fail: int
    unknown: int


class BatchOut(BaseModel):
    """A batch's verified history: producer, custody, timeline by stage, grades and every check."""

    batch_id: int
    head: HeadOut = Field(description="the block it was read at")
    producer: PartyOut
    grower: PartyOut
    holder: PartyOut
    origins: list[PartyOut] = Field(
        description="every producer the lot comes from (a merged lot has several)"
    )
    parties: dict[str, PartyOut] = Field(description="every address named in the history, by address")
    crop: int
    crop_label: str
    quantity_grams: int
    harvest_day: str = Field(description="ISO date")
    step_count: int
    closed: bool = Field(description="sold: a MARKETING step closed it")
    consumed: bool = Field(description="split or merged into other lots")
    parents: list[int]
    children: list[int]
    lineage: list[int]
    gtin: str
    lot: str | None = Field(description="its traceability lot code, once a record assigns one")
    digital_link: str
    metadata: MetadataOut
    metadata_evidence: EvidenceOut
    registered_at: int
    steps: list[StepOut]
    stages: list[StageOut] = Field(description="the steps grouped by value-chain stage, in stage order")
    transfers: list[TransferOut]
    attestations: list[AttestationOut]
    coldchain: list[ColdChainOut]
    checks: list[CheckOut]
    summary: SummaryOut

    @classmethod
    def of(cls, h: BatchHistory) -> BatchOut:
        return cls(
            batch_id=h.batch_id,
            head=HeadOut.of(h.head),
            producer=PartyOut.of(h.producer),
            grower=PartyOut.of(h.grower),
            holder=PartyOut.of(h.holder),
            origins=[PartyOut.of(p) for p in h.origins],
            parties={address: PartyOut.of(p) for address, p in h.parties.items()},
            crop=h.crop,
            crop_label=h.crop_label,
            quantity_grams=h.quantity_grams,
            harvest_day=h.harvest_day.isoformat(),
            step_count=h.step_count,
            closed=h.closed,
            consumed=h.consumed,
            parents=h.parents,
            children=h.children,
            lineage=h.lineage,
            gtin=h.gtin,
            lot=h.lot,
            digital_link=h.digital_link,
            metadata=MetadataOut(**h.metadata),
            metadata_evidence=EvidenceOut.of(h.metadata_evidence),
            registered_at=h.registered_at,
            steps=[StepOut.of(s) for s in h.steps],
            stages=[
                StageOut(stage=stage, steps=[StepOut.of(s) for s in steps]) for stage, steps in h.stages()
            ],
            transfers=[TransferOut.of(t) for t in h.transfers],
            attestations=[AttestationOut.of(a) for a in h.attestations],
            coldchain=[ColdChainOut.of(c) for c in h.coldchain],
            checks=[CheckOut.of(c) for c in h.checks],
            summary=SummaryOut.model_validate(h.summary),
        )


# The GS1 Digital Link resolver's JSON answers


class LinkOut(BaseModel):
    href: str
    title: str
    type: str = Field(description="media type of the target")
    hreflang: list[str] | None = None


def _linkset_entry_model() -> type[BaseModel]:
    """One linkset entry in GS1's profile: a property per link type this resolver offers, named by
    its GS1 vocabulary URI (derived from `tambon.gs1.LINK_TYPES`)."""
    links: dict[str, Any] = {
        short: (
            list[LinkOut] | None,
            Field(None, alias=gs1.link_type_uri(short), description=f"{curie} links"),
        )
        for short, curie in gs1.LINK_TYPES.items()
    }
    return create_model(
        "LinksetEntryOut",
        __config__=ConfigDict(populate_by_name=True),
        __doc__="The links of one item (RFC 9264 linkset entry, GS1 resolver profile).",
        anchor=(str, Field(description="the item's canonical Digital Link")),
        itemDescription=(str, ...),
        defaultLink=(list[LinkOut], Field(alias=gs1.GS1_VOC + "defaultLink")),
        **links,
    )


LinksetEntryOut = _linkset_entry_model()


class LinksetOut(BaseModel):
    """What `linkType=all` or `Accept: application/linkset+json` answers (RFC 9264)."""

    linkset: list[LinksetEntryOut]  # type: ignore[valid-type]  # a model class built from the link types

    @classmethod
    def of(cls, links: Mapping[str, list[dict[str, Any]]], anchor: str, description: str) -> LinksetOut:
        entry = LinksetEntryOut(
            anchor=anchor, itemDescription=description, defaultLink=[links["pip"][0]], **links
        )
        return cls(linkset=[entry])

    def body(self) -> dict[str, Any]:
        """The JSON as GS1 names it (vocabulary URIs; link types not offered left out)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class SupportedLinkTypeOut(BaseModel):
    namespace: str
    prefix: str
    linkType: str  # noqa: N815 (GS1 resolver description field names)
    shortName: str  # noqa: N815


class ResolverDescriptionOut(BaseModel):
    """`/.well-known/gs1resolver` (GS1-Conformant Resolver 1.1 description file)."""

    name: str
    resolverRoot: str  # noqa: N815 (GS1 field names, as below)
    supportedPrimaryKeys: list[str]  # noqa: N815
    supportedQualifiers: dict[str, list[str]]  # noqa: N815
    supportedLinkType: list[SupportedLinkTypeOut]  # noqa: N815
    linkTypeDefaultCanBeLinkset: bool  # noqa: N815
    linksetMediaType: str  # noqa: N815
    jsonLdContextLocation: str  # noqa: N815
    defaultLinkType: str  # noqa: N815
    languages: list[str]
    identity: dict[str, str] = Field(description="what GTIN, lot and serial stand for on this site")
