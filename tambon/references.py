"""Which evidence the chain references: the one place that answers it (evidence GC, status).

Every event argument that holds a CID's sha2-256 digest counts: a batch's registration and steps
(`evidence`), oracle attestations (`evidence`), a grant's proposal (`proposal`), a milestone's
submission (`evidence`) and a rejection's reason (`reason`). Digests, not CID strings, are compared,
so CIDv0 and CIDv1 of the same content are the same evidence.

Read today from the chain's logs through the core event reader; the chain index (tambon.index) holds
the same columns and can answer instead without changing callers.
"""

from __future__ import annotations

from collections.abc import Iterable

from tambon.chain import Deployment
from tambon.events import ChainEvent, EventDecoder, JsonRpc, LogReader
from tambon.settings import Settings

#: event arguments that carry an evidence digest, per event
CID_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "BatchRegistered": ("evidence",),
    "StepAdded": ("evidence",),
    "Attested": ("evidence",),
    "GrantCreated": ("proposal",),
    "MilestoneSubmitted": ("evidence",),
    "MilestoneRejected": ("reason",),
}


def digests_in(events: Iterable[ChainEvent]) -> set[bytes]:
    """The evidence digests these events reference (zero digests, meaning none, left out)."""
    found: set[bytes] = set()
    for event in events:
        for name in CID_ARGUMENTS.get(event.name, ()):
            digest = bytes(event.args[name])
            if any(digest):
                found.add(digest)
    return found


def referenced_digests(settings: Settings) -> set[bytes]:
    """Every evidence digest referenced on the chain of `settings`, up to its latest block."""
    deployment = Deployment.load(settings.deployment_file)
    rpc = JsonRpc(settings.rpc_url)
    try:
        reader = LogReader(rpc, EventDecoder.for_deployment(deployment))
        return digests_in(reader.events(deployment.block, rpc.block_number()))
    finally:
        rpc.close()
