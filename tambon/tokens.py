"""The tokens grants are paid in: a standard ERC-20 ABI and what we know of each token.

A grant names its token by address (the zero address for ETH). What a person sees — symbol,
decimals, currency sign — comes from here: the deployment file's own stablecoin (`ThbToken` on a
local chain) is known without asking the chain; any other ERC-20 is read from the chain once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3

from tambon.chain import Deployment

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _function(name: str, inputs: str, outputs: str, mutability: str) -> dict[str, Any]:
    def params(spec: str) -> list[dict[str, str]]:
        return [dict(zip(("type", "name"), p.split(" "), strict=True)) for p in spec.split(",") if p]

    return {
        "type": "function",
        "name": name,
        "stateMutability": mutability,
        "inputs": params(inputs),
        "outputs": params(outputs),
    }


#: The ERC-20 functions grants use (EIP-20), for any token: no contract's own ABI is borrowed.
ERC20_ABI: list[dict[str, Any]] = [
    _function("name", "", "string ", "view"),
    _function("symbol", "", "string ", "view"),
    _function("decimals", "", "uint8 ", "view"),
    _function("totalSupply", "", "uint256 ", "view"),
    _function("balanceOf", "address owner", "uint256 ", "view"),
    _function("allowance", "address owner,address spender", "uint256 ", "view"),
    _function("approve", "address spender,uint256 amount", "bool ", "nonpayable"),
    _function("transfer", "address to,uint256 amount", "bool ", "nonpayable"),
    _function("transferFrom", "address owner,address to,uint256 amount", "bool ", "nonpayable"),
]

#: Currency signs by symbol, as receipts print them; other tokens show their symbol.
CURRENCY_SIGNS = {"THB": "฿"}
MAX_SYMBOL_LENGTH = 12


@dataclass(frozen=True, slots=True)
class Token:
    address: str
    symbol: str
    decimals: int

    @property
    def is_eth(self) -> bool:
        return self.address == ZERO_ADDRESS

    @property
    def sign(self) -> str | None:
        return CURRENCY_SIGNS.get(self.symbol)


ETH = Token(ZERO_ADDRESS, "ETH", 18)
#: A token that does not answer symbol()/decimals(): amounts are shown in base units.
UNKNOWN_SYMBOL = "tokens"


def known_tokens(deployment: Deployment) -> dict[str, Token]:
    """Tokens known from the deployment file alone, by lower-case address (ETH included)."""
    known = {ZERO_ADDRESS: ETH}
    thb = deployment.contracts.get("ThbToken")
    if thb:
        known[thb.lower()] = Token(Web3.to_checksum_address(thb), "THB", 18)
    return known


def erc20(w3: Web3, address: str) -> Any:
    """A web3 contract for any ERC-20 at `address`."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=ERC20_ABI)


def read_token(w3: Web3, address: str, deployment: Deployment) -> Token:
    """The token at `address`: from the deployment if known, else its symbol and decimals on chain."""
    known = known_tokens(deployment).get(address.lower())
    if known is not None:
        return known
    contract = erc20(w3, address)
    try:
        symbol = str(contract.functions.symbol().call())[:MAX_SYMBOL_LENGTH]
        decimals = int(contract.functions.decimals().call())
    except Exception:  # no code, or a token without the optional metadata functions
        return Token(Web3.to_checksum_address(address), UNKNOWN_SYMBOL, 0)
    return Token(Web3.to_checksum_address(address), symbol, decimals)
