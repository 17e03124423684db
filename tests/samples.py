"""Domain commands as tests build them directly, without the API."""

from __future__ import annotations

from datetime import date
from typing import Any

from registry.points.commands import DecisionEntry, RecordDecision
from registry.points.enums import DecisionBasis, Responsibility


def decision(**changes: Any) -> RecordDecision:
    """A valid decision of Guizhou's 520201 bureau: 10 points (4 months chosen) and 3 points."""
    values: dict[str, Any] = {
        "case_number": "黔医保罚〔2025〕1号",
        "region_code": "520201",
        "institution_code": "H52020100001",
        "basis": DecisionBasis.ADMINISTRATIVE_PENALTY,
        "decided_on": date(2025, 3, 10),
        "behaviour": "虚构医疗服务",
        "entries": (
            DecisionEntry("D520201000001", 10, Responsibility.MAIN, 4),
            DecisionEntry("D520201000002", 3, Responsibility.GENERAL),
        ),
    }
    return RecordDecision(**(values | changes))
