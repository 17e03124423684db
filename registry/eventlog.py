"""The node's event log: every fact and every derived sanction change, in a gapless sequence.

Gapless because the sequence comes from a counter row updated inside the writing transaction: a rolled-back
transaction gives its number back, which a PostgreSQL sequence would not. Peers will read this log with a cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, func, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base


class EventCounter(Base):
    __tablename__ = "event_counters"

    node_region: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Event(Base):
    __tablename__ = "events"

    node_region: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    actor: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())


async def append(
    session: AsyncSession, *, node: str, kind: str, subject: str, payload: dict[str, Any], actor: str
) -> int:
    """Append one event in the caller's transaction and return its sequence number."""
    await session.execute(insert(EventCounter).values(node_region=node, last_seq=0).on_conflict_do_nothing())
    seq = (
        await session.execute(
            update(EventCounter)
            .where(EventCounter.node_region == node)
            .values(last_seq=EventCounter.last_seq + 1)
            .returning(EventCounter.last_seq)
        )
    ).scalar_one()
    session.add(Event(node_region=node, seq=seq, kind=kind, subject=subject, payload=payload, actor=actor))
    return seq
