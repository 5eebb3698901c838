"""CARv1 files: what the trustless gateway answers to `?format=car`, and what verifiers read.

Header = varint length + dag-cbor `{"roots": [CID...], "version": 1}`; then for every block
varint(len(cid) + len(data)) + binary CID + data. The tiny dag-cbor header is written and
read here directly (map of two keys, CIDs as tag 42 byte strings with a 0x00 prefix).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from multiformats import varint

from evidence.errors import MalformedDag
from evidence.pb import read_varint

CONTENT_TYPE = "application/vnd.ipld.car; version=1; order=dfs; dups=n"


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    if value < 0x100:
        return bytes([major << 5 | 24, value])
    if value < 0x10000:
        return bytes([major << 5 | 25]) + value.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + value.to_bytes(4, "big")


def header(roots: list[bytes]) -> bytes:
    body = bytearray(b"\xa2")  # map(2); dag-cbor key order: "roots" (5) before "version" (7)
    body += _cbor_head(3, 5) + b"roots"
    body += _cbor_head(4, len(roots))
    for cid in roots:
        body += b"\xd8\x2a" + _cbor_head(2, len(cid) + 1) + b"\x00" + cid
    body += _cbor_head(3, 7) + b"version" + b"\x01"
    return varint.encode(len(body)) + bytes(body)


def section(cid: bytes, block: bytes) -> bytes:
    return varint.encode(len(cid) + len(block)) + cid


def write(roots: list[bytes], blocks: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """Stream a CAR: the header, then each block's section prefix and bytes."""
    yield header(roots)
    for cid, block in blocks:
        yield section(cid, block)
        yield block


# --------------------------------------------------------------------------- reading


def _uvarint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    return read_varint(buf, pos, len(buf), "CAR")


def _cid_length(buf: bytes | memoryview, pos: int) -> int:
    if buf[pos : pos + 2] == b"\x12\x20":
        return 34  # CIDv0: a bare sha2-256 multihash
    start = pos
    version, pos = _uvarint(buf, pos)
    if version != 1:
        raise MalformedDag(f"CAR block with CID version {version}")
    _codec, pos = _uvarint(buf, pos)
    _hash, pos = _uvarint(buf, pos)
    length, pos = _uvarint(buf, pos)
    return pos + length - start


def _cbor_item(buf: bytes, pos: int):
    """Decode the few CBOR forms a CAR header uses; returns (value, next position)."""
    if pos >= len(buf):
        raise MalformedDag("CAR header truncated")
    first = buf[pos]
    major, info = first >> 5, first & 0x1F
    pos += 1
    if info < 24:
        value = info
    elif info in (24, 25, 26, 27):
        n = 1 << (info - 24)
        value = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    else:
        raise MalformedDag("CAR header uses indefinite-length CBOR")
    if major == 0:
        return value, pos
    if major in (2, 3):
        raw = buf[pos : pos + value]
        if len(raw) != value:
            raise MalformedDag("CAR header truncated")
        return (bytes(raw) if major == 2 else bytes(raw).decode("utf-8")), pos + value
    if major == 4:
        items = []
        for _ in range(value):
            item, pos = _cbor_item(buf, pos)
            items.append(item)
        return items, pos
    if major == 5:
        out = {}
        for _ in range(value):
            key, pos = _cbor_item(buf, pos)
            item, pos = _cbor_item(buf, pos)
            out[key] = item
        return out, pos
    if major == 6 and value == 42:
        item, pos = _cbor_item(buf, pos)
        if not isinstance(item, bytes) or not item.startswith(b"\x00"):
            raise MalformedDag("CAR root is not a CID")
        return ("cid", item[1:]), pos
    raise MalformedDag(f"unexpected CBOR item (major type {major}) in a CAR header")


def read(data: bytes) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """(roots, [(cid, block)]) of a CARv1; hashes are NOT checked here (see evidence.verify)."""
    try:
        length, pos = _uvarint(data, 0)
        head, end = _cbor_item(data[pos : pos + length], 0)
        if end != length or not isinstance(head, dict) or head.get("version") != 1:
            raise MalformedDag("not a CARv1 header")
        roots_raw = head.get("roots")
        if not isinstance(roots_raw, list) or not all(isinstance(r, tuple) for r in roots_raw):
            raise MalformedDag("CAR header without roots")
        roots = [r[1] for r in roots_raw]
        pos += length
        blocks = []
        while pos < len(data):
            size, pos = _uvarint(data, pos)
            if size == 0 or pos + size > len(data):
                raise MalformedDag("CAR section runs past the end")
            cid_len = _cid_length(data, pos)
            if cid_len > size:
                raise MalformedDag("CAR section shorter than its CID")
            blocks.append((bytes(data[pos : pos + cid_len]), bytes(data[pos + cid_len : pos + size])))
            pos += size
        return roots, blocks
    except (IndexError, UnicodeDecodeError) as exc:
        raise MalformedDag(f"malformed CAR: {exc}") from exc
