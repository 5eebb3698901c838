"""The Lighthouse runner of `make bench-web` reads scores from a report and refuses a failed run."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_script_{name}"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _report(**scores: float | None) -> dict:
    """The shape of a Lighthouse 12 JSON report (only the keys the runner reads)."""
    return {
        "runtimeError": {"code": "NO_ERROR"},
        "categories": {
            name: {
                "score": score,
                "auditRefs": [{"id": f"{name}-audit", "weight": 1}, {"id": "info", "weight": 0}],
            }
            for name, score in scores.items()
        },
        "audits": {
            **{f"{name}-audit": {"score": score} for name, score in scores.items()},
            "info": {"score": 0},
        },
    }


def test_lighthouse_scores__report__scores_out_of_100_per_category():
    bench = _script("bench_web")
    report = _report(performance=0.874, accessibility=1.0, **{"best-practices": 0.96, "seo": 0.5})

    assert bench.lighthouse_scores(report) == {
        "performance": 87,
        "accessibility": 100,
        "best-practices": 96,
        "seo": 50,
    }
    assert bench.lighthouse_failing_audits(report) == ["performance-audit", "seo-audit"]


def test_lighthouse_scores__failed_run__error_not_zero():
    bench = _script("bench_web")
    failed = _report(performance=None, accessibility=1.0, **{"best-practices": 1.0, "seo": 1.0})
    failed["runtimeError"] = {"code": "NO_FCP", "message": "The page did not paint any content."}

    with pytest.raises(ValueError, match="did not paint"):
        bench.lighthouse_scores(failed)
    failed["runtimeError"] = {"code": "NO_ERROR"}
    with pytest.raises(ValueError, match="performance"):
        bench.lighthouse_scores(failed)


def test_bench_summary__nested_lighthouse_figure__read_by_dotted_path():
    summary = _script("bench_summary")
    data = {"rps": 210.0, "lighthouse": {"verify": {"mobile": {"seo": 100, "failing_audits": []}}}}

    assert summary._figure(data, "rps") == 210.0
    assert summary._figure(data, "lighthouse.verify.mobile.seo") == 100
    assert summary._figure(data, "lighthouse.verify.desktop.seo") is None
    assert summary._figure(data, "lighthouse.verify.mobile.failing_audits") is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0.1493, "0.1493"),
        (107.2, "107.2"),
        (1202.0, "1,202"),
        (16542.3, "16,542"),
        (41914.0, "41,914"),
    ],
)
def test_bench_summary__figures__read_as_plain_numbers(value, text):
    """Large figures are whole numbers with separators, never four digits of a power of ten."""
    assert _script("bench_summary")._fmt(value) == text
