# pragma version ~=0.4.3
"""
@title Test smart-contract wallet (EIP-1271) with one owner key
@notice Accepts a digest when the signature data is the owner's ECDSA signature of it,
        the way a 1-of-1 Safe would; lets tests seat a contract on the council.
"""

from snekmate.utils import ecdsa

owner: public(address)


@deploy
def __init__(owner: address):
    self.owner = owner


@external
@view
def isValidSignature(digest: bytes32, signature: Bytes[2_048]) -> bytes4:
    if len(signature) == 65 and ecdsa._recover_sig(digest, slice(signature, 0, 65)) == self.owner:
        return 0x1626BA7E
    return 0xFFFFFFFF


@external
def call(target: address, data: Bytes[4_096]):
    assert msg.sender == self.owner, "wallet: not owner"
    raw_call(target, data)
