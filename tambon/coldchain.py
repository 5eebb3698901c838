"""Cold-chain verdicts: what the oracle concludes from a transport's temperature log.

The numbers are the contract's (`contracts/modules/coldchain_attestations.vy`); the analysis that
produces them lives in `oracle/coldchain`, the EIP-712 message in `tambon.coldchain_attestation`.
"""

from __future__ import annotations

from enum import IntEnum


class Verdict(IntEnum):
    """A transport's cold-chain verdict, as `uint8` on chain."""

    OK = 0  # kept inside the crop's band (short allowed blips aside)
    EXCURSION = 1  # too long outside the band (usually too warm)
    CHILLING_RISK = 2  # long enough below the crop's chilling limit to risk chilling injury
    UNRELIABLE_LOG = 3  # the log cannot support any conclusion: never a pass
