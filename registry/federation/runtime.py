"""Wiring a node into the network: the sealer on the database, the peer routes, and the worker for the app's life."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from registry import clock
from registry.db import Database, libpq_url
from registry.federation import webhooks
from registry.federation.client import PeerClient
from registry.federation.inbox import ApplyReplicas
from registry.federation.log import Sealer
from registry.federation.routes import make_router
from registry.federation.worker import Worker
from registry.points import changes


@dataclass(frozen=True)
class Federation:
    region: str
    private_key: Ed25519PrivateKey
    pull_interval: float = 2.0
    webhook_retry_base: float = 5.0

    def attach(self, app: FastAPI, db: Database) -> None:
        """Seal this node's facts (see `seal`) and serve the feed to peers."""
        self.seal(db)
        app.include_router(make_router(db, self.region))

    def seal(self, db: Database) -> Database:
        """Make every use case on `db` seal the facts it logged and queue the regulators' notifications of the
        sanction changes it derived, in its own commit."""
        sealer = Sealer(self.region, self.private_key)

        async def before_commit(session: AsyncSession) -> None:
            await sealer(session)
            await webhooks.enqueue(session, changes.take(session))

        db.before_commit = before_commit
        return db

    @asynccontextmanager
    async def running(self, db: Database, apply_replicas: ApplyReplicas) -> AsyncIterator[Worker]:
        """The worker, for as long as the block runs (the app's lifespan)."""
        client = PeerClient(self.region, self.private_key)
        http = httpx.AsyncClient()

        async def deliver() -> float:
            return await webhooks.deliver_due(db, http, clock.now(), self.webhook_retry_base)

        url = libpq_url(db.engine.url.render_as_string(hide_password=False))
        worker = Worker(db, url, client, apply_replicas, pull_interval=self.pull_interval, duties=(deliver,))
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            worker.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.aclose()
            await http.aclose()
