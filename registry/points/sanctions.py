"""Sanctions derived from the facts: recompute a person-year and bring the stored sanctions in line with it.

A stored sanction is identified by its cause (the point record that brought it) and its kind, across
recomputations. Each difference is logged as a sanction change: imposed, lengthened, shortened, superseded,
reinstated, changed or lifted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import eventlog
from registry.auth import Actor
from registry.node import Node
from registry.points import facts, records, rules
from registry.points.enums import SanctionState
from registry.points.models import Sanction
from registry.points.policy import PolicyBook
from registry.practitioners.models import Practitioner

# What a recomputation may change in a stored sanction; the rest is its identity.
DERIVED_FIELDS = (
    "state",
    "starts_on",
    "ends_on",
    "in_force_to",
    "months",
    "reregistration_allowed_from",
    "single_decision",
    "policy_version",
)


@dataclass(frozen=True)
class Recomputed:
    year: records.PersonYear
    changed: list[Sanction]  # the stored sanctions imposed, changed or lifted


async def recompute_year(
    session: AsyncSession, *, node: Node, actor: Actor, policies: PolicyBook, person: Practitioner, year: int
) -> Recomputed:
    """Bring the stored sanctions of one person-year in line with the rules; log and return what changed."""
    replayed = await records.person_year(session, policies, person, year)
    causes = {r.id: r for r in replayed.records}
    stored = {
        (s.cause_point_record_id, s.kind): s
        for s in await session.scalars(
            select(Sanction).where(Sanction.practitioner_code == person.code, Sanction.year == year)
        )
    }
    changed: list[tuple[type[facts.SanctionChange], Sanction]] = []
    for derived in replayed.outcome.sanctions:
        cause = causes[int(derived.cause)]
        values = _values(derived, policies.policy_for(person.region_code, derived.starts_on).version)
        row = stored.pop((cause.id, derived.kind), None)
        if row is None:
            row = Sanction(
                practitioner_code=person.code,
                year=year,
                kind=derived.kind,
                cause_point_record_id=cause.id,
                case_number=cause.case_number,
                region_code=cause.region_code,
                **values,
            )
            session.add(row)
            changed.append((facts.SanctionImposed, row))
        elif any(getattr(row, f) != values[f] for f in DERIVED_FIELDS):
            change = _change(row, values)
            for f in DERIVED_FIELDS:
                setattr(row, f, values[f])
            row.updated_at = func.now()
            changed.append((change, row))
    for row in stored.values():  # no longer derived: its cause was reviewed away
        if row.state is not SanctionState.LIFTED:
            row.state = SanctionState.LIFTED
            row.updated_at = func.now()
            changed.append((facts.SanctionLifted, row))
    await session.flush()
    for change, row in changed:
        await session.refresh(row)
        await eventlog.append(session, change.of(row), node=node.region, actor=actor.subject)
    return Recomputed(replayed, [row for _, row in changed])


def _values(derived: rules.DerivedSanction, policy_version: str) -> dict[str, Any]:
    own = {f: getattr(derived, f) for f in DERIVED_FIELDS if f != "policy_version"}
    return {**own, "policy_version": policy_version}


def _change(row: Sanction, values: dict[str, Any]) -> type[facts.SanctionChange]:
    if values["state"] != row.state:
        return {
            SanctionState.SUPERSEDED: facts.SanctionSuperseded,
            SanctionState.VALID: facts.SanctionReinstated,
        }.get(values["state"], facts.SanctionChanged)
    if row.ends_on and values["ends_on"] and values["ends_on"] != row.ends_on:
        return facts.SanctionLengthened if values["ends_on"] > row.ends_on else facts.SanctionShortened
    return facts.SanctionChanged
