"""The hot path: was a practitioner eligible for insurance payment at a moment, optionally at one institution.

One SQL statement answers a whole batch: the checks go in as arrays and come back in order, each joined to the
person's registration period, affiliation and the sanction in force on that day. Policy (the emergency
exception) is applied in Python from the in-memory policy book.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from registry.clock import cst_date
from registry.db import Database
from registry.points.enums import SanctionKind, SanctionState
from registry.points.policy import Policy, PolicyBook


class QualificationStatus(StrEnum):
    NORMAL = "NORMAL"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    NOT_REGISTERED = "NOT_REGISTERED"


# Checks, answers and sanctions are named tuples: a batch makes thousands, and a frozen dataclass costs three
# times as much to make.
class Check(NamedTuple):
    practitioner_code: str
    institution_code: str | None
    at: datetime
    emergency: bool = False

    def key(self) -> tuple[str, str | None, str, bool]:
        """What tells two checks' answers apart: equal instants at different offsets are answered apart, since
        each answer shows `at` as it was asked."""
        return self.practitioner_code, self.institution_code, self.at.isoformat(), self.emergency


class SanctionInForce(NamedTuple):
    practitioner_code: str
    kind: SanctionKind
    state: SanctionState
    starts_on: date
    ends_on: date | None
    reregistration_allowed_from: date | None
    case_number: str
    region_code: str
    policy_version: str


class Answer(NamedTuple):
    check: Check
    eligible: bool
    status: QualificationStatus
    affiliated: bool | None
    eligible_again_on: date | None
    sanction: SanctionInForce | None
    # The policy that answered (the institution's region, else the practitioner's, on the day); None when not
    # registered.
    policy_version: str | None


# A termination ends with the registration period it started in: a person registered again after the bar starts
# clean. A suspension runs to its end whatever the registration does, so deregistering does not escape it.
# A termination outranks a suspension. Written for psycopg (the read pool prepares it once per connection). The
# checks come in as one JSON array (`query_params`): psycopg adapts three Python lists element by element, which
# cost twice the CPU of the whole statement for a batch.
QUERY = """
SELECT c.n, r.starts_on IS NOT NULL AS registered, p.region_code, i.region_code AS inst_region,
       CASE WHEN c.inst IS NULL THEN NULL ELSE EXISTS (
           SELECT 1 FROM affiliations a
           WHERE a.practitioner_code = c.code AND a.institution_code = c.inst
             AND a.starts_on <= c.day AND (a.ends_on IS NULL OR a.ends_on >= c.day)) END AS affiliated,
       s.kind, s.state, s.starts_on, s.ends_on, s.reregistration_allowed_from, s.case_number,
       s.region_code AS s_region, s.policy_version
FROM ROWS FROM (json_to_recordset(CAST(%(checks)s AS json)) AS (code text, inst text, day date))
     WITH ORDINALITY AS c(code, inst, day, n)
LEFT JOIN practitioners p ON p.code = c.code
LEFT JOIN institutions i ON i.code = c.inst
LEFT JOIN LATERAL (
    SELECT starts_on FROM registrations
    WHERE practitioner_code = c.code AND starts_on <= c.day AND (ends_on IS NULL OR ends_on >= c.day)
    ORDER BY starts_on DESC LIMIT 1) r ON true
LEFT JOIN LATERAL (
    SELECT kind, state, starts_on, ends_on, reregistration_allowed_from, case_number, region_code, policy_version
    FROM sanctions
    WHERE practitioner_code = c.code AND state <> 'LIFTED'
      AND starts_on <= c.day AND (kind = 'SUSPENSION' OR starts_on >= r.starts_on)
      AND (in_force_to IS NULL OR in_force_to >= c.day)
    ORDER BY kind = 'TERMINATION' DESC, starts_on DESC LIMIT 1) s ON true
ORDER BY c.n
"""


def too_many_checks(count: int, limit: int) -> str:
    """The message of TOO_MANY_CHECKS (both paths say it)."""
    return f"{count} checks in one request; at most {limit}"


def query_params(checks: Sequence[Check], days: Sequence[date]) -> dict[str, str]:
    """QUERY's one parameter: the checks as a JSON array of {code, inst, day}, in order."""
    rows = [
        {"code": c.practitioner_code, "inst": c.institution_code, "day": day}
        for c, day in zip(checks, days, strict=True)
    ]
    return {"checks": orjson.dumps(rows).decode()}


async def check(
    db: Database, policies: PolicyBook, checks: Sequence[Check], days: Sequence[date] | None = None
) -> list[Answer]:
    """The answers, in order, from one statement (on the read pool: a replica when one is configured). `days` are
    the checks' days in China (`cst_date(check.at)`), when the caller knows them already."""
    if not checks:
        return []
    if days is None:
        days = [cst_date(c.at) for c in checks]
    rows = await db.fetch(QUERY, query_params(checks, days))
    policy_for = policies.policy_for
    return [_answer(c, day, row, policy_for) for c, day, row in zip(checks, days, rows, strict=True)]


def _answer(check: Check, day: date, row: tuple[Any, ...], policy_for: Callable[[str, date], Policy]) -> Answer:
    (
        _,
        registered,
        region_code,
        inst_region,
        affiliated,
        kind,
        state,
        starts_on,
        ends_on,
        rereg,
        case,
        s_region,
        version,
    ) = row
    if not registered:
        return Answer(check, False, QualificationStatus.NOT_REGISTERED, affiliated, None, None, None)
    # The emergency exception is the asking institution's region's to decide (a Beijing institution may bill
    # emergency care by a terminated doctor, a Tianjin one may not); with no institution, the person's region.
    policy = policy_for(inst_region or region_code, day)
    if kind is None:
        return Answer(
            check, affiliated is not False, QualificationStatus.NORMAL, affiliated, None, None, policy.version
        )
    sanction = SanctionInForce(
        check.practitioner_code,
        SanctionKind(kind),
        SanctionState(state),
        starts_on,
        ends_on,
        rereg,
        case,
        s_region,
        version,
    )
    eligible_again_on = None
    if sanction.kind is SanctionKind.SUSPENSION:
        status, exempt = QualificationStatus.SUSPENDED, policy.emergency_during_suspension
        if sanction.state is SanctionState.VALID and sanction.ends_on is not None:
            eligible_again_on = sanction.ends_on + timedelta(days=1)
    else:
        status, exempt = QualificationStatus.TERMINATED, policy.emergency_during_termination
    eligible = affiliated is not False and check.emergency and exempt
    return Answer(check, eligible, status, affiliated, eligible_again_on, sanction, policy.version)
