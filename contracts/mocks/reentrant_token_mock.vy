# pragma version ~=0.4.3
"""
@title Test ERC-20 that calls back into the escrow from `transfer`
@notice A hostile token: every outgoing transfer replays the primed escrow call
        once and records whether the re-entry went through.
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
escrow: public(address)
replay_call: Bytes[4_096]
reentry_attempts: public(uint256)
reentry_succeeded: public(bool)


@external
def prime(escrow: address, replay_call: Bytes[4_096]):
    self.escrow = escrow
    self.replay_call = replay_call


@external
def mint(owner: address, amount: uint256):
    self.balanceOf[owner] += amount


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    if len(self.replay_call) != 0 and self.reentry_attempts == 0:
        self.reentry_attempts += 1
        self.reentry_succeeded = raw_call(self.escrow, self.replay_call, revert_on_failure=False)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
    return True
