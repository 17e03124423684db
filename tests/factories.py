"""Valid identifiers and inputs for tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from registry.points.changes import SanctionChange

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(region: str = "520201", birth: str = "19800101", serial: str = "123") -> str:
    """A resident ID with a correct GB 11643 check character (computed independently of the code under test)."""
    body = region + birth + serial
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def institution(code: str = "H52020100001", region: str = "520201", **extra: Any) -> dict[str, Any]:
    kind = "MEDICAL_INSTITUTION" if code.startswith("H") else "RETAIL_PHARMACY"
    return {"code": code, "name": f"Institution {code}", "kind": kind, "regionCode": region, **extra}


def practitioner(
    code: str = "D520201000001",
    institutions: tuple[str, ...] = ("H52020100001",),
    region: str = "520201",
    registered_on: str = "2024-06-01",
    serial: str = "123",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": "张医生",
        "idNumber": resident_id(region, serial=serial),
        "category": "PHYSICIAN",
        "regionCode": region,
        "institutionCodes": list(institutions),
        "registeredOn": registered_on,
        **extra,
    }


def decision(
    case: str,
    entries: list[tuple[str, int] | tuple[str, int, int]],
    decided_on: str,
    region: str = "520201",
    institution: str = "H52020100001",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "caseNumber": case,
        "regionCode": region,
        "institutionCode": institution,
        "basis": "ADMINISTRATIVE_PENALTY",
        "decidedOn": decided_on,
        "behaviour": "虚构医疗服务",
        "entries": [
            {
                "practitionerCode": e[0],
                "points": e[1],
                "responsibility": "MAIN",
                **({"suspensionMonths": e[2]} if len(e) > 2 else {}),
            }
            for e in entries
        ],
        **extra,
    }


def sanction_change(code: str = "D520201000001", **overrides: Any) -> SanctionChange:
    """A change as the points recompute stages it: by default a suspension imposed by Guizhou's bureau."""
    values: dict[str, Any] = {
        "practitioner_code": code,
        "category": "PHYSICIAN",
        "practitioner_region": "520201",
        "kind": "SUSPENSION",
        "change": "imposed",
        "state": "VALID",
        "starts_on": date(2026, 3, 10),
        "ends_on": date(2026, 7, 9),
        "reregistration_allowed_from": None,
        "case_number": "黔医保罚〔2026〕1号",
        "region_code": "520000",
        "year": 2026,
    } | overrides
    return SanctionChange(**values)
