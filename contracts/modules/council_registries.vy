# pragma version ~=0.4.3
"""
@title Council authority over the provenance and attestation registries
@custom:contract-name council_registries
@license MIT
@notice The อปท. council owns its BatchProvenance and AttestationRegistry
        contracts. Each administrative act is its own EIP-712 message, so a
        member's wallet shows exactly what is decided ("register producer X as
        community enterprise Y", "revoke oracle key Z") rather than opaque
        calldata. Each consumes the council nonce.
"""

# @dev Signature checks (in the escrow's EIP-712 domain) and the council nonce.
from modules import council

uses: council


interface IProducerRegistry:
    def registerProducer(account: address, registrationId: String[64], name: String[128]): nonpayable
    def revokeProducer(account: address): nonpayable


interface IOracleRegistry:
    def addOracleKey(key: address): nonpayable
    def revokeOracleKey(key: address): nonpayable
    def approveModel(modelSha256: bytes32): nonpayable
    def revokeModel(modelSha256: bytes32): nonpayable


REGISTER_PRODUCER_TYPEHASH: constant(bytes32) = keccak256(
    "RegisterProducer(address registry,address producer,string registrationId,string name,uint256 nonce,uint256 deadline)"
)
REVOKE_PRODUCER_TYPEHASH: constant(bytes32) = keccak256(
    "RevokeProducer(address registry,address producer,uint256 nonce,uint256 deadline)"
)
ADD_ORACLE_KEY_TYPEHASH: constant(bytes32) = keccak256(
    "AddOracleKey(address registry,address key,uint256 nonce,uint256 deadline)"
)
REVOKE_ORACLE_KEY_TYPEHASH: constant(bytes32) = keccak256(
    "RevokeOracleKey(address registry,address key,uint256 nonce,uint256 deadline)"
)
APPROVE_MODEL_TYPEHASH: constant(bytes32) = keccak256(
    "ApproveModel(address registry,bytes32 modelSha256,uint256 nonce,uint256 deadline)"
)
REVOKE_MODEL_TYPEHASH: constant(bytes32) = keccak256(
    "RevokeModel(address registry,bytes32 modelSha256,uint256 nonce,uint256 deadline)"
)


@external
def register_producer(
    registry: address,
    producer: address,
    registration_id: String[64],
    name: String[128],
    deadline: uint256,
    signatures: Bytes[council.MAX_SIGNATURES_BYTES],
):
    """
    @notice Mark an address as a registered community enterprise (วิสาหกิจชุมชน).
    @param registry The BatchProvenance contract this council owns.
    @param producer The enterprise's wallet.
    @param registration_id Its official registration number.
    @param name Its registered name.
    @param deadline Unix time after which the signatures are void.
    @param signatures Council approvals of `RegisterProducer(...)`, sorted by signer.
    """
    council._authorize_council(
        keccak256(
            abi_encode(
                REGISTER_PRODUCER_TYPEHASH,
                registry,
                producer,
                keccak256(registration_id),
                keccak256(name),
                council.council_nonce,
                deadline,
            )
        ),
        deadline,
        signatures,
    )
    extcall IProducerRegistry(registry).registerProducer(producer, registration_id, name)


@external
def revoke_producer(
    registry: address, producer: address, deadline: uint256, signatures: Bytes[council.MAX_SIGNATURES_BYTES]
):
    """
    @notice Withdraw a producer's registration; its past batches keep their history.
    @param registry The BatchProvenance contract this council owns.
    @param producer The enterprise's wallet.
    @param deadline Unix time after which the signatures are void.
    @param signatures Council approvals of `RevokeProducer(...)` with the council nonce, sorted by signer.
    """
    council._authorize_council(
        keccak256(abi_encode(REVOKE_PRODUCER_TYPEHASH, registry, producer, council.council_nonce, deadline)),
        deadline,
        signatures,
    )
    extcall IProducerRegistry(registry).revokeProducer(producer)


@external
def add_oracle_key(registry: address, key: address, deadline: uint256, signatures: Bytes[council.MAX_SIGNATURES_BYTES]):
    """
    @notice Let a grading oracle key sign attestations in the AttestationRegistry.
    @param registry The AttestationRegistry this council owns.
    @param key The oracle's signing address.
    @param deadline Unix time after which the signatures are void.
    @param signatures Council approvals of `AddOracleKey(...)` with the council nonce, sorted by signer.
    """
    council._authorize_council(
        keccak256(abi_encode(ADD_ORACLE_KEY_TYPEHASH, registry, key, council.council_nonce, deadline)),
        deadline,
        signatures,
    )
    extcall IOracleRegistry(registry).addOracleKey(key)


@external
def revoke_oracle_key(
    registry: address, key: address, deadline: uint256, signatures: Bytes[council.MAX_SIGNATURES_BYTES]
):
    """
    @notice Stop accepting attestations from a key; its earlier ones stay visible as made by a now-revoked key.
    @param registry The AttestationRegistry this council owns.
    @param key The oracle's signing address.
    @param deadline Unix time after which the signatures are void.
    @param signatures Council approvals of `RevokeOracleKey(...)` with the council nonce, sorted by signer.
    """
    council._authorize_council(
        keccak256(abi_encode(REVOKE_ORACLE_KEY_TYPEHASH, registry, key, council.council_nonce, deadline)),
        deadline,
        signatures,
    )
    extcall IOracleRegistry(registry).revokeOracleKey(key)


@external
def approve_model(
    registry: address, model_sha256: bytes32, deadline: uint256, signatures: Bytes[council.MAX_SIGNATURES_BYTES]
):
    """
    @notice Approve a grading model by the sha256 of its ONNX file.
    @param registry The AttestationRegistry this council owns.
    @param model_sha256 sha256 of the ONNX file.
    @param deadline Unix time after which the signatures are void.
    @param signatures Council approvals of `ApproveModel(...)` with the council nonce, sorted by signer.
    """
    council._authorize_council(
        keccak256(abi_encode(APPROVE_MODEL_TYPEHASH, registry, model_sha256, council.council_nonce, deadline)),
        deadline,
        signatures,
    )
    extcall IOracleRegistry(registry).approveModel(model_sha256)


@external
def revoke_model(
    registry: address, model_sha256: bytes32, deadline: uint256, signatures: Bytes[council.MAX_SIGNATURES_BYTES]
):
    """
    @notice Withdraw a grading model's approval.
    @param registry The AttestationRegistry this council owns.
    @param model_sha256 sha256 of the ONNX file.
    @param deadline Unix time after which the signatures are void.
    @param signatures Council approvals of `RevokeModel(...)` with the council nonce, sorted by signer.
    """
    council._authorize_council(
        keccak256(abi_encode(REVOKE_MODEL_TYPEHASH, registry, model_sha256, council.council_nonce, deadline)),
        deadline,
        signatures,
    )
    extcall IOracleRegistry(registry).revokeModel(model_sha256)
