"""The JSON API's public response shapes (OpenAPI shows them): built from the core's and services'
objects field by field, so renaming an internal field cannot change what clients read."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from frontend.services.grants import Dashboard, GrantView, Point
from frontend.services.wallet import TxRequest
from tambon.grants import Milestone
from tambon.tokens import Token

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
