"""A real Safe v1.4.1 proxy (3 owners, 2 to sign) sits on the council and approves through EIP-1271."""

import sys
from pathlib import Path

import ape
from eth_abi import encode
from eth_account import Account

from tambon.typed_data import CouncilApproval, pack_signatures, sign

from .conftest import submitted_eth_milestone

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

import bench_gas  # noqa: E402  (the Safe deployment the gas anchor uses)


def _safe_signature(handler, safe, owners, digest: bytes) -> bytes:
    """What the Safe's owners sign: the SafeMessage hash of the decision digest, sorted by owner."""
    message_hash = handler.getMessageHashForSafe(safe, encode(["bytes32"], [digest]))
    ordered = sorted(owners, key=lambda o: int(o.address, 16))
    return b"".join(
        bytes(Account.unsafe_sign_hash(bytes(message_hash), o.private_key).signature) for o in ordered
    )


def test_safe_member__two_of_three_owners_approve_a_release(
    project, accounts, deployer, community, funder, chain
):
    owners = [accounts[7], accounts[8], accounts[9]]
    handler = bench_gas.compatibility_fallback_handler(deployer)
    safe = bench_gas.deploy_safe(owners, 2, deployer, chain, fallback_handler=handler.address)
    members = [accounts[1], accounts[2]]
    escrow = project.grant_escrow.deploy([safe.address, *[m.address for m in members]], 3, 1, sender=deployer)
    grant_id, deadline, data = submitted_eth_milestone(escrow, chain, members[0], community, funder)
    digest = bytes(escrow.release_digest(grant_id, 0, deadline))
    approvals = [CouncilApproval(m.address, sign(data, m.private_key)) for m in members]

    one_owner = _safe_signature(handler, safe, owners[:1], digest)
    below = pack_signatures([*approvals, CouncilApproval(safe.address, contract_data=one_owner)])
    with ape.reverts("council: invalid contract signature"):
        escrow.release(grant_id, 0, deadline, below, sender=community)
    other = _safe_signature(handler, safe, owners[:2], b"\x11" * 32)
    wrong = pack_signatures([*approvals, CouncilApproval(safe.address, contract_data=other)])
    with ape.reverts("council: invalid contract signature"):
        escrow.release(grant_id, 0, deadline, wrong, sender=community)

    two_owners = _safe_signature(handler, safe, owners[1:], digest)
    good = pack_signatures([*approvals, CouncilApproval(safe.address, contract_data=two_owners)])
    escrow.release(grant_id, 0, deadline, good, sender=community)
    assert escrow.milestone(grant_id, 0).status == 3
