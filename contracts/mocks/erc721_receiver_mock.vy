# pragma version ~=0.4.3
"""
@title ERC-721 receiver test double
@notice A contract recipient for `safeTransferFrom` tests whose answer is
        chosen at deployment. Not part of the product.
        Modes: 0 accepts (returns the selector and records the call),
        1 returns a wrong selector, 2 reverts with a reason, 3 reverts
        without data.
"""

ACCEPT: constant(uint256) = 0
WRONG_SELECTOR: constant(uint256) = 1
REVERT_REASON: constant(uint256) = 2
REVERT_EMPTY: constant(uint256) = 3

MODE: public(immutable(uint256))

last_operator: public(address)
last_from: public(address)
last_token_id: public(uint256)
last_data: public(Bytes[1_024])
calls: public(uint256)


@deploy
def __init__(mode_: uint256):
    MODE = mode_


@external
def onERC721Received(_operator: address, _from: address, _tokenId: uint256, _data: Bytes[1_024]) -> bytes4:
    """
    @notice ERC-721 receiver hook; see the modes above.
    """
    if MODE == REVERT_REASON:
        raise "receiver: refused"
    if MODE == REVERT_EMPTY:
        raise
    self.last_operator = _operator
    self.last_from = _from
    self.last_token_id = _tokenId
    self.last_data = _data
    self.calls += 1
    if MODE == WRONG_SELECTOR:
        return 0x12345678
    return method_id("onERC721Received(address,address,uint256,bytes)", output_type=bytes4)
