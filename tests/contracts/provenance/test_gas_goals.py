"""Issue 4's gas goals hold (same code as scripts/gas_provenance.py, anchors left to `make bench-gas`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

import gas_provenance  # noqa: E402

GOALS = {
    "batch_register": 90_000,
    "batch_register_per_batch_in_50": 30_000,
    "step_add": 35_000,
    "attest_single": 60_000,
    "attest_per_item_in_50": 30_000,
}


def test_gas__provenance_and_registry_meet_the_goals(project, chain, accounts):
    figures = gas_provenance.measure_provenance(project, accounts[0], accounts[1], accounts[2])
    figures |= gas_provenance.measure_registry(project, chain, accounts[0], accounts[3])
    over = {name: (figures[name], goal) for name, goal in GOALS.items() if figures[name] > goal}
    assert over == {}
