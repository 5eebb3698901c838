# pragma version ~=0.4.3
"""
@title Test ERC-20 that delivers a share of what is sent
@notice `delivered_bps` of each transfer arrives: below 10,000 it takes a fee
        (fee-on-transfer tokens), above 10,000 it mints extra to the recipient
        (a token delivering more than asked).
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
delivered_bps: public(uint256)


@deploy
def __init__(delivered_bps: uint256):
    self.delivered_bps = delivered_bps


@external
def mint(owner: address, amount: uint256):
    self.balanceOf[owner] += amount


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@internal
def _move(owner: address, to: address, amount: uint256):
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount * self.delivered_bps // 10_000


@external
def transfer(to: address, amount: uint256) -> bool:
    self._move(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self.allowance[owner][msg.sender] -= amount
    self._move(owner, to, amount)
    return True
