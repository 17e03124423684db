"""Joining nodes: the peers this node follows and answers, and the keys it publishes for them.

The national node is the hub: when it is given a peer, it publishes the peer's key as a `node.key` fact, signed by
its own key, so provinces that follow only the national node can verify every other province's facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from registry import eventlog
from registry.db import Database
from registry.facts import Fact
from registry.federation.envelope import is_node_region
from registry.federation.keys import parse_public_key
from registry.federation.models import NodeKey, Peer
from registry.federation.node import NATIONAL

CONFIG_CHANNEL = "registry_config"


@dataclass(frozen=True)
class NodeKeyPublished(Fact):
    """The national node vouches that `public_key` speaks for `region_code`."""

    TYPE: ClassVar[str] = "node.key"
    SUBJECT: ClassVar[tuple[str, ...]] = ("region_code",)
    region_code: str
    public_key: str


class PeerError(ValueError):
    """A peer that cannot be added; the message says why."""


def check(own_region: str, region: str, url: str, key: str) -> None:
    problems = []
    if not is_node_region(region):
        problems.append(f"--region {region!r} is not a node region (000000, or a province such as 520000)")
    elif region == own_region:
        problems.append(f"--region {region} is this node's own region")
    try:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError
    except (httpx.InvalidURL, ValueError):
        problems.append(f"--url {url!r} is not an http(s) URL such as http://127.0.0.1:8001")
    try:
        parse_public_key(key)
    except ValueError as exc:
        problems.append(f"--key: {exc}")
    if problems:
        raise PeerError("; ".join(problems))


async def add(db: Database, *, own_region: str, region: str, url: str, key: str) -> str:
    """Add or update a peer in one transaction; return what happened, for the operator."""
    check(own_region, region, url, key)
    url = url.rstrip("/")
    async with db.transaction() as session:
        peer = await session.get(Peer, region, with_for_update=True)
        if peer is not None and (peer.url, peer.public_key) == (url, key):
            return f"peer {region} unchanged"
        if peer is None:
            session.add(Peer(region=region, url=url, public_key=key))
            said = f"peer {region} added: {url}"
        else:
            changes = [
                f"{name} {old} -> {new}"
                for name, old, new in (("url", peer.url, url), ("key", peer.public_key, key))
                if old != new
            ]
            peer.url, peer.public_key = url, key
            said = f"peer {region} replaced: {', '.join(changes)}"
        fresh_key = await session.scalar(
            insert(NodeKey)
            .values(region=region, public_key=key, source="peer")
            .on_conflict_do_nothing()
            .returning(NodeKey.region)
        )
        if own_region == NATIONAL and fresh_key is not None:
            await eventlog.append(session, NodeKeyPublished(region, key), node=own_region, actor="operator")
        await session.execute(text("SELECT pg_notify(:c, '')"), {"c": CONFIG_CHANNEL})
        return said


async def listing(db: Database) -> list[dict[str, Any]]:
    async with db.reader() as conn:
        rows = (await conn.execute(select(Peer.region, Peer.url, Peer.public_key).order_by(Peer.region))).all()
    return [{"region": r.region, "url": r.url, "publicKey": r.public_key} for r in rows]
