# pragma version ~=0.4.3
"""
@title Test EIP-1271 wallet whose answer is the magic value followed by junk
@notice Answers every `isValidSignature` with 0x1626ba7e and non-zero trailing
        bytes: a checker that reads only the first 4 bytes would take it as approval
        of anything.
"""


@external
@view
def isValidSignature(digest: bytes32, signature: Bytes[2_048]) -> bytes32:
    return 0x1626BA7E000000000000000000000000000000000000000000000000000000FF
