# pragma version ~=0.4.3
"""
@title Oracle keys of the attestation registry
@custom:contract-name oracle_keys
@license MIT
@notice The keys that may sign attestations (grading and cold chain alike),
        with their activation and revocation times. The owner (the council)
        adds and revokes keys; a revoked key never comes back, so a key's
        history stays true and a verifier can tell an attestation made by a
        key that was revoked later.
@dev    key -> activatedAt | revokedAt << 64 (0 = never added).
"""

# @dev The owner manages the keys.
from snekmate.auth import ownable
uses: ownable


_U64: constant(uint256) = (1 << 64) - 1
# @dev How far a signed fact's own date may run ahead of the block time (oracle clock skew).
MAX_CLOCK_SKEW: constant(uint256) = 300

_keys: HashMap[address, uint256]


event OracleKeyAdded:
    key: indexed(address)
    activatedAt: uint64

event OracleKeyRevoked:
    key: indexed(address)
    revokedAt: uint64


@external
@view
def keyStatus(key: address) -> (uint64, uint64):
    """
    @notice Activation and revocation times of an oracle key.
    @param key The oracle key.
    @return uint64 activatedAt (0 = never added).
    @return uint64 revokedAt (0 = not revoked).
    """
    k: uint256 = self._keys[key]
    return convert(k & _U64, uint64), convert(k >> 64, uint64)


@external
@view
def is_active_key(key: address) -> bool:
    """
    @notice Whether `key` may sign attestations now.
    @param key The oracle key.
    @return bool True if added and not revoked.
    """
    k: uint256 = self._keys[key]
    return k != 0 and k >> 64 == 0


@external
def addOracleKey(key: address):
    """
    @notice Lets `key` sign attestations from now on.
    @dev Owner only. A revoked key cannot come back (rotate to a new key),
         so its activation/revocation times stay a true history.
    @param key The oracle signer address.
    """
    ownable._check_owner()
    assert key != empty(address), "registry: zero key"
    k: uint256 = self._keys[key]
    assert k >> 64 == 0, "registry: key revoked"
    assert k == 0, "registry: key already active"
    self._keys[key] = block.timestamp
    log OracleKeyAdded(key=key, activatedAt=convert(block.timestamp, uint64))


@external
def revokeOracleKey(key: address):
    """
    @notice Stops `key` from signing; its past attestations stay, marked by the revocation time.
    @dev Owner only.
    @param key The oracle signer address.
    """
    ownable._check_owner()
    k: uint256 = self._keys[key]
    assert k != 0 and k >> 64 == 0, "registry: key not active"
    self._keys[key] = k | (block.timestamp << 64)
    log OracleKeyRevoked(key=key, revokedAt=convert(block.timestamp, uint64))


@internal
@view
def _check_key(signer: address) -> uint256:
    """
    @dev Reverts unless `signer` is an active key; returns its activation time.
    """
    k: uint256 = self._keys[signer]
    assert k != 0 and k >> 64 == 0, "registry: key not active"
    return k


@internal
@view
def _status(key: address) -> uint256:
    """
    @dev The packed activation | revocation << 64 word of `key`.
    """
    return self._keys[key]
