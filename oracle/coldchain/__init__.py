"""Cold-chain analysis: a transport's temperature log read, checked and judged for the crop it carried.

    from oracle.coldchain import analyse, load_rules, read_log
    rules = load_rules()
    report = analyse(read_log(data, "trip.csv"), rules.for_crop("mango"), rules.sha256)
    report.verdict, report.mkt_c, report.shelf_life_days

Pure functions over numpy arrays; `logs` reads the formats, `rules` the cited crop table
(`crop_rules.json`), `analysis` the metrics and the verdict.
"""

from oracle.coldchain.analysis import Excursion, Report, analyse, mean_kinetic_temperature
from oracle.coldchain.logs import LogError, TemperatureLog, read_log
from oracle.coldchain.rules import CropRule, RuleError, RuleSet, load_rules

__all__ = [
    "CropRule",
    "Excursion",
    "LogError",
    "Report",
    "RuleError",
    "RuleSet",
    "TemperatureLog",
    "analyse",
    "load_rules",
    "mean_kinetic_temperature",
    "read_log",
]
