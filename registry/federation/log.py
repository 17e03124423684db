"""This node's side of the feed: sealing its own facts into signed, hash-chained envelopes, and the positions and
checkpoints that relayed envelopes share with them.

Everything here runs inside the caller's transaction, so a fact, its envelope and its checkpoint commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry import eventlog
from registry.db import insert_many
from registry.eventlog import OriginHead
from registry.federation import envelope
from registry.federation.models import Checkpoint, FeedEvent, FeedHead

FEED_CHANNEL = "registry_feed"  # NOTIFY after a commit that added to the feed: the leader pushes to peers
# Big transactions (an import) still give pages that can end every so often.
CHECKPOINT_EVERY = 500


@dataclass(frozen=True)
class Row:
    """An envelope about to take a position in the feed."""

    origin: str
    seq: int
    hash: str
    type: str
    envelope: str
    cut: bool
    actor: str | None = None


async def heads(session: AsyncSession, origins: Iterable[str]) -> dict[str, OriginHead]:
    rows = await session.scalars(select(OriginHead).where(OriginHead.origin.in_(list(origins))))
    return {row.origin: row for row in rows}


async def store(session: AsyncSession, rows: Sequence[Row], checkpoints: Sequence[envelope.Checkpoint]) -> int:
    """Give `rows` the next positions of the feed (in order) and keep their checkpoints; return the last position.

    The counter row is locked until commit, so positions follow commit order and a rolled-back transaction gives
    its positions back: a peer paging after a position never skips one that commits later.
    """
    last = (
        await session.execute(
            update(FeedHead)
            .where(FeedHead.id == 1)
            .values(position=FeedHead.position + len(rows))
            .returning(FeedHead.position)
        )
    ).scalar_one()
    first = last - len(rows) + 1
    if rows:
        await insert_many(session, FeedEvent, [{"position": first + i, **row.__dict__} for i, row in enumerate(rows)])
    if checkpoints:
        await session.execute(
            insert(Checkpoint)
            .values([{"origin": c.origin, "seq": c.seq, "hash": c.hash, "raw": c.raw.decode()} for c in checkpoints])
            .on_conflict_do_nothing()
        )
    await session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": FEED_CHANNEL, "payload": str(last)})
    return int(last)


class Sealer:
    """The database's before-commit hook: seals the facts a transaction staged, as `origin`, and signs them."""

    def __init__(self, origin: str, private_key: Ed25519PrivateKey, checkpoint_every: int = CHECKPOINT_EVERY):
        self.origin = origin
        self._key = private_key
        self._every = checkpoint_every

    async def __call__(self, session: AsyncSession) -> None:
        staged = eventlog.take(session)
        if not staged:
            return
        # The use case took the seqs (and locked the head) when it logged the facts; the hash is still the last
        # sealed event's.
        head = await session.scalar(select(OriginHead).where(OriginHead.origin == self.origin))
        assert head is not None and head.seq == staged[-1].seq, "facts were numbered outside this transaction"
        facts = [(item.fact.TYPE, item.fact.wire(), item.fact.VERSION) for item in staged]
        run = envelope.seal_run(self.origin, staged[0].seq, head.hash, facts)
        rows: list[Row] = []
        checkpoints: list[envelope.Checkpoint] = []
        for i, (item, sealed) in enumerate(zip(staged, run, strict=True)):
            cut = i == len(staged) - 1 or (i + 1) % self._every == 0
            if cut:
                raw = envelope.sign_checkpoint(self._key, self.origin, item.seq, sealed.hash)
                checkpoints.append(envelope.parse_checkpoint(raw))
            rows.append(Row(self.origin, item.seq, sealed.hash, item.fact.TYPE, sealed.raw.decode(), cut, item.actor))
        head.hash = run[-1].hash
        await store(session, rows, checkpoints)


async def feed_position(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(FeedHead.position), 0))) or 0)
