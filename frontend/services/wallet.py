"""Wallet flows: calldata the server builds for EIP-1193 wallets, and council release rounds.

A release round is one milestone submission (grant, milestone, nonce) with one deadline that every
member signs. Signatures arrive one by one from members' wallets (`eth_signTypedData_v4`); each is
verified before it is stored: it must recover to the claimed signer, that signer must be a council
member now, and it must be over the milestone as it stands on-chain (evidence, amount, current
nonce) with the round's deadline. Rounds are JSON files under `<data_dir>/web/releases/`, written
atomically under a file lock (several workers may receive signatures at once). A resubmission gives
a new nonce and so a new round; old signatures die with the old nonce, as on-chain.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from frontend.errors import BadInput, Conflict
from frontend.services.chain import ChainReader, Head
from frontend.services.grants import GrantService
from tambon.cid import OnchainCid
from tambon.errors import InvalidCid, SignatureError
from tambon.grants import Milestone, reject_message, release_message
from tambon.typed_data import (
    ESCROW_DOMAIN_NAME,
    CouncilApproval,
    domain,
    pack_signatures,
    recover,
    typed_data,
)

#: a round is renewed when less than this is left before its deadline (time to collect and send)
MIN_TIME_LEFT = 3600


@dataclass(frozen=True, slots=True)
class TxRequest:
    """What `eth_sendTransaction` gets (hex strings, as EIP-1193 wallets expect)."""

    to: str
    data: str
    value: str = "0x0"
    chainId: str = "0x1"  # noqa: N815 (EIP-1193 field name)


@dataclass
class Round:
    grant_id: int
    milestone_id: int
    nonce: int
    deadline: int
    signatures: dict[str, str]  # checksummed signer -> 0x signature
    #: a rejection round's reason: the CID of its text (raw codec) in the evidence store
    reason_cid: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "grant_id": self.grant_id,
            "milestone_id": self.milestone_id,
            "nonce": self.nonce,
            "deadline": self.deadline,
            "signatures": self.signatures,
            "reason_cid": self.reason_cid,
        }


def parse_address(value: str, what: str = "address") -> str:
    if not isinstance(value, str) or not is_address(value):
        raise BadInput(f"{what} is not an Ethereum address")
    return to_checksum_address(value)


def parse_signature(value: str) -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except (ValueError, AttributeError):
        raise BadInput("signature is not hex") from None
    if len(raw) != 65:
        raise BadInput(f"a signature is 65 bytes, got {len(raw)}")
    return raw


class RoundStore:
    def __init__(self, root: Path, escrow: str, kind: str = "releases"):
        self.dir = root / "web" / kind / escrow.lower()
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, grant_id: int, milestone_id: int) -> Path:
        return self.dir / f"{grant_id}-{milestone_id}.json"

    @contextmanager
    def locked(self, grant_id: int, milestone_id: int):
        lock = self.dir / f"{grant_id}-{milestone_id}.lock"
        with lock.open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def load(self, grant_id: int, milestone_id: int) -> Round | None:
        path = self.path(grant_id, milestone_id)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return Round(
            data["grant_id"],
            data["milestone_id"],
            data["nonce"],
            data["deadline"],
            dict(data["signatures"]),
            data.get("reason_cid", ""),
        )

    def save(self, r: Round) -> None:
        path = self.path(r.grant_id, r.milestone_id)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(r.to_json(), indent=1))
        tmp.replace(path)


class WalletService:
    def __init__(self, reader: ChainReader, grants: GrantService, data_dir: Path, window_seconds: int):
        self.reader = reader
        self.grants = grants
        self.rounds = RoundStore(data_dir, reader.escrow.address)
        self.rejections = RoundStore(data_dir, reader.escrow.address, "rejections")
        self.window = window_seconds

    def _tx(self, fn: str, args: list[Any]) -> TxRequest:
        data = self.reader.escrow.encode_abi(fn, args=args)
        return TxRequest(self.reader.escrow.address, data, "0x0", hex(self.reader.chain_id))

    # community

    def submit_tx(self, head: Head, grant_id: int, milestone_id: int, cid: str, sender: str) -> TxRequest:
        """`submit(grant, milestone, digest, codec)` for the community wallet, after checking it can succeed."""
        sender = parse_address(sender, "sender")
        try:
            onchain = OnchainCid.parse(cid)
        except InvalidCid as exc:
            raise BadInput(str(exc)) from exc
        view = self.grants.grant(head, grant_id)
        milestone = view.milestone(milestone_id)
        if view.grant.cancelled:
            raise Conflict(f"grant {grant_id} is cancelled")
        if view.grant.recipient.lower() != sender.lower():
            raise Conflict(
                f"only the grant's community wallet {view.grant.recipient} can submit its milestones"
            )
        if not milestone.submittable:
            raise Conflict(
                f"milestone {milestone_id} is {milestone.status.name.lower()}; "
                "only pending or rejected milestones are submitted"
            )
        return self._tx("submit", [grant_id, milestone_id, onchain.digest, onchain.codec])

    # council

    def _under_review(self, head: Head, grant_id: int, milestone_id: int) -> Milestone:
        """The milestone a council round decides on: of a live grant, with a submission under review."""
        view = self.grants.grant(head, grant_id)
        milestone = view.milestone(milestone_id)
        if view.grant.cancelled:
            raise Conflict(f"grant {grant_id} is cancelled")
        milestone.require_under_review()
        return milestone

    def _domain(self) -> dict[str, Any]:
        return domain(ESCROW_DOMAIN_NAME, self.reader.chain_id, self.reader.escrow.address)

    def round(self, head: Head, grant_id: int, milestone_id: int) -> Round:
        """The open round of this submission, opened (or renewed) when needed."""
        milestone = self._under_review(head, grant_id, milestone_id)
        with self.rounds.locked(grant_id, milestone_id):
            current = self.rounds.load(grant_id, milestone_id)
            if (
                current is None
                or current.nonce != milestone.nonce
                or current.deadline - head.timestamp < MIN_TIME_LEFT
            ):
                current = Round(grant_id, milestone_id, milestone.nonce, head.timestamp + self.window, {})
                self.rounds.save(current)
            return current

    def release_typed_data(self, head: Head, grant_id: int, milestone_id: int) -> dict[str, Any]:
        milestone = self._under_review(head, grant_id, milestone_id)
        r = self.round(head, grant_id, milestone_id)
        return typed_data("Release", release_message(milestone, r.deadline), self._domain())

    def members(self, head: Head) -> tuple[list[str], int]:  # checksummed addresses
        e = self.reader.escrow
        members: list[str] = [
            to_checksum_address(m) for m in self.reader.call(head, e.functions.members(), key=("members",))
        ]
        return members, int(self.reader.call(head, e.functions.threshold(), key=("threshold",)))

    def _require_member_signature(self, head: Head, data: dict[str, Any], raw: bytes, signer: str) -> None:
        """The signature over `data` is `signer`'s, and `signer` sits on the council at `head`."""
        try:
            recovered = recover(data, raw)
        except SignatureError as exc:
            raise BadInput(str(exc)) from exc
        if recovered != signer:
            raise BadInput(f"signature recovers to {recovered}, not to {signer}")
        members, _threshold = self.members(head)
        if signer not in members:
            raise Conflict(f"{signer} is not a council member")

    def add_signature(
        self, head: Head, grant_id: int, milestone_id: int, signer: str, signature: str, deadline: int
    ) -> Round:
        """Verify one member's Release signature against the chain as it stands and store it."""
        signer = parse_address(signer, "signer")
        raw = parse_signature(signature)
        data = self.release_typed_data(head, grant_id, milestone_id)
        if int(deadline) != int(data["message"]["deadline"]):
            raise Conflict(
                "this signature is for another signing round (deadline differs); reload and sign again"
            )
        self._require_member_signature(head, data, raw, signer)
        with self.rounds.locked(grant_id, milestone_id):
            current = self.rounds.load(grant_id, milestone_id)
            if (
                current is None
                or current.deadline != int(deadline)
                or current.nonce != int(data["message"]["nonce"])
            ):
                raise Conflict("the signing round changed; reload and sign again")
            current.signatures[signer] = "0x" + raw.hex()
            self.rounds.save(current)
        return current

    def status(self, head: Head, grant_id: int, milestone_id: int) -> dict[str, Any]:
        r = self.round(head, grant_id, milestone_id)
        members, threshold = self.members(head)
        valid = sorted(s for s in r.signatures if s in members)
        return {
            "grant_id": grant_id,
            "milestone_id": milestone_id,
            "nonce": r.nonce,
            "deadline": r.deadline,
            "signers": valid,
            "threshold": threshold,
            "ready": len(valid) >= threshold,
        }

    def release_tx(self, head: Head, grant_id: int, milestone_id: int) -> TxRequest:
        """`release(...)` with the collected signatures, once `threshold` members signed."""
        r = self.round(head, grant_id, milestone_id)
        return self._tx("release", [grant_id, milestone_id, r.deadline, self._packed(head, r)])

    # council: rejection with a reason the community reads

    def open_rejection(self, head: Head, grant_id: int, milestone_id: int, reason_cid: str) -> Round:
        """Start (or restart, for another reason) the rejection round of the submission under review."""
        milestone = self._under_review(head, grant_id, milestone_id)
        try:
            OnchainCid.parse(reason_cid)
        except InvalidCid as exc:
            raise BadInput(str(exc)) from exc
        with self.rejections.locked(grant_id, milestone_id):
            current = self.rejections.load(grant_id, milestone_id)
            if (
                current is None
                or current.reason_cid != reason_cid
                or current.nonce != milestone.nonce
                or current.deadline - head.timestamp < MIN_TIME_LEFT
            ):
                current = Round(
                    grant_id, milestone_id, milestone.nonce, head.timestamp + self.window, {}, reason_cid
                )
                self.rejections.save(current)
            return current

    def rejection(self, head: Head, grant_id: int, milestone_id: int) -> Round | None:
        """The open rejection round of the submission as it stands, if a member started one."""
        milestone = self._under_review(head, grant_id, milestone_id)
        current = self.rejections.load(grant_id, milestone_id)
        if current is None or current.nonce != milestone.nonce or current.deadline <= head.timestamp:
            return None
        return current

    def reject_typed_data(self, head: Head, r: Round) -> dict[str, Any]:
        milestone = self._under_review(head, r.grant_id, r.milestone_id)
        return typed_data("Reject", reject_message(milestone, r.reason_cid, r.deadline), self._domain())

    def rejection_status(self, head: Head, grant_id: int, milestone_id: int) -> dict[str, Any]:
        r = self.rejection(head, grant_id, milestone_id)
        members, threshold = self.members(head)
        if r is None:
            return {"open": False, "signers": [], "threshold": threshold, "ready": False}
        valid = sorted(s for s in r.signatures if s in members)
        return {
            "open": True,
            "reason_cid": r.reason_cid,
            "typed_data": self.reject_typed_data(head, r),
            "signers": valid,
            "threshold": threshold,
            "ready": len(valid) >= threshold,
        }

    def add_rejection_signature(
        self, head: Head, grant_id: int, milestone_id: int, signer: str, signature: str, deadline: int
    ) -> None:
        """Verify one member's Reject signature against the open round and store it."""
        signer = parse_address(signer, "signer")
        raw = parse_signature(signature)
        r = self.rejection(head, grant_id, milestone_id)
        if r is None or r.deadline != int(deadline):
            raise Conflict("the rejection round changed; reload and sign again")
        self._require_member_signature(head, self.reject_typed_data(head, r), raw, signer)
        with self.rejections.locked(grant_id, milestone_id):
            current = self.rejections.load(grant_id, milestone_id)
            if current is None or current.deadline != r.deadline or current.reason_cid != r.reason_cid:
                raise Conflict("the rejection round changed; reload and sign again")
            current.signatures[signer] = "0x" + raw.hex()
            self.rejections.save(current)

    def reject_tx(self, head: Head, grant_id: int, milestone_id: int) -> TxRequest:
        """`reject(...)` with the collected signatures, once `threshold` members signed the same reason."""
        r = self.rejection(head, grant_id, milestone_id)
        if r is None:
            raise Conflict("no rejection round is open for this milestone")
        reason = OnchainCid.parse(r.reason_cid).digest
        return self._tx("reject", [grant_id, milestone_id, reason, r.deadline, self._packed(head, r)])

    def _packed(self, head: Head, r: Round) -> bytes:
        """The round's signatures of current members as the escrow takes them: `threshold` of them,
        sorted by signer; refused while fewer have signed."""
        members, threshold = self.members(head)
        valid = {s: sig for s, sig in r.signatures.items() if s in members}
        if len(valid) < threshold:
            raise Conflict(f"{len(valid)} of {threshold} council signatures collected")
        chosen = sorted(valid, key=lambda a: int(a, 16))[:threshold]
        return pack_signatures([CouncilApproval(s, bytes.fromhex(valid[s][2:])) for s in chosen])
