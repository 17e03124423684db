"""Wiring a node into the network: the sealer on the database, the peer routes, and the worker for the app's life."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from registry.db import Database, libpq_url
from registry.federation.client import PeerClient
from registry.federation.inbox import ApplyReplicas
from registry.federation.log import Sealer
from registry.federation.routes import make_router
from registry.federation.worker import Duty, Worker


@dataclass(frozen=True)
class Federation:
    region: str
    private_key: Ed25519PrivateKey
    pull_interval: float = 2.0

    def attach(self, app: FastAPI, db: Database) -> None:
        """Seal every fact this node issues, and serve the feed to peers."""
        db.before_commit = Sealer(self.region, self.private_key)
        app.include_router(make_router(db, self.region))

    @asynccontextmanager
    async def running(
        self, db: Database, apply_replicas: ApplyReplicas, duties: tuple[Duty, ...] = ()
    ) -> AsyncIterator[Worker]:
        """The worker, for as long as the block runs (the app's lifespan)."""
        client = PeerClient(self.region, self.private_key)
        url = libpq_url(db.engine.url.render_as_string(hide_password=False))
        worker = Worker(db, url, client, apply_replicas, pull_interval=self.pull_interval, duties=duties)
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            worker.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.aclose()
