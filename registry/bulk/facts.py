"""The facts an import issues, in the stable wire form (snake_case, `type` and `v`; see the event log).

Kept in one place so that a change of the log's format (a hash chain, an envelope) touches only this module.
"""

from __future__ import annotations

from datetime import date
from typing import Any

VERSION = 1


def institution_registered(*, code: str, name: str, kind: str, region_code: str) -> dict[str, Any]:
    return {
        "type": "institution.registered",
        "v": VERSION,
        "code": code,
        "name": name,
        "kind": kind,
        "region_code": region_code,
    }


def practitioner_registered(
    *,
    code: str,
    name: str,
    category: str,
    region_code: str,
    id_digest: str,
    id_masked: str,
    institution_codes: list[str],
    registered_on: date,
) -> dict[str, Any]:
    return {
        "type": "practitioner.registered",
        "v": VERSION,
        "code": code,
        "name": name,
        "category": category,
        "region_code": region_code,
        "id_digest": id_digest,
        "id_masked": id_masked,
        "institution_codes": institution_codes,
        "registered_on": registered_on.isoformat(),
    }
