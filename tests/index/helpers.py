"""Compare an index with the chain: every stored event against a direct, unchunked scan."""

from __future__ import annotations

from sqlalchemy import select
from web3 import Web3

from tambon.chain import load_abi
from tambon.events import PROJECT_CONTRACTS
from tambon.index import schema
from tambon.index.store import IndexStore, encode_args


def _plain(value):
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def direct_scan(w3: Web3, deployment, to_block: int) -> list[tuple]:
    """Every project log from the deployment block to `to_block`, decoded by web3 itself."""
    contracts = {
        Web3.to_checksum_address(deployment.contracts[n]): w3.eth.contract(
            address=deployment.contracts[n], abi=load_abi(n)
        )
        for n in PROJECT_CONTRACTS
    }
    names = {a: n for n in PROJECT_CONTRACTS for a in [Web3.to_checksum_address(deployment.contracts[n])]}
    raw = w3.eth.get_logs({"address": list(contracts), "fromBlock": deployment.block, "toBlock": to_block})
    out = []
    for log in raw:
        contract = contracts[log["address"]]
        topic = log["topics"][0]
        abi = next(
            a for a in contract.abi if a.get("type") == "event" and Web3.keccak(text=_signature(a)) == topic
        )
        decoded = getattr(contract.events, abi["name"])().process_log(log)
        args = {k: _plain(v) for k, v in decoded["args"].items()}
        out.append(
            (
                log["blockNumber"],
                log["logIndex"],
                log["blockHash"].to_0x_hex(),
                log["transactionHash"].to_0x_hex(),
                names[log["address"]],
                abi["name"],
                encode_args(args),
            )
        )
    return sorted(out)


def _signature(abi) -> str:
    return f"{abi['name']}({','.join(i['type'] for i in abi['inputs'])})"


def stored_events(store: IndexStore) -> list[tuple]:
    e = schema.events
    with store.engine.connect() as conn:
        rows = conn.execute(select(e).order_by(e.c.block_number, e.c.log_index)).all()
    return [(r.block_number, r.log_index, r.block_hash, r.tx_hash, r.contract, r.name, r.args) for r in rows]


def catch_up(follower, limit: int = 10_000) -> None:
    for _ in range(limit):
        report = follower.step()
        if report.caught_up:
            return
    raise AssertionError("the follower did not catch up")


#: when each evidence proof was made: differs between two sites reading the same facts
PROOF_TIMES = frozenset({"checked_at", "unavailable_since"})


def without_proof_times(value):
    """An API answer without the times its evidence proofs were made (and without its head)."""
    if isinstance(value, dict):
        return {k: without_proof_times(v) for k, v in value.items() if k not in PROOF_TIMES and k != "head"}
    if isinstance(value, list):
        return [without_proof_times(v) for v in value]
    return value
