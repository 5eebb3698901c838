"""Who may upload what, read from the chain at the request's head.

Roles: council member, grant recipient (a community), registered producer, lot holder (a packing house
or carrier holding a lot someone handed over). An upload is allowed only
for what the account may act on on chain: a community for its own grants' milestones, a council
member for any grant (its reasons for a rejection), a lot's holder (or an account it approved) for the
lot's steps, the same rule `BatchProvenance.addStep` applies.
"""

from __future__ import annotations

from eth_utils import to_checksum_address

from frontend.auth import NotAllowed
from frontend.errors import NotFound
from frontend.services.chain import ChainReader, Head
from frontend.services.grants import GrantService

COUNCIL, COMMUNITY, PRODUCER, HOLDER = "council", "community", "producer", "holder"


class Writers:
    def __init__(self, reader: ChainReader, grants: GrantService) -> None:
        self.reader = reader
        self.grants = grants

    def roles(self, head: Head, address: str) -> frozenset[str]:
        address = to_checksum_address(address)
        r = self.reader
        found: set[str] = set()
        members = r.call(head, r.escrow.functions.members(), key=("members",))
        if address in {to_checksum_address(m) for m in members}:
            found.add(COUNCIL)
        if r.call(head, r.provenance.functions.isRegisteredProducer(address), key=("registered", address)):
            found.add(PRODUCER)
        if r.call(head, r.provenance.functions.balanceOf(address), key=("balance", address)):
            found.add(HOLDER)
        if any(
            self.grants.grant(head, g).grant.recipient.lower() == address.lower()
            for g in range(self.grants.count(head))
        ):
            found.add(COMMUNITY)
        return frozenset(found)

    def require_role(self, head: Head, address: str) -> frozenset[str]:
        roles = self.roles(head, address)
        if not roles:
            raise NotAllowed(
                f"{address} is not a council member, grant recipient, registered producer or lot holder "
                "of this site"
            )
        return roles

    def check_grant_upload(self, head: Head, address: str, grant_id: int | None) -> None:
        """Milestone evidence: the grant's community; any grant: a council member (rejection reasons)."""
        council = COUNCIL in self.roles(head, address)
        if grant_id is None:
            if not council:
                raise NotAllowed("name the grant and milestone this evidence is for (grant_id, milestone_id)")
            return
        if grant_id >= self.grants.count(head):
            raise NotFound(f"grant {grant_id} does not exist")
        recipient = self.grants.grant(head, grant_id).grant.recipient
        if not council and recipient.lower() != address.lower():
            raise NotAllowed(
                f"only grant {grant_id}'s community {recipient} or a council member uploads for it"
            )

    def check_step_upload(self, head: Head, address: str, batch_id: int) -> None:
        """A lot's step evidence: its holder, or an account the holder approved (as addStep requires)."""
        p = self.reader.provenance
        holder = to_checksum_address(
            self.reader.call(head, p.functions.ownerOf(batch_id), key=("owner", batch_id))
        )
        address = to_checksum_address(address)
        if address == holder:
            return
        approved = self.reader.call(head, p.functions.getApproved(batch_id), key=("approved", batch_id))
        if to_checksum_address(approved) == address:
            return
        if self.reader.call(
            head, p.functions.isApprovedForAll(holder, address), key=("operator", holder, address)
        ):
            return
        raise NotAllowed(f"batch {batch_id} is held by {holder}; only its holder adds its steps")
