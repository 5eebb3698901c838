"""Signed attestations read from `attest` / `attestMany` calldata word by word are eth-abi's, and any
encoding that is not the canonical one is left to eth-abi."""

from __future__ import annotations

import json
import os
import random

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_abi_to_4byte_selector, to_checksum_address

from tambon.chain import load_abi
from tambon.events import word_reader
from tambon.index.follower import SIGNATURE_COLUMNS, CalldataDecoder, _abi_type, _static_items

REGISTRY = "0x" + "12" * 20


def _function(name: str) -> tuple[str, list[str]]:
    item = next(
        i for i in load_abi("AttestationRegistry") if i.get("type") == "function" and i["name"] == name
    )
    return "0x" + function_abi_to_4byte_selector(item).hex(), [_abi_type(i) for i in item["inputs"]]


def _random_item(rng: random.Random, types: list[str]) -> tuple:
    values: list = []
    for t in types:
        if t == "address":
            values.append(to_checksum_address("0x" + rng.randbytes(20).hex()))
        elif t.startswith("bytes"):
            values.append(rng.randbytes(int(t[5:])))
        else:
            assert t.startswith("uint"), t
            values.append(rng.randrange(2 ** int(t[4:] or 256)))
    return tuple(values)


def _expected(name: str, types: list[str], body: bytes) -> dict:
    args = abi_decode(types, body)
    items = [args[0]] if name == "attest" else list(args[0])
    jsonable = [["0x" + v.hex() if isinstance(v, bytes) else v for v in item] for item in items]
    return {"signature": "0x" + args[1].hex(), "items": json.dumps(jsonable, separators=(",", ":"))}


def _row(decoder: CalldataDecoder, tx: dict, block_number: int) -> dict:
    return dict(zip(SIGNATURE_COLUMNS, decoder.row(tx, block_number), strict=True))


def test_calldata__canonical_and_not__same_as_eth_abi():
    decoder = CalldataDecoder(REGISTRY)
    rng = random.Random(5)
    for name in ("attest", "attestMany"):
        selector, types = _function(name)
        fields = types[0].strip("()[]").split(",")
        for count in (1, 2, 64):
            if name == "attest" and count > 1:
                continue
            items = [_random_item(rng, fields) for _ in range(count)]
            signature = os.urandom(rng.choice([65, 65 * 3, 0, 31]))
            body = abi_encode(types, [items[0] if name == "attest" else items, signature])
            tx = {"hash": "0x" + "ab" * 32, "to": REGISTRY, "input": selector + body.hex()}
            row = _row(decoder, tx, 7)
            assert row["function"] == name and row["block_number"] == 7
            assert {k: row[k] for k in ("signature", "items")} == _expected(name, types, body)

    # attest with its signature placed one word further than eth-abi puts it: valid ABI, not canonical
    selector, types = _function("attest")
    fields = types[0].strip("()").split(",")
    item = _random_item(rng, fields)
    signature = os.urandom(65)
    canonical = abi_encode(types, [item, signature])
    head = 32 * len(fields)
    at = head + 32
    moved = canonical[:head] + (at + 32).to_bytes(32, "big") + bytes(32) + canonical[at:]
    row = _row(decoder, {"hash": "0x" + "cd" * 32, "to": REGISTRY, "input": selector + moved.hex()}, 8)
    assert {k: row[k] for k in ("signature", "items")} == _expected("attest", types, moved)
    readers = tuple(r for t in fields if (r := word_reader(t)) is not None)
    assert _static_items(False, readers, canonical) is not None  # read word by word
    assert _static_items(False, readers, moved) is None  # left to eth-abi
    assert row == _row(
        decoder, {"hash": "0x" + "cd" * 32, "to": REGISTRY, "input": selector + canonical.hex()}, 8
    )
