"""The grants dashboard: every grant of this อปท.'s escrow, per community, with money over time.

Grants and milestones are the core's (`tambon.grants`), read through the site's head-pinned cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from eth_utils import to_checksum_address

from frontend.errors import NotFound
from frontend.services.chain import ChainReader, Event, Head, topic_uint
from tambon.grants import Grant, Milestone
from tambon.index.reader import IndexReader
from tambon.tokens import Token, read_token


@dataclass(frozen=True)
class GrantView:
    """One grant as the site shows it: the core's grant and milestones, its token and community name."""

    grant: Grant
    token: Token
    recipient_name: str | None
    milestones: list[Milestone]

    def count(self, status: str) -> int:
        return sum(1 for m in self.milestones if m.status.name == status)

    @property
    def pending_amount(self) -> int:
        return sum(m.amount for m in self.milestones if m.under_review)

    def milestone(self, milestone_id: int) -> Milestone:
        if not 0 <= milestone_id < len(self.milestones):
            raise NotFound(f"grant {self.grant.grant_id} has no milestone {milestone_id}")
        return self.milestones[milestone_id]


@dataclass
class Community:
    address: str
    name: str | None
    grants: list[GrantView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Point:
    timestamp: int
    funded: int
    released: int


@dataclass(frozen=True, slots=True)
class Totals:
    budget: int
    funded: int
    released: int
    pending: int


@dataclass
class Dashboard:
    head: Head
    grants: list[GrantView]
    communities: list[Community]
    #: every token grants are paid in, by lower-case address (two tokens with one symbol stay apart)
    tokens: dict[str, Token]
    #: per token address: the cumulative funded / released series
    series: dict[str, list[Point]]
    members: list[str]
    threshold: int

    def totals(self, address: str) -> Totals:
        gs = [g for g in self.grants if g.token.address.lower() == address]
        return Totals(
            budget=sum(g.grant.budget for g in gs),
            funded=sum(g.grant.funded for g in gs),
            released=sum(g.grant.paid for g in gs),
            pending=sum(g.pending_amount for g in gs),
        )

    def token_label(self, address: str) -> str:
        """The token's symbol, with its short address when another token of the board has that symbol."""
        token = self.tokens[address]
        twins = [t for t in self.tokens.values() if t.symbol == token.symbol]
        return (
            token.symbol if len(twins) == 1 else f"{token.symbol} ({token.address[:6]}…{token.address[-4:]})"
        )


def money_series(
    events: Iterable[Event], times: Mapping[str, int], token_of: Mapping[int, str]
) -> dict[str, list[Point]]:
    """Cumulative funded and released per token (as `token_of` keys a grant's), one point per event in
    chain order."""
    out: dict[str, list[Point]] = {}
    state: dict[str, tuple[int, int]] = {}
    for e in sorted(events, key=lambda e: (e.block_number, e.log_index)):
        gid = e.args.get("grant_id")
        token = token_of.get(gid) if isinstance(gid, int) else None
        if token is None:
            continue
        funded, released = state.get(token, (0, 0))
        if e.name == "Funded":
            funded += e.args["amount"]
        elif e.name == "MilestoneReleased":
            released += e.args["amount"]
        else:
            continue
        state[token] = (funded, released)
        out.setdefault(token, []).append(Point(times[e.block_hash], funded, released))
    return out


class GrantService:
    """Grants read from the chain index when the site has one (the dashboard and council pages), else
    from the escrow's views at the pinned head; the checks before a write read the node."""

    def __init__(self, reader: ChainReader, index: IndexReader | None = None):
        self.reader = reader
        self.index = index

    def token(self, head: Head, address: str) -> Token:
        """Known tokens come from tambon.tokens; others are read once per head through the cache."""
        return read_token(
            self.reader.w3,
            address,
            self.reader.chain.deployment,
            lambda fn: self.reader.call(head, fn, key=(fn.fn_name, address)),
        )

    def count(self, head: Head) -> int:
        return int(self.reader.call(head, self.reader.escrow.functions.grant_count(), key=("grant_count",)))

    def milestone(self, head: Head, grant_id: int, milestone_id: int) -> Milestone:
        view = self.reader.call(
            head,
            self.reader.escrow.functions.milestone(grant_id, milestone_id),
            key=("milestone", grant_id, milestone_id),
        )
        return Milestone.from_chain(grant_id, milestone_id, view)

    def grant(self, head: Head, grant_id: int) -> GrantView:
        if not 0 <= grant_id < self.count(head):
            raise NotFound(f"grant {grant_id} does not exist")
        view = self.reader.call(head, self.reader.escrow.functions.grant(grant_id), key=("grant", grant_id))
        grant = Grant.from_chain(grant_id, view)
        return GrantView(
            grant,
            self.token(head, grant.token),
            self._community_name(head, grant.recipient),
            [self.milestone(head, grant_id, m) for m in range(grant.milestone_count)],
        )

    def _community_name(self, head: Head, address: str) -> str | None:
        p = self.reader.provenance
        _reg, name, registered_at, _revoked = self.reader.call(
            head, p.functions.producerOf(address), key=("producer", to_checksum_address(address))
        )
        return name if registered_at else None

    def _indexed_grants(self, head: Head, index: IndexReader) -> list[GrantView]:
        """Every grant as the escrow's views answer, derived from the index's facts (no node call but
        an unknown token's metadata)."""
        out = []
        for grant, milestones in index.grants():
            _reg, name, registered_at, _revoked = index.producer(grant.recipient)
            out.append(
                GrantView(grant, self.token(head, grant.token), name if registered_at else None, milestones)
            )
        return out

    def dashboard(self, head: Head) -> Dashboard:
        r, index = self.reader, self.index
        if index is not None:
            grants = self._indexed_grants(head, index)
        else:
            grants = [self.grant(head, g) for g in range(self.count(head))]
        communities: dict[str, Community] = {}
        for g in grants:
            recipient = g.grant.recipient
            communities.setdefault(recipient, Community(recipient, g.recipient_name)).grants.append(g)
        if index is not None:
            events = index.escrow_events(("Funded", "MilestoneReleased"))
            times = index.block_times(e.block_hash for e in events)
        else:
            events = r.logs(
                head, r.escrow, [[r.topic(r.escrow, "Funded"), r.topic(r.escrow, "MilestoneReleased")]]
            )
            times = r.block_times(events)
        token_of = {g.grant.grant_id: g.token.address.lower() for g in grants}
        series = money_series(events, times, token_of)
        tokens = {g.token.address.lower(): g.token for g in grants}
        if index is not None:
            members, threshold = index.council()
        else:
            members = list(r.call(head, r.escrow.functions.members(), key=("members",)))
            threshold = int(r.call(head, r.escrow.functions.threshold(), key=("threshold",)))
        return Dashboard(
            head,
            grants,
            list(communities.values()),
            tokens,
            {address: series.get(address, []) for address in tokens},
            members,
            threshold,
        )

    def grant_events(self, head: Head, grant_id: int) -> list[Event]:
        r = self.reader
        return r.logs(head, r.escrow, [None, topic_uint(grant_id)])
