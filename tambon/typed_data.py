"""EIP-712 typed data as wallets see it (`eth_signTypedData_v4` JSON), signing, and council signature packing.

Every council decision is one of the messages below. `typed_data()` gives the exact JSON a wallet
shows, so a signature from MetaMask, a hardware wallet or `tambon grant sign` is the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from tambon.errors import SignatureError

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ESCROW_DOMAIN_NAME = "Tambon GrantEscrow"
DOMAIN_VERSION = "1"

EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _fields(spec: str) -> list[dict[str, str]]:
    return [dict(zip(("type", "name"), f.split(" "), strict=True)) for f in spec.split(",")]


#: Message types by primary type name; field order is the on-chain type string's order.
ESCROW_TYPES: dict[str, list[dict[str, str]]] = {
    "Release": _fields(
        "uint256 grantId,uint256 milestoneId,bytes32 evidence,uint256 amount,uint256 nonce,uint256 deadline"
    ),
    "Reject": _fields(
        "uint256 grantId,uint256 milestoneId,bytes32 evidence,bytes32 reason,uint256 nonce,uint256 deadline"
    ),
    "Submit": _fields(
        "uint256 grantId,uint256 milestoneId,bytes32 evidence,uint8 codec,uint256 nonce,uint256 deadline"
    ),
    "Cancel": _fields("uint256 grantId,uint256 nonce,uint256 deadline"),
    "AddMember": _fields("address member,uint256 threshold,uint256 nonce,uint256 deadline"),
    "RemoveMember": _fields("address member,uint256 threshold,uint256 nonce,uint256 deadline"),
    "ChangeThreshold": _fields("uint256 threshold,uint256 nonce,uint256 deadline"),
    "RegisterProducer": _fields(
        "address registry,address producer,string registrationId,string name,uint256 nonce,uint256 deadline"
    ),
    "RevokeProducer": _fields("address registry,address producer,uint256 nonce,uint256 deadline"),
    "AddOracleKey": _fields("address registry,address key,uint256 nonce,uint256 deadline"),
    "RevokeOracleKey": _fields("address registry,address key,uint256 nonce,uint256 deadline"),
    "ApproveModel": _fields("address registry,bytes32 modelSha256,uint256 nonce,uint256 deadline"),
    "RevokeModel": _fields("address registry,bytes32 modelSha256,uint256 nonce,uint256 deadline"),
}
#: Decisions that consume the council-wide nonce (the rest carry a milestone's nonce).
COUNCIL_NONCE_TYPES = frozenset(ESCROW_TYPES) - {"Release", "Reject", "Submit"}


def type_string(primary: str, types: dict[str, list[dict[str, str]]] = ESCROW_TYPES) -> str:
    fields = ",".join(f"{f['type']} {f['name']}" for f in types[primary])
    return f"{primary}({fields})"


def domain(name: str, chain_id: int, verifying_contract: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": DOMAIN_VERSION,
        "chainId": int(chain_id),  # a number: wallets compare it with the connected chain
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def _json_value(kind: str, value: Any) -> Any:
    if kind.startswith("bytes"):
        raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
        return "0x" + raw.hex()
    if kind == "address":
        return to_checksum_address(value)
    if kind.startswith(("uint", "int")):
        # Decimal strings: JSON numbers lose precision past 2**53 in JavaScript wallets.
        return str(int(value))
    return value


def typed_data(
    primary: str,
    message: dict[str, Any],
    domain_: dict[str, Any],
    types: dict[str, list[dict[str, str]]] = ESCROW_TYPES,
) -> dict[str, Any]:
    """The full `eth_signTypedData_v4` payload (JSON-serialisable) for one message."""
    fields = types[primary]
    missing = {f["name"] for f in fields} - message.keys()
    if missing:
        raise SignatureError(f"{primary} message is missing {', '.join(sorted(missing))}")
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN, primary: fields},
        "primaryType": primary,
        "domain": domain_,
        "message": {f["name"]: _json_value(f["type"], message[f["name"]]) for f in fields},
    }


def digest(data: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest a contract recomputes for this typed data."""
    signable = encode_typed_data(full_message=data)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign(data: dict[str, Any], private_key: bytes | str) -> bytes:
    """Sign typed data exactly as `eth_signTypedData_v4` does: 65 bytes r || s || v, low-s."""
    signed = Account.sign_message(encode_typed_data(full_message=data), private_key)
    return bytes(signed.signature)


def recover(data: dict[str, Any], signature: bytes | str) -> str:
    """Address that signed `data`; refuses malformed and high-s signatures like the contracts do."""
    raw = bytes.fromhex(signature.removeprefix("0x")) if isinstance(signature, str) else bytes(signature)
    if len(raw) != 65:
        raise SignatureError(f"a signature is 65 bytes, got {len(raw)}")
    if int.from_bytes(raw[32:64], "big") > SECP256K1_N // 2:
        raise SignatureError("signature has a high s value (malleable); sign again with a current wallet")
    if raw[64] not in (27, 28):
        raise SignatureError(f"signature v must be 27 or 28, got {raw[64]}")
    try:
        return Account.recover_message(encode_typed_data(full_message=data), signature=raw)
    except Exception as exc:  # eth_keys raises BadSignature and ValueError variants
        raise SignatureError(f"signature does not recover: {exc}") from exc


@dataclass(frozen=True)
class CouncilApproval:
    """One member's approval in a council signature blob (see contracts/modules/council.vy)."""

    signer: str
    signature: bytes = b""  # ECDSA 65 bytes; empty for an on-chain approval
    contract_data: bytes | None = None  # EIP-1271 signature data of a contract member

    @property
    def signer_int(self) -> int:
        return int(self.signer, 16)


def pack_signatures(approvals: list[CouncilApproval]) -> bytes:
    """Concatenate approvals sorted by signer: 65-byte entries, then contract signature data."""
    ordered = sorted(approvals, key=lambda a: a.signer_int)
    if len({a.signer_int for a in ordered}) != len(ordered):
        raise SignatureError("the same member approved twice")
    static_part = b""
    dynamic_part = b""
    dynamic_start = 65 * len(ordered)
    for approval in ordered:
        signer_word = approval.signer_int.to_bytes(32, "big")
        if approval.contract_data is not None:
            offset = dynamic_start + len(dynamic_part)
            static_part += signer_word + offset.to_bytes(32, "big") + b"\x00"
            dynamic_part += len(approval.contract_data).to_bytes(32, "big") + approval.contract_data
        elif approval.signature:
            if len(approval.signature) != 65:
                raise SignatureError(f"signature of {approval.signer} is not 65 bytes")
            static_part += approval.signature
        else:
            static_part += signer_word + bytes(32) + b"\x01"
    return static_part + dynamic_part
