# pragma version ~=0.4.3
"""
@title snekmate ERC-721, wired for the gas anchor
@notice Deploys snekmate's ERC-721 module (enumerable, per-token URI
        storage) as-is so `scripts/gas_provenance.py` can measure its
        `safe_mint` with an `ipfs://` CIDv1 URI next to BatchProvenance.
        Not part of the product.
"""

# @dev Ownership required by the ERC-721 module.
from snekmate.auth import ownable as ow

initializes: ow

# @dev The ERC-721 under measurement.
from snekmate.tokens import erc721

initializes: erc721[ownable := ow]

exports: erc721.__interface__


@deploy
def __init__():
    ow.__init__()
    erc721.__init__("Snekmate Anchor", "SNEK", "", "Snekmate Anchor", "1")
