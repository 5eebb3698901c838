# pragma version ~=0.4.3
"""
@title Test ERC-20 with an ERC-777-style sender hook
@notice Before moving tokens out of an account, `transferFrom` calls that account's
        registered hook (ERC-777's `tokensToSend`, registered here instead of in the
        ERC-1820 registry). The hook runs while the escrow's `fund` is mid-call: a
        hostile funder's hook can relay any public escrow call (for example a
        council `cancel` whose signatures it saw in the mempool).
"""


interface ITokensToSend:
    def tokensToSend(operator: address, sender: address, to: address, amount: uint256): nonpayable


balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
hook_of: public(HashMap[address, address])


@external
def mint(owner: address, amount: uint256):
    self.balanceOf[owner] += amount


@external
def set_hook(hook: address):
    self.hook_of[msg.sender] = hook


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    hook: address = self.hook_of[owner]
    if hook != empty(address):
        extcall ITokensToSend(hook).tokensToSend(msg.sender, owner, to, amount)
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
    return True
