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
    serial = gs1.parse_path("https://x.example/prefix/01/9506000134352/21/7")
    assert (serial.gtin, serial.serial) == ("09506000134352", "7")


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("/01/09506000134353/10/L1", InvalidGtin, "wrong check digit"),
        ("/10/L1", InvalidDigitalLink, "no GTIN"),
        ("/01/09506000134352/10", InvalidDigitalLink, "odd segment count"),
        ("/01/09506000134352/17/261231", InvalidDigitalLink, "unsupported or misplaced AI '17'"),
        ("/01/09506000134352/21/1/10/L1", InvalidDigitalLink, "misplaced AI '10'"),
        ("/01/09506000134352/10/" + "A" * 21, InvalidDigitalLink, "1 to 20 characters"),
        ("/01/09506000134352/10/%E0%B8%A5", InvalidDigitalLink, "encodable set 82"),
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
