"""Test fixtures: one embedded PostgreSQL for the session, migrated by Alembic; each test in a rolled-back
transaction; the app served in-process over HTTP (httpx) with real tokens."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import tokens
from registry.app import create_app
from registry.auth import Actor, Role, SigningKey, issue_token
from registry.config import Settings
from registry.db import Database, create_database, embedded_server, make_engine, sqlalchemy_url
from registry.migrate import upgrade
from registry.observability import configure_logging
from tests.ops import DOCUMENTS

ROOT = Path(__file__).resolve().parents[1]
# Inside the project: the embedded server makes every parent of its data directory world-readable.
TEST_DATA = ROOT / ".data" / "test"
TEST_DATABASE = "registry_test"


@pytest.fixture(scope="session")
def admin_url() -> str:
    """The maintenance URL of the test server: REGISTRY_TEST_ADMIN_URL, or the embedded PostgreSQL."""
    return os.environ.get("REGISTRY_TEST_ADMIN_URL") or embedded_server(TEST_DATA)


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> str:
    create_database(admin_url, TEST_DATABASE, drop_first=True)
    url = sqlalchemy_url(admin_url).replace("/postgres?", f"/{TEST_DATABASE}?", 1)
    upgrade(url)
    return url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def db(engine: AsyncEngine) -> AsyncIterator[Database]:
    """A database whose every change is rolled back when the test ends."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield Database.bound(conn)
        await outer.rollback()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(data_dir=TEST_DATA / "node", database_url=None, federation_worker=False)


@dataclass
class Client:
    """Sends GraphQL documents over HTTP, with a bearer token, as a client would."""

    http: httpx.AsyncClient
    key: SigningKey

    def token(self, role: str, **scope: str) -> str:
        return issue_token(self.key, Actor(Role(role), **scope), ttl=timedelta(hours=1)).token

    async def post(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def op(self, name: str, variables: dict[str, Any] | None = None, *, token: str) -> dict[str, Any]:
        """Send a documented operation by name and return its data."""
        response = await self.http.post(
            "/graphql",
            json={"query": DOCUMENTS[name], "operationName": name, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *, token: str) -> dict[str, Any]:
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@asynccontextmanager
async def app_client(db: Database, settings: Settings) -> AsyncIterator[Client]:
    """The app with these settings on `db`, with a signing key of its own (rolled back with the rest)."""
    key = await tokens.rotate_key(db)
    app = create_app(settings, db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as http:
        yield Client(http, key)


@pytest_asyncio.fixture(loop_scope="session")
async def client(db: Database, settings: Settings) -> AsyncIterator[Client]:
    async with app_client(db, settings) as client:
        yield client


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The node's log, as the JSON lines `registry serve` writes."""
    stream = io.StringIO()
    handler = configure_logging("info", "json", stream)
    yield stream
    logging.getLogger().removeHandler(handler)
