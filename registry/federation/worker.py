"""The federation worker: follows every peer (pulls its feed, applies it), wakes peers after each commit, and runs
the other background duties (webhook deliveries).

Every serve process starts one, but only the leader works: it holds a session-level advisory lock on a dedicated
connection, so several workers or machines on one database never pull twice. The leader listens for
`registry_feed` (something was committed: push to peers), `registry_wake` (a peer pushed: pull it now) and
`registry_config` (peers changed), and pulls every peer at least every `pull_interval` seconds anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psycopg
from sqlalchemy import select

from registry import clock
from registry.db import Database, is_unavailable
from registry.federation import feed, inbox
from registry.federation.client import NotAPage, PeerClient, Unreachable
from registry.federation.log import FEED_CHANNEL
from registry.federation.models import FeedHead, Peer
from registry.federation.routes import WAKE_CHANNEL

CONFIG_CHANNEL = "registry_config"
LEADER_LOCK = "registry.federation.leader"
PAGE_LIMIT = feed.MAX_LIMIT  # the largest page a peer serves: a catch-up's cost is mostly per page

log = logging.getLogger("registry.federation")

Duty = Callable[[], Awaitable[float]]  # runs once; returns seconds until it wants to run again


@dataclass(frozen=True)
class PeerInfo:
    region: str
    url: str


class Worker:
    def __init__(
        self,
        db: Database,
        libpq_url: str,
        client: PeerClient,
        apply_replicas: inbox.ApplyReplicas,
        *,
        pull_interval: float = 2.0,
        duties: tuple[Duty, ...] = (),
    ) -> None:
        self.db = db
        self._url = libpq_url
        self.client = client
        self._apply = apply_replicas
        self._interval = pull_interval
        self._duties = duties
        self._wakes: dict[str, asyncio.Event] = {}
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._pushed = asyncio.Event()
        self._committed = asyncio.Event()  # wakes the duties: a commit may have queued work for them
        self._stopping = False

    # ---- leadership ----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled: become the leader when possible, then work."""
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    got = await (
                        await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (LEADER_LOCK,))
                    ).fetchone()
                    if got and got[0]:
                        await self._lead(conn)
            except (psycopg.Error, OSError) as exc:
                log.warning("federation worker: %s", exc)
            await asyncio.sleep(self._interval)

    async def _lead(self, conn: psycopg.AsyncConnection) -> None:
        for channel in (FEED_CHANNEL, WAKE_CHANNEL, CONFIG_CHANNEL):
            await conn.execute(f"LISTEN {channel}")
        tasks = [asyncio.create_task(self._pusher())] + [asyncio.create_task(self._repeat(d)) for d in self._duties]
        await self._sync_peers()
        try:
            async for note in conn.notifies():
                if note.channel == FEED_CHANNEL:
                    self._pushed.set()
                    self._committed.set()
                elif note.channel == WAKE_CHANNEL and note.payload in self._wakes:
                    self._wakes[note.payload].set()
                elif note.channel == CONFIG_CHANNEL:
                    await self._sync_peers()
        finally:
            for task in [*tasks, *self._followers.values()]:
                task.cancel()
            self._followers.clear()
            self._wakes.clear()

    async def _repeat(self, duty: Duty) -> None:
        while True:
            self._committed.clear()
            try:
                delay = await duty()
            except Exception as exc:  # a duty's bug must not stop the others; it is logged with its traceback
                log.warning("federation duty failed: %s", exc, exc_info=not is_unavailable(exc))
                delay = self._interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._committed.wait(), timeout=delay)

    # ---- following peers -----------------------------------------------------------------------------------

    async def _peers(self) -> list[PeerInfo]:
        async with self.db.reader() as conn:
            rows = (await conn.execute(select(Peer.region, Peer.url))).all()
        return [PeerInfo(r.region, r.url) for r in rows]

    async def _sync_peers(self) -> None:
        peers = {p.region: p for p in await self._peers()}
        for region in list(self._followers):
            if region not in peers:
                self._followers.pop(region).cancel()
                self._wakes.pop(region, None)
        for region, peer in peers.items():
            task = self._followers.get(region)
            if task is not None:
                task.cancel()  # its URL or key may have changed
            self._wakes[region] = asyncio.Event()
            self._followers[region] = asyncio.create_task(self._follow(peer, self._wakes[region]))

    async def _follow(self, peer: PeerInfo, wake: asyncio.Event) -> None:
        while True:
            await self.pull(peer)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self._interval)
            wake.clear()

    async def pull(self, peer: PeerInfo) -> None:
        """Pull pages until caught up, one transaction per page; record what went wrong, if anything. The next page
        is fetched while this one is applied (the peer reads it meanwhile), and dropped if this one fails."""
        async with self.db.reader() as conn:
            after = int(await conn.scalar(select(Peer.applied_position).where(Peer.region == peer.region)) or 0)
        fetching: asyncio.Task[bytes] | None = asyncio.create_task(self._fetch(peer, after))
        try:
            while fetching is not None:
                page = inbox.parse_page(await fetching, peer=peer.region, after=after)
                following = page.positions[-1] if page.positions else None
                fetching = None if following is None else asyncio.create_task(self._fetch(peer, following))
                applied = await inbox.apply_page(
                    self.db, peer=peer.region, after=after, page=page, apply_replicas=self._apply, now=clock.now()
                )
                if applied == 0 or following is None:
                    return  # caught up (or another worker applied it)
                after = following
        except Unreachable as exc:
            await inbox.record_unreachable(self.db, peer=peer.region, reason=str(exc), now=clock.now())
        except (NotAPage, inbox.Rejected) as exc:
            log.warning("page from %s refused: %s", peer.region, exc)
            await inbox.record_rejection(self.db, peer=peer.region, reason=str(exc), now=clock.now())
        finally:
            if fetching is not None:
                fetching.cancel()
                await asyncio.gather(fetching, return_exceptions=True)  # a prefetch's failure is not this page's

    async def _fetch(self, peer: PeerInfo, after: int) -> bytes:
        return await self.client.fetch_page(peer.url, after, PAGE_LIMIT)

    # ---- waking peers --------------------------------------------------------------------------------------

    async def _pusher(self) -> None:
        while True:
            await self._pushed.wait()
            self._pushed.clear()
            peers = await self._peers()
            position = await self._position()
            await asyncio.gather(*(self.client.push(p.url, position) for p in peers))

    async def _position(self) -> int:
        async with self.db.reader() as conn:
            return int(await conn.scalar(select(FeedHead.position).where(FeedHead.id == 1)) or 0)

    def stop(self) -> None:
        self._stopping = True
