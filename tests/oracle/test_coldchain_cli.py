"""`tambon oracle coldchain`, run as a user runs it (subprocess through the entry point).

The logs are made in code (no licensed real logger traces yet): a day of 5-minute readings.
"""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

TAMBON = str(Path(sys.executable).parent / "tambon")
T0 = int(datetime(2026, 11, 4, 1, 0, tzinfo=UTC).timestamp())


def run(*args):
    return subprocess.run([TAMBON, "oracle", "coldchain", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    rows = [(T0 + 300 * i, 11.5 + 0.1 * (i % 3)) for i in range(288)]
    good = d / "trip.csv"
    good.write_text(
        "Date/Time;Temperature (°C)\n"
        + "".join(
            f"{datetime.fromtimestamp(t, UTC):%d/%m/%Y %H:%M};{c:.1f}\n".replace(".", ",") for t, c in rows
        ),
        encoding="utf-8-sig",
    )
    warm = d / "warm.csv"
    warm.write_text(
        "timestamp,temperature\n"
        + "".join(
            f"{datetime.fromtimestamp(t, UTC).isoformat()},{c + (4.0 if 100 <= i < 172 else 0.0):.1f}\n"
            for i, (t, c) in enumerate(rows)
        )
    )
    return good, warm


def test_text_report(logs):
    good, _ = logs
    proc = run(str(good), "--crop", "mango", "--tz", "UTC")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{good}: OK for mango (10–13 °C)")
    assert "288 readings" in proc.stdout and "MKT 11.60 °C" in proc.stdout
    assert "shelf life left at 13 °C: about" in proc.stdout


def test_json_report(logs):
    _, warm = logs
    proc = run(str(warm), "--crop", "201", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "EXCURSION" and out["crop"] == "mango"
    assert out["minutes_above"] == 360 and out["excursion_count"] == 1
    assert len(out["rules_sha256"]) == 64 and out["shelf_life_range_days"][0] <= out["shelf_life_days"]


def test_window_not_covered_is_unreliable(logs):
    good, _ = logs
    proc = run(str(good), "--crop", "mango", "--tz", "UTC", "--from", "2026-11-04T08:00+07:00",
               "--to", "2026-11-07T08:00+07:00", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "UNRELIABLE_LOG" and "not the transport" in out["reasons"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--crop", "kiwi"], "error: no cold-chain rule for crop 'kiwi'"),
        (["--crop", "mango", "--from", "2026-11-04T08:00+07:00"], "error: --from and --to go together"),
    ],
)
def test_bad_input__one_error_line(logs, args, message):
    good, _ = logs
    proc = run(str(good), *args)
    assert proc.returncode == 1
    assert proc.stderr.startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_file(tmp_path):
    proc = run(str(tmp_path / "nope.csv"), "--crop", "mango")
    assert proc.returncode == 1 and proc.stderr.startswith("error: cannot read")
