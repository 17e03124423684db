"""Sanction changes as data: what a recompute derived, staged in the session until the transaction commits.

The points service stages one `SanctionChange` per difference it writes to the stored sanctions; a before-commit
hook takes them and turns them into durable notifications in the same transaction. The staging lives in
`session.info`, so this module needs nothing from the layers above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args

from sqlalchemy.ext.asyncio import AsyncSession

Kind = Literal["SUSPENSION", "TERMINATION"]
Change = Literal["imposed", "lengthened", "shortened", "superseded", "reinstated", "lifted"]
State = Literal["VALID", "LIFTED", "SUPERSEDED"]

KINDS: tuple[str, ...] = get_args(Kind)
CHANGES: tuple[str, ...] = get_args(Change)
STATES: tuple[str, ...] = get_args(State)

STAGED = "registry.sanction_changes"


@dataclass(frozen=True)
class SanctionChange:
    """One change of one sanction, with the sanction as it stands after the change."""

    practitioner_code: str
    # The practitioner's category and region when known (a replica may learn of the person later).
    category: str | None
    practitioner_region: str | None
    kind: Kind
    change: Change
    state: State
    starts_on: date
    ends_on: date | None
    reregistration_allowed_from: date | None
    case_number: str
    region_code: str  # the deciding bureau
    year: int

    def __post_init__(self) -> None:
        # Literal types are not checked at run time; a typo here would become a webhook type nobody expects.
        for field, value, allowed in (
            ("kind", self.kind, KINDS),
            ("change", self.change, CHANGES),
            ("state", self.state, STATES),
        ):
            if value not in allowed:
                raise ValueError(f"{field} must be one of {', '.join(allowed)}, not {value!r}")


def stage(session: AsyncSession, change: SanctionChange) -> None:
    """Remember a change in the session's transaction, for the before-commit hook."""
    staged: list[SanctionChange] = session.info.setdefault(STAGED, [])
    staged.append(change)


def take(session: AsyncSession) -> list[SanctionChange]:
    """The changes staged in this session, in staging order; the session holds none afterwards."""
    staged: list[Any] = session.info.pop(STAGED, [])
    return list(staged)
