"""What registration must know of a person's sanctions: a bar or a running sanction of any of their codes.

The `sanctions` table is derived by `registry.points`, a layer above this one, which in turn builds on the people
registered here. So these reads name the table in SQL, as the eligibility hot path does, rather than importing the
points models: the table (and its CHECK constraints on kind and state) is the interface between the two.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A sanction follows the person, whatever code it was given under: a re-registration bar, or a running suspension of
# another code of theirs (a running termination carries its bar).
BLOCKED_UNTIL = text("""
SELECT max(until) FROM (
    SELECT s.reregistration_allowed_from AS until
    FROM practitioners p JOIN sanctions s ON s.practitioner_code = p.code
    WHERE p.id_hash = :digest AND s.kind = 'TERMINATION' AND s.state = 'VALID' AND s.reregistration_allowed_from > :on
    UNION ALL
    SELECT s.in_force_to + 1
    FROM practitioners p JOIN sanctions s ON s.practitioner_code = p.code
    WHERE p.id_hash = :digest AND p.code <> :code AND s.kind = 'SUSPENSION' AND s.state = 'VALID'
      AND s.starts_on <= :on AND s.in_force_to >= :on
) blocking
""")

TERMINATED_SINCE = text("""
SELECT EXISTS (SELECT 1 FROM sanctions
               WHERE practitioner_code = :code AND kind = 'TERMINATION' AND state = 'VALID' AND starts_on >= :since)
""")


async def blocked_until(session: AsyncSession, digest: str, code: str, on: date) -> date | None:
    """The first day a new registration of this person (as `code`) may start, when a sanction of theirs blocks `on`."""
    until: date | None = await session.scalar(BLOCKED_UNTIL, {"digest": digest, "code": code, "on": on})
    return until


async def terminated_since(session: AsyncSession, code: str, since: date) -> bool:
    """Whether a termination that still stands started on or after `since` (ending the registration it fell in)."""
    return bool(await session.scalar(TERMINATED_SINCE, {"code": code, "since": since}))
