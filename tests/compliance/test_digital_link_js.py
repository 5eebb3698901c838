"""GS1's `digital-link.js` (npm, run through node) accepts every Digital Link URI the project builds:
label URIs for lot codes using every GS1 set-82 punctuation character, and every EPC and EPC class
URI of the sample journeys' EPCIS documents."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from compliance import epcis, samples
from tambon import gs1
from tambon.lots import LotIdentity
from tambon.settings import REPO_ROOT

CHECKER = REPO_ROOT / "scripts" / "js" / "digital_link_check.mjs"
#: lot codes with each character of GS1's AI encodable set 82 that is not RFC 3986 unreserved
LOTS = [
    "TH-MG-260402-A", "9", "A!B", "A%B", "A&B", "A'B", "A(B)", "A*B", "A+B", "A,B", "A/B", "A:B",
    "A;B", "A<B", "A=B", "A>B", "A?B", "A_B", "a.b", "ABCDEFGHIJ0123456789", "L-7",
    "SK-RP-01", "TR-10-X", "x", "Z9_-.",
]  # fmt: skip


def _judge(uris: list[str]) -> list[dict]:
    node = shutil.which("node")
    assert node, "node is needed for GS1's digital-link.js"
    done = subprocess.run(
        [node, str(CHECKER)],
        input=json.dumps(uris),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _built_uris() -> list[str]:
    uris = []
    for i, lot in enumerate(LOTS, start=1):
        ident = LotIdentity("08851234000012", lot, i)
        uris += [ident.uri("https://verify.example"), ident.class_uri(), ident.instance_uri()]
    for make in (samples.mango_chain, samples.rubber_chain):
        chain, batch = make()
        for event in epcis.epcis_document(chain.traces(), batch)["epcisBody"]["eventList"]:
            for key in ("epcList", "inputEPCList", "outputEPCList"):
                uris += event.get(key, [])
            for key in ("quantityList", "inputQuantityList", "outputQuantityList"):
                uris += [q["epcClass"] for q in event.get(key, [])]
    return sorted(set(uris))


def test_digital_link_js__accepts_every_uri_we_build():
    uris = _built_uris()
    assert len(uris) > 3 * len(LOTS)
    rejected = [r for r in _judge(uris) if not r["valid"]]
    assert rejected == []


def test_build_path__double_quote__refused_with_reason():
    """Set 82 has `"`, but digital-link.js refuses it even escaped: lots carrying it get no link."""
    with pytest.raises(gs1.InvalidDigitalLink, match="double quote"):
        gs1.build_path("08851234000012", lot='A"B')
    assert not _judge(["https://a.example/01/08851234000012/10/A%22B"])[0]["valid"]


def test_digital_link_js__is_a_real_judge():
    """The checker refuses what GS1 refuses: an unescaped sub-delimiter, a bad check digit."""
    verdicts = _judge(["https://a.example/01/08851234000012/10/A+B", "https://a.example/01/08851234000013"])
    assert [v["valid"] for v in verdicts] == [False, False]
