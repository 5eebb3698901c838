# pragma version ~=0.4.3
"""
@title Demo Thai baht stablecoin
@notice A plain 18-decimal ERC-20 with an owner-managed minter, used on local
        chains and testnets where no real THB stablecoin exists.
"""

from ethereum.ercs import IERC20

implements: IERC20

from ethereum.ercs import IERC20Detailed

implements: IERC20Detailed

# @dev Ownership decides who may appoint minters.
from snekmate.auth import ownable as ow

initializes: ow

# @dev The token itself: transfers, allowances, EIP-2612 permit, minting.
from snekmate.tokens import erc20

initializes: erc20[ownable := ow]

exports: erc20.__interface__


@deploy
def __init__():
    ow.__init__()
    erc20.__init__("Thai Baht Demo Stablecoin", "THBd", 18, "Thai Baht Demo Stablecoin", "1")
