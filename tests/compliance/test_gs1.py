"""GS1 keys and Digital Link URIs: check digits, normalisation, building and parsing, link types."""

from __future__ import annotations

import pytest

from tambon import gs1
from tambon.gs1 import InvalidDigitalLink, InvalidGtin, UnknownLinkType


@pytest.mark.parametrize(
    ("gtin", "normalised"),
    [
        ("09506000134352", "09506000134352"),  # GS1 Digital Link standard's example
        ("9506000134352", "09506000134352"),  # GTIN-13
        ("4006381333931", "04006381333931"),  # EAN-13 on a real product
        ("614141000036", "00614141000036"),  # GTIN-12 (UPC-A)
        ("96385074", "00000096385074"),  # GTIN-8
        ("8851234000012", "08851234000012"),  # the mango sample
    ],
)
def test_normalise_gtin__valid__14_digits(gtin, normalised):
    assert gs1.normalise_gtin(gtin) == normalised
    assert gs1.is_valid_gtin(gtin)


@pytest.mark.parametrize(
    ("gtin", "message"),
    [
        ("09506000134353", "wrong check digit: expected 2, got 3"),
        ("950600013435", "wrong check digit"),
        ("123456789", "8, 12, 13 or 14 digits"),
        ("0950600013435X", "digits only"),
        ("", "digits only"),
        ("٠٩٥٠٦٠٠٠١٣٤٣٥٢", "digits only"),  # Arabic-Indic digits are not GS1 digits
    ],
)
def test_normalise_gtin__bad__refused(gtin, message):
    with pytest.raises(InvalidGtin, match=message):
        gs1.normalise_gtin(gtin)
    assert not gs1.is_valid_gtin(gtin)


def test_check_digit__every_single_digit_error_detected():
    body = "950600013435"
    good = gs1.with_check_digit(body)
    assert good == "9506000134352"
    for i in range(len(good)):
        for d in "0123456789":
            if d != good[i]:
                assert not gs1.is_valid_gtin(good[:i] + d + good[i + 1 :])


def test_gln__check_digit():
    assert gs1.check_gln("8851234000036") == "8851234000036"
    with pytest.raises(InvalidGtin, match="GLN 8851234000037 has a wrong check digit"):
        gs1.check_gln("8851234000037")
    with pytest.raises(InvalidGtin, match="13 digits"):
        gs1.check_gln("885123400003")


def test_build_and_parse__round_trip_with_percent_encoding():
    uri = gs1.build_uri("https://id.example/", "9506000134352", lot="AB/12&3", linkType="gs1:epcis")
    assert uri == "https://id.example/01/09506000134352/10/AB%2F12%263?linkType=gs1:epcis"
    link = gs1.parse_path(uri)
    assert (link.gtin, link.lot, link.serial, link.link_type) == (
        "09506000134352",
        "AB/12&3",
        None,
        "gs1:epcis",
    )
    assert link.path == "/01/09506000134352/10/AB%2F12%263"
    both = gs1.parse_path("/01/09506000134352/10/L1/21/42")
    assert (both.lot, both.serial) == ("L1", "42")
    serial = gs1.parse_path("https://x.example/prefix/01/09506000134352/21/7")
    assert (serial.gtin, serial.serial) == ("09506000134352", "7")


def test_parse_uri__rightmost_key__qualifiers_22_and_235():
    link = gs1.parse_uri("https://x.example/01/09506000134352/01/08851234000012/22/V1/10/L1/21/S1")
    assert link.key == ("01", "08851234000012")  # the stem may itself hold an AI
    assert link.qualifiers == (("22", "V1"), ("10", "L1"), ("21", "S1"))
    tpx = gs1.parse_uri("https://x.example/01/09506000134352/235/TPX1?10=L1")
    assert tpx.qualifiers == (("235", "TPX1"),) and tpx.attributes == (("10", "L1"),)


@pytest.mark.parametrize(
    "lot", ["A!B", "A'B", "A(B)", "A*B", "A+B", "A,B", "A;B", "A=B", "A:B", "A/B", "A%B"]
)
def test_build_path__sub_delims_in_lots__percent_encoded_and_read_back(lot):
    path = gs1.build_path("9506000134352", lot=lot)
    assert all(c not in path.removeprefix("/01/09506000134352/10/") for c in "!'()*+,;=:/")
    assert gs1.parse_path(path).lot == lot


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("/01/09506000134353/10/L1", InvalidDigitalLink, "wrong check digit"),
        ("/10/L1", InvalidDigitalLink, "no GS1 primary key"),
        ("/01/09506000134352/10", InvalidDigitalLink, "no GS1 primary key"),
        ("/01/09506000134352/17/261231", InvalidDigitalLink, r"AI \(17\) is not a qualifier of \(01\)"),
        ("/01/09506000134352/21/1/10/L1", InvalidDigitalLink, r"AI \(10\) is not a qualifier"),
        ("/01/09506000134352/10/" + "A" * 21, InvalidDigitalLink, r"AI \(10\) value .* GS1 syntax"),
        ("/01/09506000134352/10/%E0%B8%A5", InvalidDigitalLink, "GS1 syntax"),
        ("/01/9506000134352/10/L1", InvalidDigitalLink, "GS1 syntax"),  # a GTIN-13 unpadded
        ("/01/09506000134352/10/L1?10=L2", InvalidDigitalLink, "given twice"),
        ("/01/09506000134352?10=L2", InvalidDigitalLink, "belongs in the path"),
        ("/01/09506000134352/10/L1?89=X", InvalidDigitalLink, "not an Application Identifier"),
        ("/01/09506000134352/10/L1?99=", InvalidDigitalLink, "empty value"),
        ("/01/09506000134352/10/L%00", InvalidDigitalLink, "GS1 syntax"),
        ("/01//09506000134352", InvalidDigitalLink, "empty path segment"),
    ],
)
def test_parse_path__bad__refused(path, error, message):
    with pytest.raises(error, match=message):
        gs1.parse_path(path)


def test_build_path__bad_lot__refused():
    with pytest.raises(InvalidDigitalLink, match="lot"):
        gs1.build_path("9506000134352", lot="ล็อต")


@pytest.mark.parametrize(
    ("value", "short"),
    [
        (None, "default"),
        ("", "default"),
        ("gs1:defaultLink", "default"),
        ("all", "all"),
        ("linkset", "all"),
        ("epcis", "epcis"),
        ("gs1:epcis", "epcis"),
        ("https://gs1.org/voc/epcis", "epcis"),
        ("fsma", "fsma"),
        ("gs1:traceability", "fsma"),
        ("eudr", "eudr"),
        ("gs1:sustainabilityInfo", "eudr"),
        ("certificate", "certificate"),
        ("gs1:certificationInfo", "certificate"),
        ("pip", "pip"),
    ],
)
def test_resolve_link_type(value, short):
    assert gs1.resolve_link_type(value) == short


def test_resolve_link_type__unknown__lists_offered():
    with pytest.raises(
        UnknownLinkType, match="unknown linkType 'gs1:recipeInfo'; this resolver offers: .*epcis"
    ):
        gs1.resolve_link_type("gs1:recipeInfo")
    assert gs1.link_type_uri("fsma") == "https://gs1.org/voc/traceability"
