# pragma version ~=0.4.3
"""
@title Test community wallet that re-enters the escrow when paid
@notice On receiving ETH it replays the call it was primed with (a release or a
        refund claim) and records whether the re-entry went through.
"""

escrow: public(address)
replay_call: Bytes[4_096]
reentry_attempts: public(uint256)
reentry_succeeded: public(bool)


@deploy
def __init__(escrow: address):
    self.escrow = escrow


@external
def prime(replay_call: Bytes[4_096]):
    self.replay_call = replay_call


@external
@payable
def call_escrow(data: Bytes[4_096]):
    raw_call(self.escrow, data, value=msg.value)


@external
@payable
def __default__():
    if len(self.replay_call) != 0 and self.reentry_attempts == 0:
        self.reentry_attempts += 1
        self.reentry_succeeded = raw_call(self.escrow, self.replay_call, revert_on_failure=False)
