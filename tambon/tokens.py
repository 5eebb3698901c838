"""The tokens grants are paid in: a standard ERC-20 ABI and what we know of each token.

A grant names its token by address (the zero address for ETH). What a person sees — symbol,
decimals, currency sign — comes from here: the stablecoins the deployment file names (`ThbToken` on
a local chain) are known without asking the chain, with the currency they stand for; any other
ERC-20 is read from the chain once and shown by its symbol only (a symbol proves no currency).
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True, slots=True)
class Stablecoin:
    """A stablecoin a deployment may name: its symbol, decimals and the ISO 4217 currency it stands for."""

    symbol: str
    decimals: int
    currency: str


#: Stablecoins by their contract name in the deployment file; a second one is one more line here.
STABLECOINS: dict[str, Stablecoin] = {"ThbToken": Stablecoin("THB", 18, "THB")}
#: Currency signs by ISO 4217 code, as receipts print them; tokens without one show their symbol.
CURRENCY_SIGNS = {"THB": "฿"}
MAX_SYMBOL_LENGTH = 12


@dataclass(frozen=True, slots=True)
class Token:
    address: str
    symbol: str
    decimals: int
    #: ISO 4217 code of the currency a known stablecoin stands for; None for any other token
    currency: str | None = None

    @property
    def is_eth(self) -> bool:
        return self.address == ZERO_ADDRESS

    @property
    def sign(self) -> str | None:
        return CURRENCY_SIGNS.get(self.currency) if self.currency else None


ETH = Token(ZERO_ADDRESS, "ETH", 18)
#: A token that does not answer symbol()/decimals(): amounts are shown in base units.
UNKNOWN_SYMBOL = "tokens"


def known_tokens(deployment: Deployment) -> dict[str, Token]:
    """Tokens known from the deployment file alone, by lower-case address (ETH included)."""
    known = {ZERO_ADDRESS: ETH}
    for name, coin in STABLECOINS.items():
        address = deployment.contracts.get(name)
        if address:
            known[address.lower()] = Token(
                Web3.to_checksum_address(address), coin.symbol, coin.decimals, coin.currency
            )
    return known


def token_named(deployment: Deployment, name: str) -> Token | None:
    """A known token by its symbol ("eth", "thb"; any case), or None."""
    return next((t for t in known_tokens(deployment).values() if t.symbol.lower() == name.lower()), None)


def erc20(w3: Web3, address: str) -> Any:
    """A web3 contract for any ERC-20 at `address`."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=ERC20_ABI)


def read_token(
    w3: Web3, address: str, deployment: Deployment, call: Callable[[Any], Any] = lambda fn: fn.call()
) -> Token:
    """The token at `address`: from the deployment if known, else its symbol and decimals on chain
    (through `call`, which a caller may pin to a block or cache)."""
    known = known_tokens(deployment).get(address.lower())
    if known is not None:
        return known
    contract = erc20(w3, address)
    try:
        symbol = str(call(contract.functions.symbol()))[:MAX_SYMBOL_LENGTH]
        decimals = int(call(contract.functions.decimals()))
    except Exception:  # no code, or a token without the optional metadata functions
        return Token(Web3.to_checksum_address(address), UNKNOWN_SYMBOL, 0)
    return Token(Web3.to_checksum_address(address), symbol, decimals)
