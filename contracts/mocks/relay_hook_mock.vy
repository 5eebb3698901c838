# pragma version ~=0.4.3
"""
@title Test funder wallet whose ERC-777 `tokensToSend` hook relays a primed call
@notice Funds a grant through `fund_grant`; when the token asks its hook, it relays
        the primed calldata to the escrow once and records whether that went through.
"""


interface IHookToken:
    def approve(spender: address, amount: uint256) -> bool: nonpayable
    def set_hook(hook: address): nonpayable


interface IEscrow:
    def fund(grant_id: uint256, amount: uint256): payable


escrow: public(address)
replay_call: Bytes[2_048]
reentry_succeeded: public(bool)


@deploy
def __init__(escrow: address):
    self.escrow = escrow


@external
def prime(replay_call: Bytes[2_048]):
    self.replay_call = replay_call


@external
def fund_grant(token: address, grant_id: uint256, amount: uint256):
    extcall IHookToken(token).set_hook(self)
    extcall IHookToken(token).approve(self.escrow, amount)
    extcall IEscrow(self.escrow).fund(grant_id, amount)


@external
def tokensToSend(operator: address, sender: address, to: address, amount: uint256):
    if len(self.replay_call) != 0:
        call: Bytes[2_048] = self.replay_call
        self.replay_call = b""
        self.reentry_succeeded = raw_call(self.escrow, call, revert_on_failure=False)
