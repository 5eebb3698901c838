"""Send contract transactions from a local account, turning reverts into one clear error."""

from __future__ import annotations

import re

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted
from web3.types import TxParams, TxReceipt, Wei

from tambon.errors import ChainError

_REVERT_PREFIX = re.compile(r"^(execution reverted:?\s*)+")


def revert_reason(exc: Exception) -> str:
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    return _REVERT_PREFIX.sub("", message).strip() or "reverted without a reason"


def send(
    w3: Web3,
    account: LocalAccount,
    call: ContractFunction | ContractConstructor,
    value: int = 0,
    timeout: float = 120,
) -> TxReceipt:
    """Estimate (so a revert surfaces with its reason before anything is signed), sign, send, wait."""
    params: TxParams = {"from": account.address, "value": Wei(value)}
    try:
        gas = call.estimate_gas(params)
    except ContractLogicError as exc:
        raise ChainError(revert_reason(exc)) from exc
    tx = call.build_transaction(
        {
            **params,
            "gas": gas + gas // 5,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    signed = account.sign_transaction(tx)  # type: ignore[arg-type]  # eth-account types a narrower dict
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    try:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    except TimeExhausted as exc:
        raise ChainError(f"transaction {tx_hash.hex()} not mined within {timeout:.0f} s") from exc
    if receipt["status"] != 1:
        raise ChainError(f"transaction {tx_hash.hex()} reverted")
    return receipt
