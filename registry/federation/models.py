"""The feed (every envelope this node stores, its own and relayed ones), chain heads, checkpoints, keys and peers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base


class FeedEvent(Base):
    """One envelope, stored byte for byte, at a gapless local position (what peers page through)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("origin", "seq", name="uq_events_origin_seq"),)

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    origin: Mapped[str] = mapped_column(String(6))
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[str] = mapped_column(Text)
    # A page may end after this position: every origin written by the same transaction is covered up to here.
    cut: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str | None] = mapped_column(String(64))  # local facts only: who did it
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())


class FeedHead(Base):
    """The feed's position counter: updated inside the writing transaction, so positions are gapless and follow
    commit order (a reader paging `after` a position never skips a later-committing one)."""

    __tablename__ = "feed_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)


class Checkpoint(Base):
    """A signed (origin, seq, hash), kept byte for byte so that relayed events travel with their origin's proof."""

    __tablename__ = "checkpoints"

    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    raw: Mapped[str] = mapped_column(Text)


class NodeKey(Base):
    """Public keys of the nodes that speak for a region: given with `peer add`, or learned from national `node.key`
    facts. Old keys stay, so that checkpoints signed before a rotation still verify when relayed to a newcomer."""

    __tablename__ = "node_keys"

    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(8))  # "peer" or "learned"
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Peer(Base):
    """A node this one follows (pulls from) and answers (serves its feed to)."""

    __tablename__ = "peers"

    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())
    applied_position: Mapped[int] = mapped_column(BigInteger, default=0)  # appliedSeq: our cursor in its feed
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # the newest position it announced
    last_heard_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive transport failures
    last_error: Mapped[str | None] = mapped_column(Text)
    halted_reason: Mapped[str | None] = mapped_column(Text)
    halted_at: Mapped[datetime | None]
    rejected_count: Mapped[int] = mapped_column(BigInteger, default=0)
    acknowledged_position: Mapped[int] = mapped_column(BigInteger, default=0)  # what it has applied of ours
    acknowledged_at: Mapped[datetime | None]


class PeerOrigin(Base):
    """The last seq of `origin` seen in `peer`'s feed. A feed carries each origin contiguously from 1, so anything
    else from that peer is a replay, a reorder or a gap."""

    __tablename__ = "peer_origins"

    peer: Mapped[str] = mapped_column(String(6), primary_key=True)
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class NodeSetting(Base):
    """What the node records about itself: its region at first start, the fingerprint of its identity key."""

    __tablename__ = "node_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
