"""The node's event log: every fact and every derived sanction change, in a gapless sequence.

Each event holds a fact in its stable wire form (`registry.facts`): its `type`, its version `v` and the fact
itself. Gapless because the sequence comes from a counter row updated inside the writing transaction: a
rolled-back transaction gives its number back, which a PostgreSQL sequence would not. Peers will read this log with
a cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, SmallInteger, String, func, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base
from registry.facts import Fact


class EventCounter(Base):
    __tablename__ = "event_counters"

    node_region: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Event(Base):
    __tablename__ = "events"

    node_region: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    # The version of the fact's wire form; 0 marks events written before the stable form (camelCase payloads).
    v: Mapped[int] = mapped_column(SmallInteger)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    fact: Mapped[dict[str, Any]] = mapped_column(JSONB)
    actor: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())


async def append(session: AsyncSession, fact: Fact, *, node: str, actor: str) -> int:
    """Append one fact in the caller's transaction and return its sequence number."""
    await session.execute(insert(EventCounter).values(node_region=node, last_seq=0).on_conflict_do_nothing())
    seq = (
        await session.execute(
            update(EventCounter)
            .where(EventCounter.node_region == node)
            .values(last_seq=EventCounter.last_seq + 1)
            .returning(EventCounter.last_seq)
        )
    ).scalar_one()
    session.add(
        Event(
            node_region=node,
            seq=seq,
            type=fact.TYPE,
            v=fact.VERSION,
            subject=fact.subject,
            fact=fact.wire(),
            actor=actor,
        )
    )
    return seq
