"""The facts this node issues, numbered in the writing transaction.

A use case calls `append` for each fact it records. The fact takes the next number of this node's gapless
sequence (its origin seq): the head row stays locked until commit, so a rolled-back transaction gives its numbers
back, which a PostgreSQL sequence would not. The fact then waits in the session; at commit, the federation sealer
(wired by the app as the database's before-commit hook) turns the waiting facts into hash-chained, signed
envelopes in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, String, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import STAGED, Base
from registry.errors import Code, fail
from registry.facts import Fact, Issued
from registry.validation import speaks_for

GENESIS = "0" * 64  # the hash before an origin's first event


class OriginHead(Base):
    """The last event of each origin's hash chain held here (this node's own included): its seq and hash."""

    __tablename__ = "origin_heads"

    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Staged:
    seq: int
    fact: Fact
    actor: str


async def next_seq(session: AsyncSession, origin: str, count: int = 1) -> int:
    """Take `count` numbers of `origin`'s sequence (locking its head until commit); return the last one."""
    await session.execute(
        insert(OriginHead).values(origin=origin, seq=0, hash=GENESIS).on_conflict_do_nothing(index_elements=["origin"])
    )
    return int(
        (
            await session.execute(
                update(OriginHead)
                .where(OriginHead.origin == origin)
                .values(seq=OriginHead.seq + count)
                .returning(OriginHead.seq)
            )
        ).scalar_one()
    )


async def append(session: AsyncSession, fact: Fact, *, node: str, actor: str) -> Issued:
    """Log `fact` as issued by the node of region `node` in the caller's transaction; say where it stands in the
    node's log. A node issues facts only about the regions it speaks for (peers refuse the others): WRONG_NODE.
    """
    (issued,) = await append_many(session, [fact], node=node, actor=actor)
    return issued


async def append_many(session: AsyncSession, facts: Sequence[Fact], *, node: str, actor: str) -> list[Issued]:
    """Log several facts at once, in order (one round trip for their numbers: an import logs a million)."""
    for fact in facts:
        region = getattr(fact, "region_code", node)
        if not speaks_for(node, region):
            message = f"this node speaks for {node}; record facts of {region} at the node of {region}"
            raise fail(Code.WRONG_NODE, message)
    first = await next_seq(session, node, len(facts)) - len(facts) + 1
    session.info.setdefault(STAGED, []).extend(Staged(first + i, fact, actor) for i, fact in enumerate(facts))
    return [Issued(node, first + i, actor) for i in range(len(facts))]


def take(session: AsyncSession) -> list[Staged]:
    """The facts staged so far, in order, removed from the session (the sealer calls this once, before commit)."""
    staged: list[Staged] = session.info.pop(STAGED, [])
    return staged
