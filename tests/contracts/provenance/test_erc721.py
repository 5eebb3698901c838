"""ERC-721 conformance: ERC-165, balances, approvals, operators, transfers, receiver checks, events."""

import ape
import pytest
from eth_utils import function_signature_to_4byte_selector as selector

ZERO = "0x" + "0" * 40
ACCEPT, WRONG_SELECTOR, REVERT_REASON, REVERT_EMPTY = range(4)


def _interface_id(*signatures: str) -> bytes:
    value = 0
    for signature in signatures:
        value ^= int.from_bytes(selector(signature), "big")
    return value.to_bytes(4, "big")


ERC721_ID = _interface_id(
    "balanceOf(address)",
    "ownerOf(uint256)",
    "safeTransferFrom(address,address,uint256,bytes)",
    "safeTransferFrom(address,address,uint256)",
    "transferFrom(address,address,uint256)",
    "approve(address,uint256)",
    "setApprovalForAll(address,bool)",
    "getApproved(uint256)",
    "isApprovedForAll(address,address)",
)
METADATA_ID = _interface_id("name()", "symbol()", "tokenURI(uint256)")


@pytest.fixture(scope="module")
def receivers(project, council):
    return {mode: project.erc721_receiver_mock.deploy(mode, sender=council) for mode in range(4)}


@pytest.fixture(params=["inline", "run"])
def token(request, create_batch, create_run):
    """A batch of each storage kind: single `register` and the middle of a `registerMany` run."""
    return create_batch() if request.param == "inline" else create_run(5)[2]


def test_supports_interface__165_721_metadata_only(provenance):
    assert bytes.fromhex("80ac58cd") == ERC721_ID
    assert bytes.fromhex("5b5e139f") == METADATA_ID
    for interface_id in (bytes.fromhex("01ffc9a7"), ERC721_ID, METADATA_ID):
        assert provenance.supportsInterface(interface_id)
    for interface_id in (bytes.fromhex("ffffffff"), bytes.fromhex("780e9d63"), bytes.fromhex("00000000")):
        assert not provenance.supportsInterface(interface_id)


def test_metadata__name_and_symbol(provenance):
    assert provenance.name() == "Tambon Batch Provenance" and provenance.symbol() == "TBATC"


def test_balance_of__zero_address__reverts(provenance):
    with ape.reverts("provenance: zero address"):
        provenance.balanceOf(ZERO)


def test_owner_of__unknown__reverts(provenance, create_batch):
    create_batch()
    with ape.reverts("provenance: unknown batch"):
        provenance.ownerOf(0)
    with ape.reverts("provenance: unknown batch"):
        provenance.ownerOf(2)
    with ape.reverts("provenance: unknown batch"):
        provenance.getApproved(2)


def test_transfer_from__moves_token_balances_and_emits(provenance, producer, carrier, token):
    receipt = provenance.transferFrom(producer, carrier, token, sender=producer)
    [event] = receipt.events.filter(provenance.Transfer)
    assert (event.sender, event.receiver, event.tokenId) == (producer, carrier, token)
    assert provenance.ownerOf(token) == carrier
    assert provenance.balanceOf(carrier) == 1
    assert provenance.batch(token).producer == producer  # the producer survives custody changes
    provenance.transferFrom(carrier, producer, token, sender=carrier)
    assert provenance.ownerOf(token) == producer and provenance.balanceOf(carrier) == 0


def test_transfer_from__other_tokens_of_the_run_keep_their_owner(provenance, producer, carrier, create_run):
    ids = create_run(6)
    provenance.transferFrom(producer, carrier, ids[2], sender=producer)
    assert [provenance.ownerOf(i) for i in ids] == [producer, producer, carrier, producer, producer, producer]
    provenance.transferFrom(producer, carrier, ids[0], sender=producer)
    assert [provenance.ownerOf(i) for i in ids] == [carrier, producer, carrier, producer, producer, producer]


def test_transfer_from__wrong_from__reverts(provenance, producer, carrier, token):
    with ape.reverts("provenance: transfer from incorrect owner"):
        provenance.transferFrom(carrier, producer, token, sender=carrier)


def test_transfer_from__to_zero__reverts(provenance, producer, token):
    with ape.reverts("provenance: transfer to zero address"):
        provenance.transferFrom(producer, ZERO, token, sender=producer)


def test_transfer_from__unauthorised__reverts(provenance, producer, attacker, token):
    with ape.reverts("provenance: not holder or approved"):
        provenance.transferFrom(producer, attacker, token, sender=attacker)


def test_approve__approved_may_transfer_once(provenance, producer, packer, carrier, token):
    receipt = provenance.approve(packer, token, sender=producer)
    [event] = receipt.events.filter(provenance.Approval)
    assert (event.owner, event.approved, event.tokenId) == (producer, packer, token)
    assert provenance.getApproved(token) == packer
    provenance.transferFrom(producer, carrier, token, sender=packer)
    assert provenance.ownerOf(token) == carrier and provenance.getApproved(token) == ZERO
    with ape.reverts("provenance: not holder or approved"):
        provenance.transferFrom(carrier, packer, token, sender=packer)


def test_approve__by_operator_and_clear(provenance, producer, packer, carrier, token):
    provenance.setApprovalForAll(packer, True, sender=producer)
    provenance.approve(carrier, token, sender=packer)
    assert provenance.getApproved(token) == carrier
    provenance.approve(ZERO, token, sender=producer)
    assert provenance.getApproved(token) == ZERO


def test_approve__stranger__reverts(provenance, attacker, token):
    with ape.reverts("provenance: not holder or operator"):
        provenance.approve(attacker, token, sender=attacker)


def test_set_approval_for_all__operator_transfers_any_and_can_be_withdrawn(
    provenance, producer, packer, carrier, create_batch
):
    a, b = create_batch("a"), create_batch("b")
    receipt = provenance.setApprovalForAll(packer, True, sender=producer)
    [event] = receipt.events.filter(provenance.ApprovalForAll)
    assert (event.owner, event.operator, event.approved) == (producer, packer, True)
    assert provenance.isApprovedForAll(producer, packer)
    provenance.transferFrom(producer, carrier, a, sender=packer)
    provenance.setApprovalForAll(packer, False, sender=producer)
    assert not provenance.isApprovedForAll(producer, packer)
    with ape.reverts("provenance: not holder or approved"):
        provenance.transferFrom(producer, carrier, b, sender=packer)


def test_set_approval_for_all__zero_operator__reverts(provenance, producer):
    with ape.reverts("provenance: zero operator"):
        provenance.setApprovalForAll(ZERO, True, sender=producer)


def test_safe_transfer_from__to_account(provenance, producer, carrier, token):
    provenance.safeTransferFrom(producer, carrier, token, sender=producer)
    assert provenance.ownerOf(token) == carrier


def test_safe_transfer_from__accepting_receiver_gets_operator_from_id_data(
    provenance, producer, packer, receivers, token
):
    receiver = receivers[ACCEPT]
    provenance.setApprovalForAll(packer, True, sender=producer)
    provenance.safeTransferFrom(producer, receiver, token, b"lot for export", sender=packer)
    assert provenance.ownerOf(token) == receiver
    assert receiver.last_operator() == packer and receiver.last_from() == producer
    assert receiver.last_token_id() == token and receiver.last_data() == b"lot for export"


def test_safe_transfer_from__three_argument_form_passes_empty_data(provenance, producer, receivers, token):
    receiver = receivers[ACCEPT]
    provenance.safeTransferFrom(producer, receiver, token, sender=producer)
    assert receiver.calls() == 1 and receiver.last_data() == b""


@pytest.mark.parametrize("mode", [WRONG_SELECTOR, REVERT_REASON, REVERT_EMPTY])
def test_safe_transfer_from__refusing_receiver__reverts(provenance, producer, receivers, token, mode):
    with ape.reverts("provenance: transfer to non-ERC721Receiver"):
        provenance.safeTransferFrom(producer, receivers[mode], token, b"x", sender=producer)
    assert provenance.ownerOf(token) == producer


def test_safe_transfer_from__contract_without_hook__reverts(provenance, project, council, producer, token):
    no_hook = project.attestation_registry.deploy(council, sender=council)
    with ape.reverts("provenance: transfer to non-ERC721Receiver"):
        provenance.safeTransferFrom(producer, no_hook, token, sender=producer)


def test_transfer_from__to_contract_skips_receiver_check(provenance, producer, receivers, token):
    provenance.transferFrom(producer, receivers[REVERT_EMPTY], token, sender=producer)
    assert provenance.ownerOf(token) == receivers[REVERT_EMPTY]
