"""How this node stands with its peers, computed when asked (never stored, so never stale)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from registry.db import Database
from registry.eventlog import OriginHead
from registry.federation.models import Checkpoint, Peer


class PeerState(StrEnum):
    OK = "OK"
    STALE = "STALE"  # not heard from for longer than the limit
    UNREACHABLE = "UNREACHABLE"  # the last attempts to reach it failed (transport)
    HALTED = "HALTED"  # its newest page failed verification


@dataclass(frozen=True)
class PeerStatus:
    region: str
    url: str
    last_heard_at: datetime | None
    last_seq: int
    applied_seq: int
    acknowledged_seq: int
    state: PeerState
    rejected_count: int
    reason: str | None


def state_of(peer: Any, now: datetime, stale_after: timedelta) -> PeerState:
    """HALTED before UNREACHABLE before STALE: the most serious problem is the one to act on."""
    if peer.halted_reason is not None:
        return PeerState.HALTED
    if peer.failures > 0:
        return PeerState.UNREACHABLE
    if now - (peer.last_heard_at or peer.added_at) > stale_after:
        return PeerState.STALE
    return PeerState.OK


async def peers(db: Database, now: datetime, stale_after: timedelta) -> list[PeerStatus]:
    async with db.reader() as conn:
        rows = (await conn.execute(select(*Peer.__table__.columns).order_by(Peer.region))).all()
    return [
        PeerStatus(
            region=p.region,
            url=p.url,
            last_heard_at=p.last_heard_at,
            last_seq=p.last_seq,
            applied_seq=p.applied_position,
            acknowledged_seq=p.acknowledged_position,
            state=state_of(p, now, stale_after),
            rejected_count=p.rejected_count,
            reason=p.halted_reason or p.last_error if p.failures or p.halted_reason else None,
        )
        for p in rows
    ]


async def degraded(db: Database, now: datetime, stale_after: timedelta) -> bool:
    """True when any peer is STALE, UNREACHABLE or HALTED: a billing system may then choose to fail closed."""
    return any(p.state is not PeerState.OK for p in await peers(db, now, stale_after))


@dataclass(frozen=True)
class OriginStatus:
    region: str
    seq: int  # the last event of its chain held here
    checkpoint_seq: int  # the last of its signed checkpoints verified (or, for this node, signed) here


async def origins(db: Database) -> list[OriginStatus]:
    """Every origin's chain this node holds, with how far its signed checkpoints reach."""
    async with db.reader() as conn:
        rows = (
            await conn.execute(
                select(
                    OriginHead.origin,
                    OriginHead.seq,
                    select(func.coalesce(func.max(Checkpoint.seq), 0))
                    .where(Checkpoint.origin == OriginHead.origin)
                    .scalar_subquery(),
                ).order_by(OriginHead.origin)
            )
        ).all()
    return [OriginStatus(region, seq, checkpoint) for region, seq, checkpoint in rows]
