"""Cold-chain analysis: parsing, MKT, excursions, shelf life, integrity faults and the verdict.

No real logger traces are licensed for this repository yet (see ../shared/datasets/coldchain/README.md),
so every log here is made in code: readings at a fixed interval with the excursion or fault under
test written in by hand, so each expected figure can be worked out on paper.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import random
from datetime import UTC, datetime
from decimal import Context, Decimal

import numpy as np
import pytest

from oracle.coldchain import analyse, load_rules, mean_kinetic_temperature, read_log
from oracle.coldchain.logs import LogError, TemperatureLog
from oracle.coldchain.rules import RULES_FILE, RuleError
from tambon.coldchain import Verdict

RULES = load_rules()
MANGO = RULES.for_crop("mango")
T0 = int(datetime(2026, 11, 4, 1, 0, tzinfo=UTC).timestamp())  # 08:00 in Bangkok


def made_log(temps, minutes: float = 5.0, start: int = T0) -> TemperatureLog:
    """A log made in code: one reading every `minutes`."""
    values = np.asarray(temps, np.float64)
    times = start + np.round(np.arange(values.size) * minutes * 60).astype(np.int64)
    return TemperatureLog(times, values, "csv")


def wobble(n: int, centre: float, seed: int = 7) -> list[float]:
    """Readings around `centre` that move by the probe's 0.1 °C resolution, as real air probes do."""
    rng = random.Random(seed)
    return [round(centre + rng.choice((-0.1, 0.0, 0.1)) + 0.1 * (i % 3), 1) for i in range(n)]


def level(centre: float, n: int) -> list[float]:
    """`n` readings alternating 0.1 °C either side of `centre` (a level spell that is not a stuck probe)."""
    return [round(centre + (0.1 if i % 2 else -0.1), 2) for i in range(n)]


# ------------------------------------------------------------------------------------------- MKT


def mkt_decimal(temps: list[float], weights: list[float] | None = None) -> float:
    """Independent MKT: the USP formula in 40-digit decimal arithmetic, no numpy.

    Every operation goes through its own Context (the process-wide decimal context may be locked).
    """
    ctx = Context(prec=40)
    kelvin = Decimal("273.15")
    ratio = ctx.divide(Decimal("83144"), Decimal("8.3144"))
    w = [Decimal(1)] * len(temps) if weights is None else [Decimal(repr(x)) for x in weights]
    total = Decimal(0)
    for t, wi in zip(temps, w, strict=True):
        exponent = ctx.minus(ctx.divide(ratio, ctx.add(Decimal(repr(t)), kelvin)))
        total = ctx.add(total, ctx.multiply(wi, ctx.exp(exponent)))
    weight = Decimal(0)
    for wi in w:
        weight = ctx.add(weight, wi)
    mean = ctx.divide(total, weight)
    return float(ctx.subtract(ctx.divide(ratio, ctx.minus(ctx.ln(mean))), kelvin))


@pytest.mark.parametrize(
    ("temps", "expected"),
    [
        # Worked by hand: ΔH/R = 83,144 / 8.3144 = 10,000 K.
        # Half the time at 20 °C, half at 30 °C: 10000 / -ln((e^(-10000/293.15) + e^(-10000/303.15)) / 2)
        # - 273.15 = 26.26 °C, not the 25 °C arithmetic mean: warm hours weigh more.
        ([20.0, 30.0], 26.2599),
        ([25.0], 25.0),  # a constant temperature is its own MKT
        ([2.0, 8.0], 5.5364),  # a vaccine fridge swinging 2..8 °C
        ([20.0, 20.0, 20.0, 40.0], 29.6279),  # one reading in four at 40 °C pulls MKT up ~10 °C
    ],
)
def test_mkt__worked_examples(temps, expected):
    assert mean_kinetic_temperature(np.array(temps)) == pytest.approx(expected, abs=5e-4)
    assert mkt_decimal(temps) == pytest.approx(expected, abs=5e-4)


def test_mkt__agrees_with_independent_implementation_on_random_logs():
    rng = random.Random(1079)
    for _ in range(20):
        n = rng.randint(2, 400)
        temps = [round(rng.uniform(-5, 40), 2) for _ in range(n)]
        weights = [rng.choice((60.0, 300.0, 900.0)) for _ in range(n)]
        ours = mean_kinetic_temperature(np.array(temps), np.array(weights))
        assert ours == pytest.approx(mkt_decimal(temps, weights), abs=1e-9)
        assert min(temps) - 1e-9 <= ours <= max(temps) + 1e-9
        assert ours >= sum(t * w for t, w in zip(temps, weights, strict=True)) / sum(weights) - 1e-9


def test_mkt__log_uses_hold_time_weights():
    # 1 h at 30 °C then 3 h at 20 °C, logged every 5 min: the same as weights 1:3
    report = analyse(made_log([30.0] * 12 + [20.0] * 36), RULES.for_crop("rice"))
    assert report.mkt_c == pytest.approx(mkt_decimal([30.0, 20.0], [1.0, 3.0]), abs=1e-9)


# ------------------------------------------------------------------------------------ excursions


def test_ok__kept_in_band():
    report = analyse(made_log(wobble(24 * 12, 11.5)), MANGO, RULES.sha256)
    assert report.verdict is Verdict.OK, report.reasons
    assert report.minutes_out_of_range == 0 and report.excursion_count == 0
    assert report.rules_sha256 == RULES.sha256


def test_excursion__six_hours_warm_at_the_port():
    temps = wobble(12 * 12, 11.5) + level(15.0, 72) + wobble(12 * 12, 11.5, seed=8)
    report = analyse(made_log(temps), MANGO)
    assert report.verdict is Verdict.EXCURSION
    assert report.excursion_count == 1
    (exc,) = report.excursions
    assert exc.kind == "above" and exc.minutes == 360 and exc.peak_c == 15.1
    assert exc.degree_hours == pytest.approx(2.0 * 6)  # 2 °C over 13 °C for 6 h
    assert report.minutes_above == 360 and report.longest_excursion_min == 360
    assert report.degree_hours_above == pytest.approx(12.0)
    assert exc.start == T0 + 12 * 12 * 300
    assert "6.0 h above 13 °C" in report.reasons[0]


def test_excursion__short_door_opening_is_allowed():
    temps = wobble(100, 11.5) + level(14.0, 5) + wobble(100, 11.5, seed=9)  # 25 min above
    report = analyse(made_log(temps), MANGO)
    assert report.verdict is Verdict.OK
    assert report.excursion_count == 1 and report.minutes_above == 25


def test_excursion__above_and_below_counted_apart():
    rice = RULES.for_crop("rice")
    down = [round(34.0 - 1.5 * i, 1) for i in range(20)]  # 34 → 5.5 °C at 0.3 °C a minute, in band
    temps = wobble(50, 34.5) + level(38.0, 12) + wobble(50, 34.5) + down + level(3.0, 24) + down[::-1]
    report = analyse(made_log(temps), rice)
    assert report.verdict is Verdict.EXCURSION
    assert report.excursion_count == 2
    assert [e.kind for e in report.excursions] == ["above", "below"]
    assert report.minutes_above == 60 and report.minutes_below == 120
    assert report.degree_hours_above == pytest.approx(3.0 * 1) and report.degree_hours_below == pytest.approx(
        2.0 * 2
    )
    assert report.longest_excursion_min == 120
    assert report.minutes_chilling == 0  # rice has no chilling limit


def test_chilling_risk__mango_at_eight_degrees():
    temps = wobble(50, 11.5) + level(8.0, 6 * 12) + wobble(50, 11.5)
    report = analyse(made_log(temps), MANGO)
    assert report.verdict is Verdict.CHILLING_RISK
    assert report.minutes_chilling == 360 and report.minutes_below == 360
    assert report.degree_hours_below == pytest.approx(2.0 * 6)
    assert "below 10 °C" in report.reasons[0]


def test_chilling__short_cold_spell_is_an_excursion_not_chilling():
    temps = wobble(50, 11.5) + level(9.0, 24) + wobble(50, 11.5)  # 2 h below 10 °C, tolerance 4 h
    report = analyse(made_log(temps), MANGO)
    assert report.verdict is Verdict.EXCURSION


def test_longan_is_not_chilling_sensitive():
    longan = RULES.for_crop(204)
    report = analyse(made_log(wobble(50, 5.5) + level(1.0, 24) + wobble(50, 5.5)), longan)
    assert report.verdict is Verdict.EXCURSION and report.minutes_chilling == 0


# ------------------------------------------------------------------------------------ shelf life


def test_shelf_life__at_reference_temperature():
    # 2 days at mango's 13 °C reference: 2 reference days used of 14..28 (central 21)
    report = analyse(made_log([13.0, 12.9] * (24 * 12)), MANGO)
    assert report.shelf_life_days == pytest.approx(21 - 2 + 0.005 * 2, abs=0.05)
    assert report.shelf_life_low_days == pytest.approx(12, abs=0.1)
    assert report.shelf_life_high_days == pytest.approx(26, abs=0.1)


def test_shelf_life__ten_degrees_warmer_uses_q10_times_faster():
    rice = RULES.for_crop("rice")  # reference 25 °C, 180..365 days, Q10 2..3
    report = analyse(made_log([35.0] * (24 * 12)), rice)  # one day at 35 °C (band edge)
    assert report.shelf_life_days == pytest.approx((180 + 365) / 2 - 2.5)
    assert report.shelf_life_low_days == pytest.approx(180 - 3)
    assert report.shelf_life_high_days == pytest.approx(365 - 2)


def test_shelf_life__cold_gives_no_extra_life():
    cold = analyse(made_log([5.0] * 288), MANGO)
    at_floor = analyse(made_log([10.0] * 288), MANGO)
    assert cold.shelf_life_days == pytest.approx(at_floor.shelf_life_days)


# ------------------------------------------------------------------------------ integrity faults


def unreliable(log: TemperatureLog, window=None) -> str:
    report = analyse(log, MANGO, window=window)
    assert report.verdict is Verdict.UNRELIABLE_LOG
    assert report.reasons
    return " | ".join(report.reasons)


def test_fault__gap():
    log = made_log(wobble(200, 11.5))
    log.times[100:] += 3 * 3600
    assert "gap" in unreliable(log)


def test_fault__duplicated_rows():
    log = made_log(wobble(100, 11.5))
    times = np.concatenate((log.times[:60], log.times[40:60], log.times[60:]))
    temps = np.concatenate((log.celsius[:60], log.celsius[40:60], log.celsius[60:]))
    reasons = unreliable(TemperatureLog(times, temps, "csv"))
    assert "duplicated timestamp" in reasons and "backwards" in reasons


def test_fault__clock_goes_backwards():
    log = made_log(wobble(100, 11.5))
    log.times[50:] -= 3600 + 150  # the logger's clock was reset an hour back
    assert "clock goes backwards" in unreliable(log)


def test_fault__flat_line():
    log = made_log(wobble(50, 11.5) + [11.0] * 60 + wobble(50, 11.5))  # 5 h exactly 11.0
    assert "flat-lined" in unreliable(log)


def test_fault__implausible_jump():
    temps = wobble(100, 11.5)
    temps[40] = 30.0  # one reading 18 °C off in 5 min, then back
    assert "implausible jump" in unreliable(made_log(temps))


def test_fault__implausible_value():
    temps = wobble(100, 11.5)
    temps[20:40] = [85.0] * 20
    assert "implausible reading" in unreliable(made_log(temps))


def test_fault__window_not_covered():
    log = made_log(wobble(120, 11.5))  # 10 h from 08:00
    window = (T0, T0 + 24 * 3600)  # the truck drove 24 h
    assert "not the transport" in unreliable(log, window)
    assert analyse(log, MANGO, window=(T0, T0 + 10 * 3600)).verdict is Verdict.OK


def test_fault__too_coarse_and_too_short():
    assert "too coarse" in unreliable(made_log(wobble(10, 11.5), minutes=120))
    assert "only 2 readings" in unreliable(made_log([11.5, 11.6]))


def test_excursion_with_fault_is_still_unreliable():
    log = made_log(wobble(50, 11.5) + level(20.0, 50))
    log.times[70:] += 5 * 3600
    assert analyse(log, MANGO).verdict is Verdict.UNRELIABLE_LOG


# ------------------------------------------------------------------------------- CSV variants

EXPECTED_TIMES = [T0, T0 + 300, T0 + 600]
EXPECTED_C = [11.5, 11.6, 11.4]


def check(log: TemperatureLog, celsius=EXPECTED_C, times=EXPECTED_TIMES):
    assert log.problems == []
    assert log.times.tolist() == times
    assert log.celsius == pytest.approx(celsius, abs=1e-9)


def test_csv__comma_iso_with_offset():
    check(read_log(b"timestamp,temperature\n2026-11-04T08:00:00+07:00,11.5\n"
                   b"2026-11-04T08:05:00+07:00,11.6\n2026-11-04T01:10:00Z,11.4\n"))  # fmt: skip


def test_csv__semicolon_decimal_comma_day_first():
    check(read_log("Date/Time;Temperature (°C)\n04/11/2026 08:00;11,5\n04/11/2026 08:05:00;11,6\n"
                   "04.11.2026 08:10;11,4\n".encode()))  # fmt: skip


def test_csv__fahrenheit_header():
    f = [c * 9 / 5 + 32 for c in EXPECTED_C]
    text = "Time,Temp (°F)\n" + "".join(
        f"2026-11-04 {h},{v:.2f}\n" for h, v in zip(("08:00", "08:05", "08:10"), f, strict=True)
    )
    check(read_log(text.encode()))


def test_csv__unit_column_and_tab():
    check(read_log(b"time\tvalue\tunit\n2026-11-04 08:00\t52.7\tF\n2026-11-04 08:05\t11.6\tC\n"
                   b"2026-11-04 08:10\t11.4\tC\n"), celsius=[(52.7 - 32) * 5 / 9, 11.6, 11.4])  # fmt: skip


def test_csv__time_zone_option_and_utc_header():
    text = b"Datetime,Temperature\n2026-11-04 01:00,11.5\n2026-11-04 01:05,11.6\n2026-11-04 01:10,11.4\n"
    check(read_log(text, tz="UTC"))
    check(read_log(text, tz="+00:00"))
    check(read_log(text.replace(b"Datetime", b"Datetime (UTC)")))
    shifted = read_log(text)  # default Asia/Bangkok: the same wall clock is 7 h earlier in UTC
    assert shifted.times.tolist() == [t - 7 * 3600 for t in EXPECTED_TIMES]


def test_csv__bom_utf8_and_utf16():
    text = "timestamp,temperature\n2026-11-04T08:00+07:00,11.5\n2026-11-04T08:05+07:00,11.6\n2026-11-04T08:10+07:00,11.4\n"
    check(read_log(codecs.BOM_UTF8 + text.encode()))
    check(read_log(text.encode("utf-16")))  # Python writes the BOM


def test_csv__metadata_lines_separate_date_and_time_columns():
    text = (b"Logger: TL-42 serial 000123\nTrip: BKK-LCB\n\n"
            b"Date,Time,Temperature C,Humidity\n04/11/2026,08:00:00,11.5,88\n04/11/2026,08:05:00,11.6,88\n"
            b"04/11/2026,08:10:00,11.4,87\n")  # fmt: skip
    check(read_log(text))


def test_csv__us_month_first_with_am_pm():
    text = b"Date Time,Temperature\n11/04/2026 8:00:00 AM,11.5\n11/04/2026 8:05:00 AM,11.6\n11/14/2026 8:10:00 PM,11.4\n"
    log = read_log(text)
    assert log.problems == []
    assert log.times.tolist()[:2] == EXPECTED_TIMES[:2]
    assert log.times[2] == T0 + 10 * 86400 + 12 * 3600 + 600  # 14 Nov, 20:10


def test_csv__epoch_seconds_and_milliseconds():
    check(read_log(f"time,temp\n{T0},11.5\n{(T0 + 300) * 1000},11.6\n{T0 + 600},11.4\n".encode()))


def test_unknown_time_zone_is_an_error():
    with pytest.raises(LogError, match="unknown time zone 'Mars/Olympus'"):
        read_log(b"time,temp\n", tz="Mars/Olympus")


def test_csv__empty_reading_is_a_hole_not_a_problem():
    log = read_log(
        b"time,temp\n2026-11-04T08:00+07:00,11.5\n2026-11-04T08:05+07:00,\n2026-11-04T08:10+07:00,11.4\n"
    )
    assert log.problems == [] and len(log) == 2


# ------------------------------------------------------------------------------------- EPCIS


def epcis_document(reports_per_event: list[list[dict]]) -> dict:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-04T12:00:00.000Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2026-11-04T08:00:00.000+07:00",
                    "eventTimeZoneOffset": "+07:00",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "sensorElementList": [
                        {
                            "sensorMetadata": {"time": meta_time, "deviceID": "urn:epc:id:giai:4000001.111"},
                            "sensorReport": reports,
                        }  # fmt: skip
                    ],
                }
                for meta_time, reports in reports_per_event
            ]
        },
    }


def test_epcis__sensor_reports():
    doc = epcis_document(
        [
            (
                "2026-11-04T08:00:00.000+07:00",
                [
                    {"type": "gs1:Temperature", "value": 11.5, "uom": "CEL"},
                    {"type": "gs1:RelativeHumidity", "value": 88, "uom": "A93"},
                    {"type": "gs1:Temperature", "time": "2026-11-04T01:05:00Z", "value": 52.88, "uom": "FAH"},
                ],
            ),
            ("2026-11-04T08:10:00+07:00", [{"type": "Temperature", "meanValue": 284.55, "uom": "KEL"}]),
        ]
    )
    log = read_log(json.dumps(doc).encode())
    assert log.source == "epcis"
    check(log)


def test_epcis__min_max_summary_is_not_a_series():
    doc = epcis_document(
        [("2026-11-04T08:00:00+07:00", [{"type": "gs1:Temperature", "minValue": 10.5, "maxValue": 13}])]
    )
    report = analyse(read_log(json.dumps(doc).encode()), MANGO)
    assert report.verdict is Verdict.UNRELIABLE_LOG
    assert "no temperature readings" in report.reasons[0]


def test_record_json_temperature_log():
    record = {"schema_version": "1", "temperature_log": [
        {"time": "2026-11-04T08:00:00+07:00", "celsius": 11.5}, {"time": "2026-11-04T08:05:00+07:00", "celsius": 11.6},
        {"time": "2026-11-04T08:10:00+07:00", "celsius": 11.4}]}  # fmt: skip
    log = read_log(json.dumps(record).encode())
    assert log.source == "record"
    check(log)


# ------------------------------------------------------------------------- corrupt or truncated


def csv_text(n: int = 200) -> str:
    return "timestamp,temperature\n" + "".join(
        f"{datetime.fromtimestamp(T0 + 300 * i, UTC).isoformat()},{t}\n"
        for i, t in enumerate(wobble(n, 11.5))
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (csv_text().encode()[:-9], "truncated"),  # cut mid-line: the last row lost its temperature
        (csv_text().encode()[: len(csv_text()) // 2] + b"\x00\xff\xfe garbage", "not a text log"),
        (csv_text().replace("11.", "1x.", 1).encode(), "unreadable temperature"),
        (csv_text().replace("2026-11-04T01:05", "2026-13-04T01:05", 1).encode(), "month must be in 1..12"),
        (json.dumps(epcis_document([("2026-11-04T08:00+07:00", [])])).encode()[:-40], "truncated or corrupt"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not a text log"),
        (b"hello, world\n1,2\n", "no header"),
        (b"time,temperature\n", "no readings"),
    ],
)
def test_corrupt_or_truncated__unreliable_with_reason(data, reason):
    report = analyse(read_log(data), MANGO)
    assert report.verdict is Verdict.UNRELIABLE_LOG
    assert any(reason in r for r in report.reasons), report.reasons


# ----------------------------------------------------------------------------------------- rules


def test_rules__hash_is_the_file_and_crops_resolve_by_code():
    assert RULES.sha256 == hashlib.sha256(RULES_FILE.read_bytes()).hexdigest()
    assert RULES.for_crop(201) is MANGO and RULES.for_crop("Mango") is MANGO
    assert RULES.for_crop(101).name == RULES.for_crop(102).name == "rice"
    for rule in RULES.crops.values():
        assert rule.sources and rule.low_c < rule.high_c and rule.life_days[0] > 0
        assert math.isclose(rule.mkt_activation_kj_mol, 83.144)
    with pytest.raises(RuleError, match="no cold-chain rule for crop 'kiwi'"):
        RULES.for_crop("kiwi")
