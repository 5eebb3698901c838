# pragma version ~=0.4.3
"""
@title Oracle keys and approved hashes of the attestation registry
@custom:contract-name oracle_keys
@license MIT
@notice The keys that may sign attestations (grading and cold chain alike),
        with their activation and revocation times. The owner (the council)
        adds and revokes keys; a revoked key never comes back, so a key's
        history stays true and a verifier can tell an attestation made by a
        key that was revoked later. The same owner approves the sha256 of
        what attestations cite: grading models (ONNX files) and cold-chain
        rule sets (`oracle/coldchain/crop_rules.json`), one table for both,
        approved by the council's ApproveModel decision.
@dev    key -> activatedAt | revokedAt << 64 (0 = never added).
"""

# @dev The owner manages the keys.
from snekmate.auth import ownable

uses: ownable

_U64: constant(uint256) = (1 << 64) - 1
# @dev How far a signed fact's own date may run ahead of the block time (oracle clock skew).
MAX_CLOCK_SKEW: constant(uint256) = 300

_keys: HashMap[address, uint256]
# @dev model sha256 -> index | approvedAt << 32 | revokedAt << 96.
_models: HashMap[bytes32, uint256]
# @dev model index (from 1) -> sha256.
_model_hashes: HashMap[uint256, bytes32]
_model_count: uint256


event OracleKeyAdded:
    key: indexed(address)
    activatedAt: uint64


event OracleKeyRevoked:
    key: indexed(address)
    revokedAt: uint64


event ModelApproved:
    modelSha256: indexed(bytes32)
    approvedAt: uint64


event ModelRevoked:
    modelSha256: indexed(bytes32)
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


@external
@view
def modelStatus(modelSha256: bytes32) -> (uint64, uint64):
    """
    @notice Approval and revocation times of a model.
    @param modelSha256 sha256 of the ONNX file.
    @return uint64 approvedAt (0 = never approved).
    @return uint64 revokedAt (0 = not revoked).
    """
    m: uint256 = self._models[modelSha256]
    return convert((m >> 32) & _U64, uint64), convert(m >> 96, uint64)


@external
@view
def is_approved_model(modelSha256: bytes32) -> bool:
    """
    @notice Whether attestations may cite `modelSha256` now.
    @param modelSha256 sha256 of the ONNX file.
    @return bool True if approved and not revoked.
    """
    m: uint256 = self._models[modelSha256]
    return m != 0 and m >> 96 == 0


@external
def approveModel(modelSha256: bytes32):
    """
    @notice Lets attestations cite the model with this sha256.
    @dev Owner only. A revoked model cannot be approved again.
    @param modelSha256 sha256 of the ONNX file.
    """
    ownable._check_owner()
    assert modelSha256 != empty(bytes32), "registry: zero model"
    m: uint256 = self._models[modelSha256]
    assert m >> 96 == 0, "registry: model revoked"
    assert m == 0, "registry: model already approved"
    index: uint256 = self._model_count + 1
    self._model_count = index
    self._model_hashes[index] = modelSha256
    self._models[modelSha256] = index | (block.timestamp << 32)
    log ModelApproved(modelSha256=modelSha256, approvedAt=convert(block.timestamp, uint64))


@external
def revokeModel(modelSha256: bytes32):
    """
    @notice Stops new attestations citing this model; recorded ones stay.
    @dev Owner only.
    @param modelSha256 sha256 of the ONNX file.
    """
    ownable._check_owner()
    m: uint256 = self._models[modelSha256]
    assert m != 0 and m >> 96 == 0, "registry: model not approved"
    self._models[modelSha256] = m | (block.timestamp << 96)
    log ModelRevoked(modelSha256=modelSha256, revokedAt=convert(block.timestamp, uint64))


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
