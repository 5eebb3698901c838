"""The event decoder reads static values straight from their words: the same values eth-abi gives, and
eth-abi's answer (a value or an error) whenever a word is not plainly valid."""

from __future__ import annotations

import os
import random

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import event_abi_to_log_topic, to_checksum_address

from tambon.events import EventDecoder

ADDRESS = "0x" + "ab" * 20
ABI = [
    {
        "type": "event",
        "name": "Everything",
        "anonymous": False,
        "inputs": [
            {"name": "who", "type": "address", "indexed": True},
            {"name": "small", "type": "uint8", "indexed": True},
            {"name": "label", "type": "string", "indexed": True},
            {"name": "count", "type": "uint256", "indexed": False},
            {"name": "delta", "type": "int16", "indexed": False},
            {"name": "ok", "type": "bool", "indexed": False},
            {"name": "tag", "type": "bytes4", "indexed": False},
            {"name": "digest", "type": "bytes32", "indexed": False},
            {"name": "actor", "type": "address", "indexed": False},
        ],
    },
    {
        "type": "event",
        "name": "Dynamic",
        "anonymous": False,
        "inputs": [
            {"name": "id", "type": "uint256", "indexed": True},
            {"name": "ids", "type": "uint256[]", "indexed": False},
        ],
    },
]
DATA_TYPES = ["uint256", "int16", "bool", "bytes4", "bytes32", "address"]


def _log(event: str, topics: list[bytes], data: bytes) -> dict:
    abi = next(item for item in ABI if item["name"] == event)
    return {
        "address": ADDRESS,
        "topics": ["0x" + event_abi_to_log_topic(abi).hex(), *("0x" + t.hex() for t in topics)],
        "data": "0x" + data.hex(),
        "blockNumber": "0x1",
        "blockHash": "0x" + "00" * 32,
        "transactionHash": "0x" + "11" * 32,
        "logIndex": "0x0",
    }


def _by_eth_abi(topics: list[bytes], data: bytes) -> dict:
    (who,) = abi_decode(["address"], topics[0])
    (small,) = abi_decode(["uint8"], topics[1])
    values = abi_decode(DATA_TYPES, data)
    names = ["count", "delta", "ok", "tag", "digest", "actor"]
    out = {"who": to_checksum_address(who), "small": small, "label": topics[2]}
    out |= {n: to_checksum_address(v) if n == "actor" else v for n, v in zip(names, values, strict=True)}
    return out


def test_static_values__same_as_eth_abi():
    decoder = EventDecoder({ADDRESS: ("Test", ABI)})
    rng = random.Random(3)
    for _ in range(300):
        topics = [
            abi_encode(["address"], ["0x" + os.urandom(20).hex()]),
            abi_encode(["uint8"], [rng.randrange(256)]),
            os.urandom(32),
        ]
        data = abi_encode(
            DATA_TYPES,
            [
                rng.randrange(2**256),
                rng.randrange(-(2**15), 2**15),
                rng.random() < 0.5,
                os.urandom(4),
                os.urandom(32),
                "0x" + os.urandom(20).hex(),
            ],
        )
        event = decoder.decode(_log("Everything", topics, data))
        assert event is not None and event.args == _by_eth_abi(topics, data)


@pytest.mark.parametrize(
    ("word", "bad"),
    [
        (1, b"\x01" + bytes(31)),  # int16 with a non-sign-extended high byte
        (2, bytes(31) + b"\x02"),  # bool 2
        (3, b"\xde\xad\xbe\xef" + b"\x01" + bytes(27)),  # bytes4 with non-zero padding
        (5, b"\x01" + bytes(31)),  # address with a non-zero high byte
    ],
)
def test_words_not_plainly_valid__eth_abi_decides(word, bad):
    decoder = EventDecoder({ADDRESS: ("Test", ABI)})
    topics = [abi_encode(["address"], [ADDRESS]), abi_encode(["uint8"], [7]), bytes(32)]
    good = abi_encode(DATA_TYPES, [5, -3, True, b"abcd", bytes(32), ADDRESS])
    data = good[: 32 * word] + bad + good[32 * word + 32 :]
    try:
        expected = _by_eth_abi(topics, data)
    except Exception as exc:  # noqa: BLE001  (eth-abi's own error types)
        with pytest.raises(type(exc)):
            decoder.decode(_log("Everything", topics, data))
    else:
        event = decoder.decode(_log("Everything", topics, data))
        assert event is not None and event.args == expected


def test_dynamic_values__decoded_by_eth_abi():
    decoder = EventDecoder({ADDRESS: ("Test", ABI)})
    event = decoder.decode(
        _log("Dynamic", [abi_encode(["uint256"], [9])], abi_encode(["uint256[]"], [[1, 2, 3]]))
    )
    assert event is not None and event.args == {"id": 9, "ids": [1, 2, 3]}
