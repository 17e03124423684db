"""What registration must know of a person's sanctions: a running re-registration bar, a termination.

The `sanctions` table is derived by `registry.points`, a layer above this one, which in turn builds on the people
registered here. So these reads name the table in SQL, as the eligibility hot path does, rather than importing the
points models: the table (and its CHECK constraints on kind and state) is the interface between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

BARRED_UNTIL = text("""
SELECT max(reregistration_allowed_from) FROM sanctions
WHERE practitioner_code = ANY(CAST(:codes AS text[])) AND kind = 'TERMINATION' AND state = 'VALID'
  AND reregistration_allowed_from > :on
""")

TERMINATED_SINCE = text("""
SELECT EXISTS (SELECT 1 FROM sanctions
               WHERE practitioner_code = :code AND kind = 'TERMINATION' AND state = 'VALID' AND starts_on >= :since)
""")


async def barred_until(session: AsyncSession, codes: Sequence[str], on: date) -> date | None:
    """The end of a re-registration bar still running on `on` for any of these codes, if any."""
    bar: date | None = await session.scalar(BARRED_UNTIL, {"codes": list(codes), "on": on})
    return bar


async def terminated_since(session: AsyncSession, code: str, since: date) -> bool:
    """Whether a termination that still stands started on or after `since` (ending the registration it fell in)."""
    return bool(await session.scalar(TERMINATED_SINCE, {"code": code, "since": since}))
