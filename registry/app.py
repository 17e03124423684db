"""FastAPI wiring: GraphQL at /graphql, /healthz."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from strawberry.fastapi import GraphQLRouter

from registry.api.context import Services, get_context
from registry.api.schema import build_schema
from registry.auth import load_key
from registry.config import Settings
from registry.db import Database
from registry.node import Node
from registry.points.policy import default_book


def services_for(settings: Settings, db: Database) -> Services:
    return Services(
        db=db,
        node=Node(region=settings.node_region, id_secret=load_key(settings.keys_dir, "id-hash.key")),
        token_key=load_key(settings.keys_dir, "token.key"),
        policies=default_book(),
        max_batch_checks=settings.max_batch_checks,
    )


def create_app(settings: Settings, db: Database, on_shutdown: Callable[[], None] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await db.dispose()
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(title="Practitioner demerit-point registry", lifespan=lifespan)
    app.state.services = services_for(settings, db)
    schema = build_schema(max_depth=settings.max_query_depth, max_tokens=settings.max_query_tokens)
    # GET only serves GraphiQL: every query and mutation is a POST with a bearer token.
    app.include_router(
        GraphQLRouter(schema, context_getter=get_context, allow_queries_via_get=False), prefix="/graphql"
    )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        async with db.reader() as conn:
            await conn.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok", "node": settings.node_region})

    return app
