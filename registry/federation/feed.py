"""Reading the feed for a peer: a page of envelopes after a position, cut where every event is covered by a
checkpoint in the page, with those checkpoints byte for byte."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.federation.models import Checkpoint, FeedEvent, FeedHead, Peer

DEFAULT_LIMIT = 500
MAX_LIMIT = 2000


@dataclass(frozen=True)
class Page:
    region: str
    head: int
    events: list[tuple[int, str]]  # (position, raw envelope)
    checkpoints: list[str]

    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "head": self.head,
            "events": [{"position": p, "envelope": e} for p, e in self.events],
            "checkpoints": self.checkpoints,
        }


async def read_page(session: AsyncSession, *, region: str, after: int, limit: int) -> Page:
    head = int(await session.scalar(select(FeedHead.position).where(FeedHead.id == 1)) or 0)
    rows = (
        await session.execute(
            select(FeedEvent.position, FeedEvent.origin, FeedEvent.seq, FeedEvent.envelope, FeedEvent.cut)
            .where(FeedEvent.position > after)
            .order_by(FeedEvent.position)
            .limit(limit)
        )
    ).all()
    cuts = [i for i, row in enumerate(rows) if row.cut]
    if cuts:
        rows = rows[: cuts[-1] + 1]
    elif rows:
        # One transaction wrote more than `limit` events without a cut: the page runs to its first cut.
        end = await session.scalar(
            select(func.min(FeedEvent.position)).where(FeedEvent.position > after, FeedEvent.cut)
        )
        rows = (
            await session.execute(
                select(FeedEvent.position, FeedEvent.origin, FeedEvent.seq, FeedEvent.envelope, FeedEvent.cut)
                .where(FeedEvent.position > after, FeedEvent.position <= end)
                .order_by(FeedEvent.position)
            )
        ).all()
    spans: dict[str, tuple[int, int]] = {}
    for row in rows:
        low, high = spans.get(row.origin, (row.seq, row.seq))
        spans[row.origin] = (min(low, row.seq), max(high, row.seq))
    checkpoints: list[str] = []
    if spans:
        found = await session.scalars(
            select(Checkpoint.raw)
            .where(
                or_(*(and_(Checkpoint.origin == o, Checkpoint.seq.between(lo, hi)) for o, (lo, hi) in spans.items()))
            )
            .order_by(Checkpoint.origin, Checkpoint.seq)
        )
        checkpoints = list(found)
    return Page(region, head, [(row.position, row.envelope) for row in rows], checkpoints)


async def acknowledge(session: AsyncSession, peer: str, after: int, now: datetime) -> None:
    """A peer asks for what follows `after`: it has applied everything up to there."""
    await session.execute(
        update(Peer).where(Peer.region == peer).values(acknowledged_position=after, acknowledged_at=now)
    )
