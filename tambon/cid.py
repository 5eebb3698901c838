"""CIDs as the contracts store them: a sha2-256 digest (bytes32) and a multicodec (raw or dag-pb).

Off-chain code always rebuilds the CIDv1 in base32, the form Kubo prints with `--cid-version=1`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from multiformats import CID, multihash

from tambon.errors import InvalidCid

RAW = 0x55
DAG_PB = 0x70
SUPPORTED_CODECS = {RAW: "raw", DAG_PB: "dag-pb"}
SHA2_256 = 0x12


def decode_cid(value: str | bytes | CID, error: type[InvalidCid] = InvalidCid) -> CID:
    """A CID (string, binary or object) whose hash is a 32-byte sha2-256 and whose codec is raw or
    dag-pb — the only CIDs evidence may have; anything else raises `error` saying why."""
    try:
        if isinstance(value, CID):
            decoded = value
        elif isinstance(value, bytes | bytearray):
            decoded = CID.decode(bytes(value))
        else:
            decoded = CID.decode(value.strip())
    except Exception as exc:  # multiformats raises several unrelated types
        raise error(f"not a valid CID: {value!r}") from exc
    if decoded.hashfun.code != SHA2_256 or len(decoded.raw_digest) != 32:
        raise error(f"CID {decoded} does not use a 32-byte sha2-256 hash")
    if decoded.codec.code not in SUPPORTED_CODECS:
        raise error(f"CID {decoded} has codec {decoded.codec.name}; evidence is raw or dag-pb")
    return decoded


_V1_BASE32_LENGTH = 59  # "b" + base32 of 36 bytes (version, codec, sha2-256, 32, digest)


def cid_bytes(value: str, error: type[InvalidCid] = InvalidCid) -> bytes:
    """The binary form of a CID string, refusing what `decode_cid` refuses. The canonical form (CIDv1,
    base32, sha2-256, raw or dag-pb) is read directly; any other goes through multiformats."""
    text = value.strip()
    if len(text) == _V1_BASE32_LENGTH and text[0] == "b":
        try:
            binary = base64.b32decode(text[1:].upper() + "======")  # 58 characters: 6 to pad
        except ValueError:
            binary = b""
        if (
            len(binary) == 36
            and binary[0] == 1
            and binary[1] in SUPPORTED_CODECS
            and binary[2:4] == b"\x12\x20"
        ):
            return binary
    return bytes(decode_cid(text, error))


@dataclass(frozen=True, slots=True)
class OnchainCid:
    """The on-chain form of a CID: 32-byte sha2-256 digest plus its codec."""

    digest: bytes
    codec: int

    def __post_init__(self) -> None:
        if len(self.digest) != 32:
            raise InvalidCid(f"a CID digest is 32 bytes, got {len(self.digest)}")
        if self.codec not in SUPPORTED_CODECS:
            raise InvalidCid(f"unsupported CID codec 0x{self.codec:x} (raw 0x55 or dag-pb 0x70)")

    @classmethod
    def parse(cls, cid: str | CID) -> OnchainCid:
        """Accept a CIDv0 or CIDv1 string (or CID) whose hash is sha2-256."""
        if isinstance(cid, str):
            binary = cid_bytes(cid)  # the canonical form without multiformats' per-call validation
            return cls(digest=binary[-32:], codec=DAG_PB if binary[:2] == b"\x12\x20" else binary[1])
        decoded = decode_cid(cid)
        return cls(digest=bytes(decoded.raw_digest), codec=decoded.codec.code)

    @classmethod
    def from_chain(cls, digest: bytes | str, codec: int) -> OnchainCid:
        if isinstance(digest, str):
            digest = bytes.fromhex(digest.removeprefix("0x"))
        return cls(digest=bytes(digest), codec=int(codec))

    @property
    def cid(self) -> CID:
        return CID("base32", 1, SUPPORTED_CODECS[self.codec], multihash.wrap(self.digest, "sha2-256"))

    def __str__(self) -> str:
        # CIDv1 in base32 written out (version, codec, sha2-256 multihash): the same string the
        # multiformats CID gives, without its per-call type validation (pages and the index
        # build thousands)
        binary = bytes((1, self.codec, SHA2_256, 32)) + self.digest
        return "b" + base64.b32encode(binary).decode("ascii").lower().rstrip("=")

    @property
    def digest_hex(self) -> str:
        return "0x" + self.digest.hex()

    @property
    def is_empty(self) -> bool:
        return not any(self.digest)


def cid_string(digest: bytes | str, codec: int) -> str | None:
    """CIDv1 string for an on-chain pair, or None for the zero digest (nothing recorded)."""
    raw = bytes.fromhex(digest.removeprefix("0x")) if isinstance(digest, str) else bytes(digest)
    if not any(raw):
        return None
    return str(OnchainCid(raw, int(codec)))
