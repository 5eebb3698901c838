"""The published interfaces (Vyper .vyi and JSON ABIs in interfaces/) match the compiled contracts."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VYPER = Path(sys.executable).with_name("vyper")


def _key(entry: dict) -> str:
    return json.dumps({k: v for k, v in entry.items() if k != "internalType"}, sort_keys=True)


def _compiled_abi(project, stem: str) -> list[dict]:
    contract_type = project.get_contract(stem).contract_type
    return [e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in contract_type.abi]


@pytest.mark.parametrize(
    ("stem", "vyi"),
    [("batch_provenance", "IBatchProvenance"), ("attestation_registry", "IAttestationRegistry")],
)
def test_vyi_interface__declares_exactly_the_contracts_abi(project, stem, vyi):
    out = subprocess.run(
        [str(VYPER), "-f", "abi", str(REPO / "interfaces" / f"{vyi}.vyi")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    declared = {_key(e) for e in json.loads(out)}
    compiled = {_key(e) for e in _compiled_abi(project, stem) if e["type"] != "constructor"}
    # The .vyi spells safeTransferFrom's optional `data` once; the contract also exports the 3-argument form.
    missing = {k for k in compiled - declared if '"safeTransferFrom"' not in k}
    assert missing == set()
    assert declared - compiled == set()


@pytest.mark.parametrize(
    ("stem", "name"),
    [("batch_provenance", "BatchProvenance"), ("attestation_registry", "AttestationRegistry")],
)
def test_json_abi__is_current(project, stem, name):
    exported = json.loads((REPO / "interfaces" / f"{name}.json").read_text())
    assert sorted(map(_key, exported)) == sorted(map(_key, _compiled_abi(project, stem)))
