"""A points restoration (记分修复): a qualifying activity removes points, where the policy allows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.points import rules, sanctions, store
from registry.points.commands import RecordRestoration
from registry.points.enums import SanctionKind, SanctionState
from registry.points.facts import RestorationRecorded
from registry.points.models import Restoration, Sanction
from registry.points.policy import PolicyBook
from registry.practitioners import lookups

REFUSALS = {
    Code.RESTORATION_NOT_ALLOWED: "the policy in force ({policy.version}) allows no points restoration",
    Code.RESTORATION_AFTER_TERMINATION: "points cannot be restored after a termination",
    Code.RESTORATION_CAP_EXCEEDED: "at most {policy.restoration_cap_per_year} points may be restored in a year",
}


@dataclass(frozen=True)
class RestorationResult:
    restoration: Restoration
    points: int  # the year's total after it
    sanctions: list[Sanction]


async def record_restoration(
    db: Database, cmd: RecordRestoration, *, actor: Actor, node: Node, policies: PolicyBook, today: date
) -> RestorationResult:
    """The granting bureau's policy decides how many points an activity removes, the yearly cap, and whether a
    terminated person may restore at all."""
    raise_if(cmd.problems(today))
    async with db.transaction() as session:
        found = await lookups.lock_people(session, [cmd.practitioner_code])
        person = found.get(cmd.practitioner_code)
        region = None if person is None else person.region_code
        access.enforce(access.record_restoration(actor, region_code=cmd.region_code, practitioner_region=region))
        if person is None:
            raise lookups.unknown_practitioner(cmd.practitioner_code, "practitioner_code")
        policy = policies.policy_for(cmd.region_code, cmd.restored_on)
        year = cmd.restored_on.year
        already = await session.scalar(
            select(func.coalesce(func.sum(Restoration.points), 0)).where(
                Restoration.practitioner_code == person.code,
                Restoration.restored_on.between(date(year, 1, 1), date(year, 12, 31)),
            )
        )
        terminated = await session.scalar(
            select(Sanction.id).where(
                Sanction.practitioner_code == person.code,
                Sanction.kind == SanctionKind.TERMINATION,
                Sanction.state == SanctionState.VALID,
                Sanction.starts_on <= cmd.restored_on,
            )
        )
        points = policy.restoration_points_per_activity
        refusal = rules.restoration_refusal(policy, int(already or 0), points, terminated is not None)
        if refusal is not None:
            code = Code(refusal)
            raise fail(code, REFUSALS[code].format(policy=policy), "practitioner_code")
        fact = RestorationRecorded.of(cmd, points=points)
        issued = await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        await store.restoration(session, fact, issued)
        recomputed = await sanctions.recompute_year(session, policies, person.code, year)
        restoration = await session.scalar(
            select(Restoration).where(Restoration.origin == issued.origin, Restoration.origin_seq == issued.seq)
        )
        assert restoration is not None
        return RestorationResult(restoration, recomputed.year.outcome.total, recomputed.changed)
