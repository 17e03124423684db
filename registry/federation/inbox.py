"""Applying a page pulled from a peer: verify all of it, then store and apply it in ONE transaction, or nothing.

Verification: the page is a well-formed, contiguous run of the peer's feed; each origin's events continue what this
node holds of that origin's hash chain (already-known events must be identical) under a checkpoint signed by a
key of the node that speaks for that origin, and every fact is about a region its origin speaks for. The national
origin is checked first, because its `node.key` facts teach the keys of the other origins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db import Database
from registry.eventlog import OriginHead
from registry.federation import envelope, log
from registry.federation.keys import parse_public_key
from registry.federation.models import FeedEvent, NodeKey, Peer, PeerOrigin

NATIONAL = "000000"
NODE_KEY = "node.key"


class Rejected(Exception):
    """The page failed verification; nothing of it was applied."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Replica:
    """A verified fact of another origin, in the order the page gave it."""

    origin: str
    seq: int
    type: str
    v: int
    fact: dict[str, object]


ApplyReplicas = Callable[[AsyncSession, Sequence[Replica]], Awaitable[None]]


@dataclass
class Page:
    head: int
    positions: list[int]
    events: list[envelope.Event]
    raws: list[bytes]
    checkpoints: list[envelope.Checkpoint] = field(default_factory=list)


def parse_page(body: bytes, *, peer: str, after: int) -> Page:
    """A page exactly as the feed serves it, or Rejected with the reason."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Rejected(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"region", "head", "events", "checkpoints"}:
        raise Rejected("not a feed page: expected region, head, events, checkpoints")
    events, checkpoints = data["events"], data["checkpoints"]
    if data["region"] != peer or not isinstance(data["head"], int) or not isinstance(events, list):
        raise Rejected("not a feed page of this peer")
    if not isinstance(checkpoints, list) or not all(isinstance(c, str) for c in checkpoints):
        raise Rejected("checkpoints must be a list of strings")
    page = Page(head=data["head"], positions=[], events=[], raws=[])
    for i, item in enumerate(events):
        if not isinstance(item, dict) or set(item) != {"position", "envelope"} or not isinstance(item["envelope"], str):
            raise Rejected(f"event {i} is not {{position, envelope}}")
        if item["position"] != after + 1 + i:
            raise Rejected(f"positions are not contiguous after {after}: {item['position']!r} at {i}")
        raw = item["envelope"].encode()
        try:
            page.events.append(envelope.parse_event(raw))
        except envelope.EnvelopeError as exc:
            raise Rejected(f"event at position {item['position']}: {exc.reason}") from None
        page.positions.append(item["position"])
        page.raws.append(raw)
    try:
        page.checkpoints = [envelope.parse_checkpoint(c.encode()) for c in checkpoints]
    except envelope.EnvelopeError as exc:
        raise Rejected(f"checkpoint: {exc.reason}") from None
    return page


async def _keys(session: AsyncSession) -> dict[str, list[Ed25519PublicKey]]:
    keys: dict[str, list[Ed25519PublicKey]] = {}
    for region, key in (await session.execute(select(NodeKey.region, NodeKey.public_key))).all():
        keys.setdefault(region, []).append(parse_public_key(key))
    for region, key in (await session.execute(select(Peer.region, Peer.public_key))).all():
        keys.setdefault(region, []).append(parse_public_key(key))
    return keys


async def _check_contiguous(session: AsyncSession, peer: str, origin: str, seqs: list[int]) -> None:
    """A peer's feed carries each origin as 1, 2, 3, …: anything else is a replay, a reorder or a gap."""
    seen = await session.scalar(select(PeerOrigin.seq).where(PeerOrigin.peer == peer, PeerOrigin.origin == origin))
    expected = (seen or 0) + 1
    for seq in seqs:
        if seq < expected:
            raise Rejected(f"{'reorder' if seq > (seen or 0) else 'replay'}: {origin} seq {seq}, expected {expected}")
        if seq > expected:
            raise Rejected(f"gap: {origin} seq {seq}, expected {expected}")
        expected += 1


async def _check_known(session: AsyncSession, origin: str, known: list[tuple[int, str]]) -> None:
    """Events this node already holds (received by another path) must be byte-identical: otherwise a fork."""
    if not known:
        return
    stored = dict(
        (
            await session.execute(
                select(FeedEvent.seq, FeedEvent.hash).where(
                    FeedEvent.origin == origin, FeedEvent.seq.in_([s for s, _ in known])
                )
            )
        ).all()
    )
    for seq, digest in known:
        if stored.get(seq) != digest:
            raise Rejected(f"fork: {origin} seq {seq} differs from the copy held here")


async def verify_and_store(session: AsyncSession, *, peer: str, page: Page) -> list[Replica]:
    """Verify the page against what this node holds and store its new envelopes; return the new facts in order.

    The national origin goes first: its `node.key` facts may teach the keys that verify the other origins.
    """
    keys = await _keys(session)
    by_origin: dict[str, list[int]] = {}
    for i, event in enumerate(page.events):
        by_origin.setdefault(event.origin, []).append(i)
    heads = await log.heads(session, by_origin)
    new_index: list[int] = []
    checkpoints: list[envelope.Checkpoint] = []
    for origin in sorted(by_origin, key=lambda o: (o != NATIONAL, o)):
        fresh, checkpoint = await _verify_origin(
            session, peer, page, origin, by_origin[origin], heads.get(origin), keys
        )
        if checkpoint is not None:
            checkpoints.append(checkpoint)
            new_index += fresh
            if origin == NATIONAL:
                await _learn_keys(session, [page.events[i] for i in fresh], keys)
    for origin, indexes in by_origin.items():
        seq = page.events[indexes[-1]].seq
        await session.execute(
            insert(PeerOrigin)
            .values(peer=peer, origin=origin, seq=seq)
            .on_conflict_do_update(index_elements=["peer", "origin"], set_={"seq": seq})
        )
    new_index.sort()
    rows = _rows(page, new_index, {(c.origin, c.seq) for c in checkpoints})
    if rows:
        await log.store(session, rows, checkpoints)
    return [Replica(e.origin, e.seq, e.type, e.v, e.fact) for e in (page.events[i] for i in new_index)]


async def _verify_origin(
    session: AsyncSession,
    peer: str,
    page: Page,
    origin: str,
    indexes: list[int],
    head: OriginHead | None,
    keys: dict[str, list[Ed25519PublicKey]],
) -> tuple[list[int], envelope.Checkpoint | None]:
    """One origin's events in the page: contiguous in the peer's feed, identical where already held, and the rest
    continuing this node's copy of the chain under a checkpoint signed by a key of the origin. Returns the new
    events (as page indexes) and the checkpoint that covers them (None when nothing is new); moves the head."""
    await _check_contiguous(session, peer, origin, [page.events[i].seq for i in indexes])
    held = head.seq if head else 0
    known = [i for i in indexes if page.events[i].seq <= held]
    await _check_known(session, origin, [(page.events[i].seq, envelope.digest(page.raws[i])) for i in known])
    fresh = [i for i in indexes if page.events[i].seq > held]
    if not fresh:
        return [], None
    if origin not in keys:
        raise Rejected(f"unknown origin {origin}: no key speaks for it")
    verified = _verify(
        origin,
        envelope.Head(head.seq, head.hash) if head else None,
        [page.raws[i] for i in fresh],
        [c for c in page.checkpoints if c.origin == origin],
        keys[origin],
    )
    if verified.uncovered or verified.head is None or verified.checkpoint is None:
        raise Rejected(f"{origin}: {verified.uncovered} events not covered by a checkpoint")
    new_head = {"seq": verified.head.seq, "hash": verified.head.hash}
    await session.execute(
        insert(OriginHead)
        .values(origin=origin, **new_head)
        .on_conflict_do_update(index_elements=["origin"], set_=new_head)
    )
    return fresh, verified.checkpoint


async def _learn_keys(
    session: AsyncSession, events: list[envelope.Event], keys: dict[str, list[Ed25519PublicKey]]
) -> None:
    """The keys the national node vouches for in `node.key` facts: usable at once, and kept."""
    learned = [(str(e.fact["region_code"]), str(e.fact["public_key"])) for e in events if e.type == NODE_KEY]
    for region, public in learned:
        keys.setdefault(region, []).append(parse_public_key(public))
    if learned:
        await session.execute(
            insert(NodeKey)
            .values([{"region": r, "public_key": k, "source": "learned"} for r, k in learned])
            .on_conflict_do_nothing()
        )


def _verify(
    origin: str,
    head: envelope.Head | None,
    raws: list[bytes],
    checkpoints: list[envelope.Checkpoint],
    keys: list[Ed25519PublicKey],
) -> envelope.Verified:
    """verify_run with each key that speaks for `origin` (a rotated key keeps its old checkpoints valid)."""
    error: envelope.EnvelopeError | None = None
    for key in keys:
        try:
            return envelope.verify_run(origin, head, raws, checkpoints, key)
        except envelope.EnvelopeError as exc:
            if exc.reason != envelope.Reason.BAD_SIGNATURE:
                raise Rejected(f"{origin}: {exc}") from None
            error = exc
    raise Rejected(f"{origin}: {error}")


def _rows(page: Page, indexes: list[int], covered: set[tuple[str, int]]) -> list[log.Row]:
    """The new envelopes as feed rows; a row is a cut when every origin seen so far ends on a checkpoint."""
    rows: list[log.Row] = []
    open_origins: set[str] = set()
    for i in indexes:
        event = page.events[i]
        if (event.origin, event.seq) in covered:
            open_origins.discard(event.origin)
        else:
            open_origins.add(event.origin)
        rows.append(
            log.Row(
                event.origin,
                event.seq,
                envelope.digest(page.raws[i]),
                event.type,
                page.raws[i].decode(),
                not open_origins,
            )
        )
    return rows


async def apply_page(
    db: Database, *, peer: str, after: int, page: Page, apply_replicas: ApplyReplicas, now: datetime
) -> int:
    """Apply one page (`parse_page`'s) in one transaction; return how many events it held (0: caught up, or
    another worker applied it). Raises Rejected."""
    async with db.transaction() as session:
        # One page at a time on this node: heads and positions move in one order.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('registry.inbox'))"))
        cursor = await session.scalar(select(Peer.applied_position).where(Peer.region == peer).with_for_update())
        if cursor != after:
            return 0  # another worker applied it meanwhile
        replicas = await verify_and_store(session, peer=peer, page=page)
        if replicas:
            await apply_replicas(session, replicas)
        values: dict[str, object] = {
            "last_seq": func.greatest(Peer.last_seq, page.head),
            "last_heard_at": now,
            "failures": 0,
            "last_error": None,
            "halted_reason": None,
            "halted_at": None,
        }
        if page.positions:
            values["applied_position"] = page.positions[-1]
        await session.execute(update(Peer).where(Peer.region == peer).values(**values))
        return len(page.positions)


async def record_rejection(db: Database, *, peer: str, reason: str, now: datetime) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Peer)
            .where(Peer.region == peer)
            .values(
                halted_reason=reason[:2000],
                halted_at=now,
                rejected_count=Peer.rejected_count + 1,
                last_heard_at=now,
                last_attempt_at=now,
                failures=0,
            )
        )


async def record_unreachable(db: Database, *, peer: str, reason: str, now: datetime) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Peer)
            .where(Peer.region == peer)
            .values(failures=Peer.failures + 1, last_error=reason[:2000], last_attempt_at=now)
        )


__all__ = ["ApplyReplicas", "Rejected", "Replica", "apply_page", "parse_page", "record_rejection"]
