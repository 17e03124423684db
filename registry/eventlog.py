"""Facts this node issues, staged in the writing transaction.

A use case calls `append` after storing its fact. The federation sealer, wired by the app as the database's
before-commit hook, turns the staged facts into hash-chained envelopes with gapless sequence numbers and signs a
checkpoint, in the same transaction; a rolled-back use case therefore leaves no event and gives its numbers back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

STAGED = "registry.staged_facts"


class Fact(Protocol):
    TYPE: ClassVar[str]
    VERSION: ClassVar[int]

    def wire(self) -> dict[str, Any]:
        """The stable snake_case form that is hashed, signed and replicated."""
        ...


@dataclass(frozen=True)
class Staged:
    fact: Fact
    actor: str


def append(session: AsyncSession, fact: Fact, *, actor: str) -> None:
    """Stage a fact for the log of the transaction `session` belongs to."""
    session.info.setdefault(STAGED, []).append(Staged(fact, actor))


def take(session: AsyncSession) -> list[Staged]:
    """The facts staged so far, removed from the session (the sealer calls this once, before commit)."""
    staged: list[Staged] = session.info.pop(STAGED, [])
    return staged
