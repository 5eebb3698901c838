# pragma version ~=0.4.3
"""
@title Test rebasing ERC-20
@notice Balances are shares times an index; `rebase` moves the index, so every
        holder's balance grows or shrinks at once without a transfer (stETH-like).
"""

_shares: HashMap[address, uint256]
allowance: public(HashMap[address, HashMap[address, uint256]])
index_bps: public(uint256)


@deploy
def __init__():
    self.index_bps = 10_000


@external
@view
def balanceOf(owner: address) -> uint256:
    return self._shares[owner] * self.index_bps // 10_000


@external
def rebase(index_bps: uint256):
    self.index_bps = index_bps


@external
def mint(owner: address, amount: uint256):
    self._shares[owner] += amount * 10_000 // self.index_bps


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@internal
def _move(owner: address, to: address, amount: uint256):
    shares: uint256 = amount * 10_000 // self.index_bps
    self._shares[owner] -= shares
    self._shares[to] += shares


@external
def transfer(to: address, amount: uint256) -> bool:
    self._move(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self.allowance[owner][msg.sender] -= amount
    self._move(owner, to, amount)
    return True
