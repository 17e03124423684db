"""Sanction changes as data: what a recompute derived, staged in the session until the transaction commits.

The points service stages one `SanctionChange` per difference it writes to the stored sanctions; a before-commit
hook takes them and turns them into durable notifications in the same transaction. The staging lives in
`session.info`, so this module needs nothing from the layers above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.points.enums import SanctionChangeKind, SanctionKind, SanctionState

STAGED = "registry.sanction_changes"


@dataclass(frozen=True)
class SanctionChange:
    """One change of one sanction, with the sanction as it stands after the change."""

    practitioner_code: str
    # The practitioner's category and region when known (a replica may learn of the person later).
    category: str | None
    practitioner_region: str | None
    kind: SanctionKind
    change: SanctionChangeKind
    state: SanctionState
    starts_on: date
    ends_on: date | None
    reregistration_allowed_from: date | None
    case_number: str
    region_code: str  # the deciding bureau
    year: int

    def __post_init__(self) -> None:
        # Enum values, whatever was passed: a typo here would become a webhook type nobody expects.
        for field, enum in (("kind", SanctionKind), ("change", SanctionChangeKind), ("state", SanctionState)):
            value = getattr(self, field)
            if value not in set(enum):
                raise ValueError(f"{field} must be one of {', '.join(enum)}, not {value!r}")
            object.__setattr__(self, field, enum(value))


def stage(session: AsyncSession, change: SanctionChange) -> None:
    """Remember a change in the session's transaction, for the before-commit hook."""
    staged: list[SanctionChange] = session.info.setdefault(STAGED, [])
    staged.append(change)


def take(session: AsyncSession) -> list[SanctionChange]:
    """The changes staged in this session, in staging order; the session holds none afterwards."""
    staged: list[Any] = session.info.pop(STAGED, [])
    return list(staged)
