"""Write interfaces/<ContractName>.json (JSON ABI) for every deployable contract, from ape's build.

Services read these files at run time, so they never need a compiler; outside integrators get
the same ABIs. Test doubles (contracts/mocks/, `*_mock.vy`) are not exported.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VVM_BINARY_PATH", str(REPO / ".venv" / "vvm"))

from tambon.build import drop_stale_build  # noqa: E402
from tambon.chain import abi_name  # noqa: E402


def export() -> list[Path]:
    from ape import project

    drop_stale_build()
    project.load_contracts()
    written = []
    for source in sorted((REPO / "contracts").glob("*.vy")):
        if source.stem.endswith("_mock") or source.stem.startswith("mock_"):
            continue
        contract_type = project.get_contract(source.stem).contract_type
        target = REPO / "interfaces" / f"{abi_name(source.stem)}.json"
        abi = [entry.model_dump(mode="json", by_alias=True, exclude_none=True) for entry in contract_type.abi]
        target.write_text(json.dumps(abi, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in export():
        print(path.relative_to(REPO))
