"""The two small protobuf encodings IPFS files are made of: dag-pb nodes and UnixFS `Data`.

Encoders write exactly the bytes Kubo (go-merkledag / go-unixfs) and `@ipld/dag-pb` write:
links first (field 2) and then data (field 1) in a node; every link carries Hash, Name (even
when empty) and Tsize; UnixFS fields in field-number order, `Type` always present.

Decoders are strict enough for untrusted blocks: bounds-checked, unknown fields skipped,
anything else raises `MalformedDag`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from multiformats import varint

from evidence.errors import MalformedDag

# UnixFS Data.DataType
RAW, DIRECTORY, FILE, METADATA, SYMLINK, HAMT_SHARD = 0, 1, 2, 3, 4, 5
TYPE_NAMES = {
    RAW: "raw",
    DIRECTORY: "directory",
    FILE: "file",
    METADATA: "metadata",
    SYMLINK: "symlink",
    HAMT_SHARD: "hamt-sharded-directory",
}

_venc = varint.encode


@dataclass(frozen=True, slots=True)
class PBLink:
    hash: bytes  # binary CID (CIDv0: the bare multihash)
    name: str
    tsize: int


@dataclass(frozen=True, slots=True)
class PBNode:
    links: list[PBLink]
    data: bytes | None


@dataclass(frozen=True, slots=True)
class UnixFSData:
    type: int
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: list[int] = field(default_factory=list)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, f"unknown({self.type})")


# --------------------------------------------------------------------------- encoding


def unixfs_header(type_: int, data_len: int | None) -> bytes:
    """UnixFS bytes that precede a leaf's payload: Type and the Data field's tag + length."""
    head = b"\x08" + _venc(type_)
    if data_len is not None:
        head += b"\x12" + _venc(data_len)
    return head


def encode_unixfs(
    type_: int, data: bytes | None = None, filesize: int | None = None, blocksizes: list[int] | None = None
) -> bytes:
    out = bytearray(b"\x08")
    out += _venc(type_)
    if data is not None:
        out += b"\x12"
        out += _venc(len(data))
        out += data
    if filesize is not None:
        out += b"\x18"
        out += _venc(filesize)
    if blocksizes:
        for size in blocksizes:
            out += b"\x20"
            out += _venc(size)
    return bytes(out)


def encode_link(cid: bytes, name: bytes, tsize: int) -> bytes:
    body = b"\x0a" + _venc(len(cid)) + cid + b"\x12" + _venc(len(name)) + name + b"\x18" + _venc(tsize)
    return b"\x12" + _venc(len(body)) + body


def encode_node(links: list[tuple[bytes, bytes, int]], data: bytes | None) -> bytes:
    """A dag-pb node from (cid, utf-8 name, tsize) links, which must already be in dag-pb order."""
    parts = [encode_link(cid, name, tsize) for cid, name, tsize in links]
    if data is not None:
        parts.append(b"\x0a" + _venc(len(data)) + data)
    return b"".join(parts)


def leaf_node_parts(type_: int, payload_len: int) -> tuple[bytes, bytes]:
    """Prefix and suffix that wrap a payload into a dag-pb leaf `PBNode{Data: UnixFS{type, data, filesize}}`.

    The payload itself is never copied: callers hash/write prefix, payload, suffix in turn.
    """
    inner_head = unixfs_header(type_, payload_len)
    inner_tail = b"\x18" + _venc(payload_len)
    inner_len = len(inner_head) + payload_len + len(inner_tail)
    return b"\x0a" + _venc(inner_len) + inner_head, inner_tail


# --------------------------------------------------------------------------- decoding


def read_varint(buf: bytes | memoryview, pos: int, end: int, where: str = "protobuf") -> tuple[int, int]:
    """Unsigned LEB128 varint at `pos` (dag-pb fields and CAR framing share it); returns (value, next pos)."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise MalformedDag(f"truncated varint in {where}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise MalformedDag(f"varint longer than 64 bits in {where}")


def _fields(buf: bytes | memoryview, start: int, end: int):
    """Yield (field number, wire type, value) where value is an int or a (start, end) span."""
    pos = start
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos, end)
            yield num, wire, value
        elif wire == 2:
            length, pos = read_varint(buf, pos, end)
            if pos + length > end:
                raise MalformedDag("length-delimited protobuf field runs past the block")
            yield num, wire, (pos, pos + length)
            pos += length
        elif wire == 1:
            pos += 8
            yield num, wire, None
        elif wire == 5:
            pos += 4
            yield num, wire, None
        else:
            raise MalformedDag(f"unsupported protobuf wire type {wire}")
    if pos != end:
        raise MalformedDag("protobuf field runs past the block")


def decode_node(block: bytes) -> PBNode:
    links: list[PBLink] = []
    data: bytes | None = None
    for num, wire, value in _fields(block, 0, len(block)):
        if num == 2 and wire == 2:
            start, end = value
            lhash: bytes | None = None
            name = ""
            tsize = 0
            for lnum, lwire, lvalue in _fields(block, start, end):
                if lnum == 1 and lwire == 2:
                    lhash = bytes(block[lvalue[0] : lvalue[1]])
                elif lnum == 2 and lwire == 2:
                    try:
                        name = bytes(block[lvalue[0] : lvalue[1]]).decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise MalformedDag("dag-pb link name is not UTF-8") from exc
                elif lnum == 3 and lwire == 0:
                    tsize = lvalue
            if lhash is None:
                raise MalformedDag("dag-pb link without a hash")
            links.append(PBLink(lhash, name, tsize))
        elif num == 1 and wire == 2:
            data = bytes(block[value[0] : value[1]])
        else:
            raise MalformedDag(f"unexpected field {num} in a dag-pb node")
    return PBNode(links, data)


def decode_unixfs(data: bytes | None) -> UnixFSData:
    if data is None:
        raise MalformedDag("dag-pb node carries no UnixFS data")
    type_: int | None = None
    payload: bytes | None = None
    filesize: int | None = None
    blocksizes: list[int] = []
    for num, wire, value in _fields(data, 0, len(data)):
        if num == 1 and wire == 0:
            type_ = value
        elif num == 2 and wire == 2:
            payload = data[value[0] : value[1]]
        elif num == 3 and wire == 0:
            filesize = value
        elif num == 4 and wire == 0:
            blocksizes.append(value)
        elif num == 4 and wire == 2:  # packed repeated, tolerated on read
            pos, end = value
            while pos < end:
                size, pos = read_varint(data, pos, end)
                blocksizes.append(size)
    if type_ is None:
        raise MalformedDag("UnixFS data without a type")
    return UnixFSData(type_, payload, filesize, blocksizes)
