"""GS1's own Digital Link syntax test table (gs1-syntax-engine `dl.c`), read from ../shared/references/.

Every vector is parsed with the option its non-default flags name; a valid one must give the
engine's element string, an invalid one must be refused with a clear error."""

from __future__ import annotations

import pytest

from tambon import gs1
from tests.compliance.references import load_json

VECTORS = load_json("gs1-digital-link", "dl_parse_vectors.json")
#: the syntax engine's flags and the parser option each stands for
FLAG_OPTIONS = {
    "permitConvenienceAlphas": "permit_convenience_alphas",
    "gs1_encoder_setPermitZeroSuppressedGTINinDLuris": "permit_zero_suppressed_gtin",
}
#: unknown AIs are data attributes only when both are set (permit them, and switch off the
#: validation that an unknown AI is not a Digital Link attribute)
UNKNOWN_AI_FLAGS = {
    "gs1_encoder_setPermitUnknownAIs",
    "gs1_encoder_setValidationEnabled:gs1_encoder_vUNKNOWN_AI_NOT_DL_ATTR",
}


def _options(flags: list[str]) -> dict[str, bool]:
    options = {FLAG_OPTIONS[f]: True for f in flags if f in FLAG_OPTIONS}
    if set(flags) >= UNKNOWN_AI_FLAGS:
        options["permit_unknown_ais"] = True
    return options


def test_vectors__the_whole_table_is_read():
    assert len(VECTORS) == 118
    assert {f for v in VECTORS for f in v["nondefault_flags"]} <= {*FLAG_OPTIONS, *UNKNOWN_AI_FLAGS}


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{i}:{v['uri'][:60]}" for i, v in enumerate(VECTORS)])
def test_parse_uri__gs1_syntax_engine_vector(vector):
    options = _options(vector["nondefault_flags"])
    if vector["valid"]:
        assert gs1.parse_uri(vector["uri"], **options).element_string() == vector["expect"]
    else:
        with pytest.raises(gs1.InvalidDigitalLink):
            gs1.parse_uri(vector["uri"], **options)
