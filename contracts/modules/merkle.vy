# pragma version ~=0.4.3
"""
@title Merkle root of a batch of attestations
@custom:contract-name merkle
@license MIT
@notice The root `attestMany`-style functions rebuild from the EIP-712 struct
        hashes of their items: a node is keccak256 of its two children sorted
        ascending (OpenZeppelin's commutative pair hash); an odd node at the
        end of a level moves up unchanged. `tambon.attestation.merkle_root`
        is the same in Python.
"""

# @dev Most items one signed root covers.
MAX_ITEMS: constant(uint256) = 64


@internal
@pure
def _hash_pair(a: bytes32, b: bytes32) -> bytes32:
    if convert(a, uint256) < convert(b, uint256):
        return keccak256(concat(a, b))
    return keccak256(concat(b, a))


@internal
@pure
def _merkle_root(leaves: DynArray[bytes32, MAX_ITEMS]) -> bytes32:
    """
    @dev Builds the tree level by level in place; an odd last node moves up unchanged.
    """
    level: DynArray[bytes32, MAX_ITEMS] = leaves
    n: uint256 = len(level)
    # 64 leaves need 6 levels.
    for _: uint256 in range(7):
        if n == 1:
            break
        # Cannot overflow: n <= MAX_ITEMS.
        half: uint256 = unsafe_div(unsafe_add(n, 1), 2)
        for j: uint256 in range(half, bound=MAX_ITEMS // 2):
            left: uint256 = unsafe_mul(j, 2)
            if unsafe_add(left, 1) < n:
                level[j] = self._hash_pair(level[left], level[unsafe_add(left, 1)])
            else:
                level[j] = level[left]
        n = half
    return level[0]
