"""Sanctions derived from the facts: recompute a person-year and bring the stored sanctions in line with it.

The stored sanctions of a person-year are a function of the facts alone, so every node holds the same rows whatever
order the facts reached it in: the sanctions the engine derives (VALID or SUPERSEDED), and, LIFTED, those the
decisions as made would bring but their reviews took away. A sanction is identified by its cause (the point record
that brought it) and its kind. Each difference from the rows stored before is a change: kept in `sanction_changes`
and staged for the regulators' notifications, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.points import changes, records, rules
from registry.points.enums import SanctionChangeKind, SanctionKind, SanctionState
from registry.points.models import Sanction, SanctionChangeRow
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
Key = tuple[int, SanctionKind]  # (cause point record id, kind)


@dataclass(frozen=True)
class Recomputed:
    year: records.PersonYear
    changed: list[Sanction]  # the stored sanctions imposed, changed or lifted


async def recompute(
    session: AsyncSession, policies: PolicyBook, person_years: Iterable[tuple[str, int]]
) -> list[Sanction]:
    """Recompute several person-years (each once); return every sanction that changed."""
    changed: list[Sanction] = []
    for code, year in sorted(set(person_years)):
        changed += (await recompute_year(session, policies, code, year)).changed
    return changed


async def recompute_year(session: AsyncSession, policies: PolicyBook, code: str, year: int) -> Recomputed:
    """Bring the stored sanctions of one person-year in line with the facts; record and return what changed."""
    person = await session.get(Practitioner, code)
    replayed = await records.person_year(session, policies, code, year, person.region_code if person else None)
    wanted = _wanted(replayed, policies)
    stored = {
        (s.cause_point_record_id, s.kind): s
        for s in await session.scalars(
            select(Sanction).where(Sanction.practitioner_code == code, Sanction.year == year)
        )
    }
    changed: list[tuple[SanctionChangeKind | None, Sanction]] = []
    for key, values in wanted.items():
        row = stored.pop(key, None)
        if row is None:
            row = Sanction(practitioner_code=code, year=year, cause_point_record_id=key[0], kind=key[1], **values)
            session.add(row)
            lifted = values["state"] is SanctionState.LIFTED
            changed.append((SanctionChangeKind.LIFTED if lifted else SanctionChangeKind.IMPOSED, row))
        elif any(getattr(row, f) != values[f] for f in DERIVED_FIELDS):
            change = _change(row, values)
            for f in DERIVED_FIELDS:
                setattr(row, f, values[f])
            changed.append((change, row))
    for row in stored.values():  # no longer follows from the facts (an earlier fact arrived late): gone
        if row.state is not SanctionState.LIFTED:
            row.state = SanctionState.LIFTED
            changed.append((SanctionChangeKind.LIFTED, row))
        await session.delete(row)
    await session.flush()
    for change, row in changed:
        if change is not None:
            _record(session, change, row, person)
    return Recomputed(replayed, [row for change, row in changed if change is not None])


async def withdraw(session: AsyncSession, causes: Sequence[int]) -> None:
    """Remove the sanctions these point records brought, before the records themselves go (their decision was
    withdrawn); each one not LIFTED already is told as LIFTED. The caller recomputes the person-years."""
    rows = list(await session.scalars(select(Sanction).where(Sanction.cause_point_record_id.in_(causes))))
    for row in rows:
        if row.state is not SanctionState.LIFTED:
            row.state = SanctionState.LIFTED
            _record(session, SanctionChangeKind.LIFTED, row, await session.get(Practitioner, row.practitioner_code))
        await session.delete(row)
    await session.flush()


def _wanted(replayed: records.PersonYear, policies: PolicyBook) -> dict[Key, dict[str, Any]]:
    """The rows the facts call for: the derived sanctions, and LIFTED those only the unreviewed decisions bring."""
    causes = {r.id: r for r in replayed.records}

    def values(derived: rules.DerivedSanction, state: SanctionState) -> dict[str, Any]:
        cause = causes[int(derived.cause)]
        own = {f: getattr(derived, f) for f in DERIVED_FIELDS if f != "policy_version"}
        return {
            **own,
            "state": state,
            "case_number": cause.case_number,
            "region_code": cause.region_code,
            "policy_version": policies.policy_for(cause.region_code, derived.starts_on).version,
        }

    wanted = {(int(d.cause), d.kind): values(d, d.state) for d in replayed.outcome.sanctions}
    for d in replayed.as_decided.sanctions:
        wanted.setdefault((int(d.cause), d.kind), values(d, SanctionState.LIFTED))
    return wanted


def _change(row: Sanction, values: dict[str, Any]) -> SanctionChangeKind | None:
    """What regulators are told of a changed sanction (None: nothing they act on, e.g. a policy version)."""
    if values["state"] != row.state:
        return {
            SanctionState.SUPERSEDED: SanctionChangeKind.SUPERSEDED,
            SanctionState.VALID: SanctionChangeKind.REINSTATED,
            SanctionState.LIFTED: SanctionChangeKind.LIFTED,
        }[values["state"]]
    if row.ends_on and values["ends_on"] and values["ends_on"] != row.ends_on:
        return SanctionChangeKind.LENGTHENED if values["ends_on"] > row.ends_on else SanctionChangeKind.SHORTENED
    return None


def _record(session: AsyncSession, change: SanctionChangeKind, row: Sanction, person: Practitioner | None) -> None:
    """Keep the change in the node's history, and stage it for the regulators' notifications."""
    staged = changes.SanctionChange(
        practitioner_code=row.practitioner_code,
        category=person.category if person else None,
        practitioner_region=person.region_code if person else None,
        kind=row.kind,
        change=change,
        state=row.state,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        reregistration_allowed_from=row.reregistration_allowed_from,
        case_number=row.case_number,
        region_code=row.region_code,
        year=row.year,
    )
    changes.stage(session, staged)
    session.add(
        SanctionChangeRow(**{k: v for k, v in vars(staged).items() if k not in ("category", "practitioner_region")})
    )
