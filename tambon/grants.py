"""Grant escrow operations shared by the CLI, the website and the demo.

Pure helpers build the typed data a council member signs and check collected signatures; the
`Grants` class reads and writes the escrow through a `Chain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD
from web3.types import TxReceipt

from tambon.chain import Chain
from tambon.cid import RAW, OnchainCid, cid_string
from tambon.errors import SignatureError, TambonError
from tambon.tokens import ZERO_ADDRESS, Token, erc20, read_token
from tambon.tx import send
from tambon.typed_data import (
    COUNCIL_NONCE_TYPES,
    ESCROW_DOMAIN_NAME,
    ESCROW_TYPES,
    CouncilApproval,
    domain,
    pack_signatures,
    recover,
    sign,
    typed_data,
)

DEFAULT_SIGNATURE_HOURS = 72
#: Typed-data fields that are not arguments of the escrow function carrying the decision.
_SIGNED_ONLY_FIELDS = {"nonce", "deadline", "evidence"}


class GrantError(TambonError):
    """A grant operation cannot be done as asked."""

    http_status = 409


class MilestoneStatus(IntEnum):
    PENDING = 1
    SUBMITTED = 2
    PAID = 3
    REJECTED = 4
    ESCALATED = 5


@dataclass(frozen=True)
class Milestone:
    grant_id: int
    milestone_id: int
    amount: int
    deadline: int
    status: MilestoneStatus
    nonce: int
    submitted_at: int
    evidence: str | None
    rejection_reason: bytes

    @classmethod
    def from_chain(cls, grant_id: int, milestone_id: int, view: Sequence[Any]) -> Milestone:
        """From the escrow's `milestone(grant_id, milestone_id)` view."""
        amount, deadline, status, nonce, submitted_at, evidence, codec, reason = view
        return cls(
            grant_id=grant_id,
            milestone_id=milestone_id,
            amount=amount,
            deadline=deadline,
            status=MilestoneStatus(status),
            nonce=nonce,
            submitted_at=submitted_at,
            evidence=cid_string(evidence, codec) if codec else None,
            rejection_reason=bytes(reason),
        )

    @property
    def under_review(self) -> bool:
        return self.status in (MilestoneStatus.SUBMITTED, MilestoneStatus.ESCALATED)

    def require_under_review(self) -> None:
        """Refuse a council decision on a milestone without a submission awaiting one."""
        if not self.under_review:
            raise GrantError(
                f"milestone {self.milestone_id} of grant {self.grant_id} is {self.status.name.lower()}, "
                "not awaiting a decision"
            )

    @property
    def submittable(self) -> bool:
        """The community may submit (or resubmit) evidence for it."""
        return self.status in (MilestoneStatus.PENDING, MilestoneStatus.REJECTED)

    @property
    def rejection_cid(self) -> str | None:
        """The council's reason for the last rejection: a raw-codec CID of its text in the evidence store."""
        return cid_string(self.rejection_reason, RAW) if any(self.rejection_reason) else None


@dataclass(frozen=True)
class Grant:
    grant_id: int
    recipient: str
    token: str
    budget: int
    funded: int
    paid: int
    milestone_count: int
    cancelled: bool

    @classmethod
    def from_chain(cls, grant_id: int, view: Sequence[Any]) -> Grant:
        """From the escrow's `grant(grant_id)` view."""
        recipient, token, budget, funded, paid, milestone_count, cancelled = view
        return cls(grant_id, recipient, token, budget, funded, paid, milestone_count, cancelled)

    @property
    def is_eth(self) -> bool:
        return self.token == ZERO_ADDRESS


def parse_amount(text: str, decimals: int) -> int:
    """'200,000' or '12.5' token units -> base units; refuses negatives and excess precision."""
    try:
        value = Decimal(text.replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise GrantError(f"not an amount: {text!r}") from None
    scaled = value * (Decimal(10) ** decimals)
    if value <= 0 or scaled != scaled.to_integral_value():
        raise GrantError(f"amount must be positive with at most {decimals} decimals: {text!r}")
    return int(scaled)


def format_amount(base_units: int, decimals: int) -> str:
    whole, fraction = divmod(base_units, 10**decimals)
    fraction_text = f"{fraction:0{decimals}d}".rstrip("0")
    return f"{whole:,}" + (f".{fraction_text}" if fraction_text else "")


def parse_milestone(spec: str, decimals: int) -> tuple[int, int]:
    """'50000@2027-03-31' -> (amount in base units, deadline as unix time at the end of that day, UTC)."""
    amount_text, _, day_text = spec.partition("@")
    if not day_text:
        raise GrantError(f"milestone must be AMOUNT@YYYY-MM-DD, got {spec!r}")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise GrantError(f"not a date: {day_text!r} (use YYYY-MM-DD)") from None
    end_of_day = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
    return parse_amount(amount_text, decimals), int(end_of_day.timestamp())


def release_message(milestone: Milestone, deadline: int) -> dict[str, Any]:
    """The `Release` message council members sign for a milestone under review."""
    milestone.require_under_review()
    return {
        "grantId": milestone.grant_id,
        "milestoneId": milestone.milestone_id,
        "evidence": OnchainCid.parse(milestone.evidence).digest if milestone.evidence else bytes(32),
        "amount": milestone.amount,
        "nonce": milestone.nonce,
        "deadline": deadline,
    }


def reject_message(milestone: Milestone, reason_cid: str, deadline: int) -> dict[str, Any]:
    """The `Reject` message: the release's submission fields with the reason's CID digest in place of the amount."""
    release = release_message(milestone, deadline)
    return {
        "grantId": release["grantId"],
        "milestoneId": release["milestoneId"],
        "evidence": release["evidence"],
        "reason": OnchainCid.parse(reason_cid).digest,
        "nonce": release["nonce"],
        "deadline": deadline,
    }


def collect_approvals(
    data: dict[str, Any], signatures: Sequence[str | bytes], members: list[str]
) -> list[CouncilApproval]:
    """Recover each signature's signer and keep only distinct current members; errors name the culprit."""
    member_set = {m.lower() for m in members}
    approvals: dict[str, CouncilApproval] = {}
    for signature in signatures:
        signer = recover(data, signature)
        if signer.lower() not in member_set:
            raise SignatureError(f"signature from {signer} is not from a council member for this decision")
        raw = bytes.fromhex(signature.removeprefix("0x")) if isinstance(signature, str) else bytes(signature)
        approvals[signer.lower()] = CouncilApproval(signer, raw)
    return list(approvals.values())


class Grants:
    """The escrow of one อปท., through web3."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self.escrow = chain.contract("GrantEscrow")

    # reads

    def domain(self) -> dict[str, Any]:
        return domain(ESCROW_DOMAIN_NAME, self.chain.chain_id, self.escrow.address)

    def count(self) -> int:
        return self.escrow.functions.grant_count().call()

    def grant(self, grant_id: int) -> Grant:
        self._check_grant_id(grant_id)
        return Grant.from_chain(grant_id, self.escrow.functions.grant(grant_id).call())

    def milestone(self, grant_id: int, milestone_id: int) -> Milestone:
        grant = self.grant(grant_id)
        if not 0 <= milestone_id < grant.milestone_count:
            raise GrantError(
                f"grant {grant_id} has milestones 0..{grant.milestone_count - 1}, not {milestone_id}"
            )
        return Milestone.from_chain(
            grant_id, milestone_id, self.escrow.functions.milestone(grant_id, milestone_id).call()
        )

    def milestones(self, grant_id: int) -> list[Milestone]:
        return [self.milestone(grant_id, i) for i in range(self.grant(grant_id).milestone_count)]

    def members(self) -> list[str]:
        return list(self.escrow.functions.members().call())

    def threshold(self) -> int:
        return self.escrow.functions.threshold().call()

    def token(self, address: str) -> Token:
        """The grant token at `address` (ETH for the zero address), with its symbol and decimals."""
        return read_token(self.chain.w3, address, self.chain.deployment)

    def token_decimals(self, token: str) -> int:
        return self.token(token).decimals

    def release_typed_data(
        self, grant_id: int, milestone_id: int, deadline: int | None = None
    ) -> dict[str, Any]:
        deadline = deadline or self.now() + DEFAULT_SIGNATURE_HOURS * 3600
        message = release_message(self.milestone(grant_id, milestone_id), deadline)
        return typed_data("Release", message, self.domain())

    def now(self) -> int:
        """Chain time (the clock deadlines are checked against), not the local clock."""
        return self.chain.w3.eth.get_block("latest")["timestamp"]

    def _check_grant_id(self, grant_id: int) -> None:
        count = self.count()
        if not 0 <= grant_id < count:
            raise GrantError(
                f"no grant {grant_id}: this escrow has grants 0..{count - 1}" if count else "no grants yet"
            )

    # writes

    def create(
        self,
        account: LocalAccount,
        recipient: str,
        token: str,
        budget: int,
        milestones: list[tuple[int, int]],
        proposal: OnchainCid,
    ) -> int:
        call = self.escrow.functions.create_grant(
            recipient,
            token,
            budget,
            [amount for amount, _ in milestones],
            [deadline for _, deadline in milestones],
            proposal.digest,
            proposal.codec,
        )
        receipt = send(self.chain.w3, account, call)
        return self.escrow.events.GrantCreated().process_receipt(receipt, errors=DISCARD)[0]["args"][
            "grant_id"
        ]

    def fund(self, account: LocalAccount, grant_id: int, amount: int) -> TxReceipt:
        grant = self.grant(grant_id)
        if grant.is_eth:
            return send(self.chain.w3, account, self.escrow.functions.fund(grant_id, amount), value=amount)
        token = erc20(self.chain.w3, grant.token)
        if token.functions.allowance(account.address, self.escrow.address).call() < amount:
            send(self.chain.w3, account, token.functions.approve(self.escrow.address, amount))
        return send(self.chain.w3, account, self.escrow.functions.fund(grant_id, amount))

    def submit(
        self, account: LocalAccount, grant_id: int, milestone_id: int, evidence: OnchainCid
    ) -> TxReceipt:
        call = self.escrow.functions.submit(grant_id, milestone_id, evidence.digest, evidence.codec)
        return send(self.chain.w3, account, call)

    def release(
        self,
        account: LocalAccount,
        grant_id: int,
        milestone_id: int,
        deadline: int,
        signatures: Sequence[str | bytes],
    ) -> TxReceipt:
        data = self.release_typed_data(grant_id, milestone_id, deadline)
        approvals = collect_approvals(data, signatures, self.members())
        threshold = self.threshold()
        if len(approvals) < threshold:
            raise SignatureError(
                f"{len(approvals)} distinct member signatures; the council needs {threshold}"
            )
        call = self.escrow.functions.release(grant_id, milestone_id, deadline, pack_signatures(approvals))
        return send(self.chain.w3, account, call)


def council_decision(
    grants: Grants, sender: LocalAccount, primary: str, fields: dict[str, Any], signers: list[LocalAccount]
) -> TxReceipt:
    """Have `signers` sign a council decision and send it (a release goes through `Grants.release`).

    Council-wide decisions take the council nonce; a rejection carries its milestone's nonce in `fields`.
    """
    if primary not in ESCROW_TYPES or primary in ("Release", "Submit"):
        raise GrantError(f"{primary} is not a council decision sent this way")
    deadline = grants.now() + 3600
    message = {**fields, "deadline": deadline}
    if primary in COUNCIL_NONCE_TYPES:
        message["nonce"] = grants.escrow.functions.council_nonce().call()
    data = typed_data(primary, message, grants.domain())
    signatures = pack_signatures([CouncilApproval(s.address, sign(data, s.key)) for s in signers])
    args = [message[f["name"]] for f in ESCROW_TYPES[primary] if f["name"] not in _SIGNED_ONLY_FIELDS]
    function_name = "".join(f"_{c.lower()}" if c.isupper() else c for c in primary).lstrip("_")
    call = getattr(grants.escrow.functions, function_name)(*args, deadline, signatures)
    return send(grants.chain.w3, sender, call)
