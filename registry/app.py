"""FastAPI wiring: GraphQL at /graphql, /healthz, /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from registry.api.context import Services, authenticate, get_context
from registry.api.schema import accepts, build_schema
from registry.auth import load_key
from registry.config import Settings
from registry.db import Database, make_engine, make_read_pool
from registry.eligibility.documents import known_documents
from registry.eligibility.fastpath import FastPath
from registry.node import Node
from registry.observability import configure_logging, install, instrument_pool
from registry.points.policy import default_book
from registry.web.graphiql import GraphiQLRouter


def services_for(settings: Settings, db: Database) -> Services:
    return Services(
        db=db,
        node=Node(region=settings.node_region, id_secret=load_key(settings.keys_dir, "id-hash.key")),
        token_key=load_key(settings.keys_dir, "token.key"),
        policies=default_book(),
        max_batch_checks=settings.max_batch_checks,
    )


def create_app(settings: Settings, db: Database) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await db.open_reads()
        yield
        await db.dispose()

    app = FastAPI(title="Practitioner demerit-point registry", lifespan=lifespan)
    services = app.state.services = services_for(settings, db)
    limits = {"max_depth": settings.max_query_depth, "max_tokens": settings.max_query_tokens}
    schema = build_schema(**limits)
    # GET only serves GraphiQL (and its assets): every query and mutation is a POST with a bearer token.
    app.include_router(
        GraphiQLRouter(
            schema,
            context_getter=get_context,
            allow_queries_via_get=False,
            graphql_ide="graphiql" if settings.graphiql else None,
        ),
        prefix="/graphql",
    )
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
    )
    install(app, db, settings.node_region)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Ready when both databases answer: the primary, and the read database (a replica) when there is one."""
        async with db.reader() as conn:
            await conn.execute(text("SELECT 1"))
        await db.fetch("SELECT 1", {})
        return JSONResponse({"status": "ok", "node": settings.node_region})

    return app


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
