"""FastAPI wiring: GraphQL at /graphql, /healthz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from registry import identity
from registry.api.context import Services, authenticate, get_context
from registry.api.limits import RateLimiter
from registry.api.schema import accepts, build_schema
from registry.config import Settings
from registry.db import Database, make_engine, make_read_pool
from registry.disclosures import DisclosureLog
from registry.eligibility.documents import known_documents
from registry.federation import node as network_node
from registry.federation import replicas
from registry.federation.keys import public_key_b64
from registry.federation.runtime import Federation
from registry.node import Node
from registry.observability import configure_logging, install, instrument_pool
from registry.points.policy import default_book
from registry.tokens import Keyring
from registry.web import guards
from registry.web.fastpath import FastPath


def services_for(settings: Settings, db: Database, region: str) -> Services:
    return Services(
        db=db,
        node=Node(region=region, id_secret=identity.load_or_create(settings.keys_dir)),
        tokens=Keyring(db),
        disclosures=DisclosureLog(db, flush_ms=settings.disclosure_flush_ms),
        policies=default_book(),
        max_batch_checks=settings.max_batch_checks,
        rate_limiter=RateLimiter(settings.rate_per_second, settings.rate_burst),
        public_key=public_key_b64(network_node.private_key(settings.data_dir)),
        peer_stale_seconds=settings.peer_stale_seconds,
    )


def create_app(settings: Settings, db: Database) -> FastAPI:
    """The node's app: GraphQL (with its fast path for the contract's eligibility checks), the peers' routes,
    /healthz and /metrics, and, for the app's life, the background work."""
    region = network_node.resolve_region(settings.data_dir, settings.node_region)
    federation = Federation(
        region,
        network_node.private_key(settings.data_dir),
        settings.pull_interval_seconds,
        settings.webhook_retry_base_seconds,
    )
    app = FastAPI(title="Practitioner demerit-point registry", lifespan=_lifespan(settings, db, federation))
    services = app.state.services = services_for(settings, db, region)
    federation.attach(app, db)
    limits = {"max_depth": settings.max_query_depth, "max_tokens": settings.max_query_tokens}
    schema = build_schema(
        **limits,
        max_introspection_depth=settings.max_introspection_depth,
        max_aliases=settings.max_aliases,
        introspection=settings.introspection,
    )
    # GET only serves GraphiQL (and its assets): every query and mutation is a POST with a bearer token.
    graphiql = "graphiql" if settings.graphiql else None
    endpoint = guards.GraphQLEndpoint(
        schema,
        context_getter=get_context,
        allow_queries_via_get=False,
        graphql_ide=graphiql,
        show_schema=settings.introspection,
    )
    app.include_router(endpoint, prefix="/graphql")
    guards.install(app, settings.max_body_bytes)
    # The contract's eligibility operations skip strawberry; whatever the fast path does not answer reaches it as
    # sent. Added before `install`, so the request observer (outermost) sees both paths.
    app.add_middleware(
        FastPath,
        db=db,
        policies=services.policies,
        documents=known_documents(lambda document: accepts(document, **limits)),
        authenticate=authenticate,
        max_batch_checks=settings.max_batch_checks,
        max_body_bytes=settings.max_body_bytes,
        rate_limiter=services.rate_limiter,
        disclosures=services.disclosures,
    )
    install(app, db, region)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Ready when both databases answer: the primary, and the read database (a replica) when there is one. A
        database that is down, or does not answer within 5 s, makes it 503 (see guards.HttpGuard)."""
        async with asyncio.timeout(5):
            async with db.reader() as conn:
                await conn.execute(text("SELECT 1"))
            await db.fetch("SELECT 1", {})
        return JSONResponse({"status": "ok", "node": region})

    return app


def _lifespan(
    settings: Settings, db: Database, federation: Federation
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What runs beside the requests: this process's copy of the token keys kept fresh, its disclosures written
    every flush interval, and the federation worker (following peers, delivering webhooks) when enabled."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services: Services = app.state.services
        await db.open_reads()
        background = [asyncio.create_task(services.tokens.watch()), asyncio.create_task(services.disclosures.run())]
        apply = replicas.Applier(services.policies)
        worker = federation.running(db, apply) if settings.federation_worker else contextlib.nullcontext()
        # What start-up made (the schema, the policies, the modules) lives as long as the app: the cyclic
        # collector need not walk it again after every few thousand allocations of a batch's answers. (Unfrozen
        # at shutdown, so that a process that runs several apps, as the tests do, can collect each one.)
        gc.freeze()
        try:
            async with worker:
                yield
        finally:
            gc.unfreeze()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        with suppress(Exception):  # the database may be gone; run() has logged why
            await services.disclosures.flush()
        await db.dispose()

    return lifespan


def from_environment() -> FastAPI:
    """The app of one server process of `registry serve`, which resolved the settings (the database URL included)
    and passed them down as REGISTRY_* variables."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.database_url is None:
        raise RuntimeError("REGISTRY_DATABASE_URL is unset; start the node with `registry serve`")
    engine = make_engine(settings.database_url)
    instrument_pool(engine)
    reads = make_read_pool(settings.read_database_url or settings.database_url)
    return create_app(settings, Database(engine, reads))
