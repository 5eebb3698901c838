"""Code lists shown on pages: value-chain stages (Table 3), grades, crops, milestone statuses.

Labels here are English msgids; templates translate them with gettext (`_()`).
"""

from __future__ import annotations

from tambon.provenance import Stage

#: Page label of each value-chain stage, by name (from `Stage`).
STAGE_LABELS = {stage.name: stage.label for stage in Stage}

#: Page label of each grade, by name (`tambon.attestation.Grade`).
GRADE_LABELS = {
    "ABSTAIN": "Awaiting human review",
    "EXTRA": "Extra class",
    "CLASS_I": "Class I",
    "CLASS_II": "Class II",
    "REJECT": "Rejected",
}

#: Project crop codes (not interpreted on-chain; see BatchProvenance.register).
CROPS = {
    101: "Jasmine rice",
    102: "Sticky rice",
    201: "Mango (Nam Dok Mai)",
    202: "Durian (Monthong)",
    203: "Mangosteen",
    204: "Longan",
    301: "Coffee",
    401: "Rubber",
}

MILESTONE_STATUSES = {1: "PENDING", 2: "SUBMITTED", 3: "PAID", 4: "REJECTED", 5: "ESCALATED"}
MILESTONE_LABELS = {
    "PENDING": "Pending",
    "SUBMITTED": "Submitted, awaiting council",
    "PAID": "Paid",
    "REJECTED": "Rejected",
    "ESCALATED": "Escalated",
}


def crop_label(code: int) -> str:
    return CROPS.get(int(code), f"Crop {int(code)}")


#: Friendly labels for common record.json fields (others are shown by their key).
RECORD_LABELS = {
    "place": "Place",
    "who": "Who",
    "stage": "Stage",
    "note": "Note",
    "weight_kg": "Weight (kg)",
    "temperature_log_c": "Temperature log (°C)",
    "vehicle": "Vehicle",
    "fertiliser": "Fertiliser",
    "milestone": "Milestone",
}
