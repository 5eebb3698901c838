"""The grants dashboard: every grant of this อปท.'s escrow, per community, with money over time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from eth_utils import to_checksum_address

from frontend.errors import NotFound
from frontend.services.catalog import MILESTONE_STATUSES
from frontend.services.chain import ChainReader, Event, Head, topic_uint
from frontend.services.evidence import EvidenceService
from tambon.cid import cid_string
from tambon.tokens import MAX_SYMBOL_LENGTH, UNKNOWN_SYMBOL, Token, erc20, known_tokens


@dataclass(frozen=True, slots=True)
class Milestone:
    grant_id: int
    milestone_id: int
    amount: int
    deadline: int
    status: str
    nonce: int
    submitted_at: int
    evidence_cid: str | None
    evidence_url: str | None
    rejection_cid: str | None


@dataclass
class Grant:
    grant_id: int
    recipient: str
    recipient_name: str | None
    token: Token
    budget: int
    funded: int
    paid: int
    cancelled: bool
    milestones: list[Milestone]

    def count(self, status: str) -> int:
        return sum(1 for m in self.milestones if m.status == status)

    @property
    def pending_amount(self) -> int:
        return sum(m.amount for m in self.milestones if m.status in ("SUBMITTED", "ESCALATED"))


@dataclass
class Community:
    address: str
    name: str | None
    grants: list[Grant] = field(default_factory=list)

    def total(self, attr: str, symbol: str) -> int:
        return sum(getattr(g, attr) for g in self.grants if g.token.symbol == symbol)


@dataclass(frozen=True, slots=True)
class Point:
    timestamp: int
    funded: int
    released: int


@dataclass
class Dashboard:
    head: Head
    grants: list[Grant]
    communities: list[Community]
    #: per token symbol: budget and the cumulative funded / released series
    series: dict[str, tuple[int, list[Point]]]
    members: list[str]
    threshold: int

    def totals(self, symbol: str) -> dict[str, int]:
        gs = [g for g in self.grants if g.token.symbol == symbol]
        return {
            "budget": sum(g.budget for g in gs),
            "funded": sum(g.funded for g in gs),
            "released": sum(g.paid for g in gs),
            "pending": sum(g.pending_amount for g in gs),
        }


def money_series(
    events: Iterable[Event],
    times: Mapping[str, int],
    token_of: Mapping[int, str],
    amounts: Mapping[tuple[int, int], int],
) -> dict[str, list[Point]]:
    """Cumulative funded and released per token symbol, one point per event (time order)."""
    out: dict[str, list[Point]] = {}
    state: dict[str, tuple[int, int]] = {}
    for e in sorted(events, key=lambda e: (e.block_number, e.log_index)):
        gid = e.args.get("grant_id")
        symbol = token_of.get(gid) if isinstance(gid, int) else None
        if symbol is None:
            continue
        funded, released = state.get(symbol, (0, 0))
        if e.name == "Funded":
            funded += e.args["amount"]
        elif e.name == "MilestoneReleased":
            released += e.args["amount"]
        else:
            continue
        state[symbol] = (funded, released)
        out.setdefault(symbol, []).append(Point(times[e.block_hash], funded, released))
    return out


class GrantService:
    def __init__(self, reader: ChainReader, evidence: EvidenceService):
        self.reader = reader
        self.evidence = evidence

    def token(self, head: Head, address: str) -> Token:
        """Known tokens come from tambon.tokens; others are read once per head through the cache."""
        known = known_tokens(self.reader.chain.deployment).get(address.lower())
        if known is not None:
            return known
        c = erc20(self.reader.w3, address)
        try:
            symbol = self.reader.call(head, c.functions.symbol(), key=("symbol", address))
            decimals = self.reader.call(head, c.functions.decimals(), key=("decimals", address))
        except Exception:  # no code, or no optional metadata: amounts in base units
            return Token(address, UNKNOWN_SYMBOL, 0)
        return Token(address, str(symbol)[:MAX_SYMBOL_LENGTH], int(decimals))

    def count(self, head: Head) -> int:
        return int(self.reader.call(head, self.reader.escrow.functions.grant_count(), key=("grant_count",)))

    def milestone(self, head: Head, grant_id: int, milestone_id: int) -> Milestone:
        e = self.reader.escrow
        amount, deadline, status, nonce, submitted_at, evidence, codec, reason = self.reader.call(
            head, e.functions.milestone(grant_id, milestone_id), key=("milestone", grant_id, milestone_id)
        )
        cid = cid_string(evidence, codec) if codec else None
        return Milestone(
            grant_id,
            milestone_id,
            amount,
            deadline,
            MILESTONE_STATUSES.get(status, str(status)),
            nonce,
            submitted_at,
            cid,
            self.evidence.url(cid) if cid else None,
            cid_string(reason, 0x55) if any(reason) else None,
        )

    def grant(self, head: Head, grant_id: int) -> Grant:
        if not 0 <= grant_id < self.count(head):
            raise NotFound(f"grant {grant_id} does not exist")
        e = self.reader.escrow
        recipient, token, budget, funded, paid, count, cancelled = self.reader.call(
            head, e.functions.grant(grant_id), key=("grant", grant_id)
        )
        name = self._community_name(head, recipient)
        milestones = [self.milestone(head, grant_id, m) for m in range(count)]
        return Grant(
            grant_id, recipient, name, self.token(head, token), budget, funded, paid, cancelled, milestones
        )

    def _community_name(self, head: Head, address: str) -> str | None:
        p = self.reader.provenance
        _reg, name, registered_at, _revoked = self.reader.call(
            head, p.functions.producerOf(address), key=("producer", to_checksum_address(address))
        )
        return name if registered_at else None

    def dashboard(self, head: Head) -> Dashboard:
        r = self.reader
        grants = [self.grant(head, g) for g in range(self.count(head))]
        communities: dict[str, Community] = {}
        for g in grants:
            communities.setdefault(g.recipient, Community(g.recipient, g.recipient_name)).grants.append(g)
        events = r.logs(
            head, r.escrow, [[r.topic(r.escrow, "Funded"), r.topic(r.escrow, "MilestoneReleased")]]
        )
        times = r.block_times(events)
        token_of = {g.grant_id: g.token.symbol for g in grants}
        amounts = {(g.grant_id, m.milestone_id): m.amount for g in grants for m in g.milestones}
        raw = money_series(events, times, token_of, amounts)
        series = {
            sym: (sum(g.budget for g in grants if g.token.symbol == sym), points)
            for sym, points in raw.items()
        }
        for g in grants:
            series.setdefault(
                g.token.symbol, (sum(x.budget for x in grants if x.token.symbol == g.token.symbol), [])
            )
        members = list(r.call(head, r.escrow.functions.members(), key=("members",)))
        threshold = int(r.call(head, r.escrow.functions.threshold(), key=("threshold",)))
        return Dashboard(head, grants, list(communities.values()), series, members, threshold)

    def grant_events(self, head: Head, grant_id: int) -> list[Event]:
        r = self.reader
        return r.logs(head, r.escrow, [None, topic_uint(grant_id)])
