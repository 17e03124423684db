"""Every setting of a node, in one place: read from the environment (REGISTRY_*); the command line only overrides.

Each field's description is also the help text of the command-line option that overrides it, and the README's
table of settings.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.validation import is_region_code

ENV_PREFIX = "REGISTRY_"
NATIONAL = "000000"
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
MAX_TOKEN_HOURS = 24 * 30


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, validate_default=True)

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:password@host:port/db); "
        "unset: an embedded PostgreSQL under the data directory",
    )
    read_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL for eligibility reads, e.g. a streaming replica of REGISTRY_DATABASE_URL; "
        "unset: REGISTRY_DATABASE_URL",
    )
    data_dir: Path = Field(
        default=Path(".data/node"),
        description="the node's private folder (0700): keys, metrics files, and the embedded PostgreSQL",
    )
    node_region: str | None = Field(
        default=None,
        description="the region the node speaks for: 000000 (national) or a province (520000); "
        "unset: as recorded at the node's first start, else 000000",
    )
    identity_key_file: Path | None = Field(
        default=None,
        description="a file holding the network's identity key (base64), shared by every node: resident-ID digests "
        "are made with it; unset: the key in the data directory",
    )
    pull_interval_seconds: float = Field(
        default=2.0, gt=0, description="pull every peer at least this often, even when nothing was pushed"
    )
    peer_stale_seconds: float = Field(default=300.0, gt=0, description="a peer not heard from for longer is STALE")
    webhook_retry_base_seconds: float = Field(
        default=5.0, gt=0, description="the first retry of a failed webhook; each delay then doubles, up to an hour"
    )
    federation_worker: bool = Field(
        default=True, description="follow peers and deliver webhooks (a node with no peers may turn it off)"
    )
    host: str = Field(default="127.0.0.1", description="the address to listen on (0.0.0.0 for every interface)")
    port: int = Field(default=8000, ge=1, le=65535, description="the TCP port to listen on (1-65535)")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256, description="server processes")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="the least severe level that is logged"
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="json: one JSON object a line (for collectors); console: for a person reading"
    )
    token_ttl_hours: int = Field(
        default=8, ge=1, le=MAX_TOKEN_HOURS, description="validity of tokens from `registry token`, in hours"
    )
    disclosure_flush_ms: int = Field(
        default=200,
        ge=0,
        le=10_000,
        description="how often each server process writes the reads it accounted for, in ms "
        "(0: each read is written before it is answered)",
    )
    max_batch_checks: int = Field(default=10_000, ge=1, description="the most eligibility checks one request may ask")
    max_query_depth: int = Field(default=10, ge=1, description="the deepest selection a GraphQL document may make")
    max_introspection_depth: int = Field(
        default=15, ge=1, description="the deepest selection below __schema or __type (the standard query takes 15)"
    )
    max_query_tokens: int = Field(default=20_000, ge=1, description="the most tokens a GraphQL document may have")
    max_aliases: int = Field(default=30, ge=0, description="the most aliases a GraphQL document may use")
    max_body_bytes: int = Field(
        default=8_000_000,
        ge=1024,
        description="the largest request body accepted, else 413 (10,000 checks as variables take about 1.3 MB)",
    )
    rate_per_second: float = Field(
        default=100,
        gt=0,
        description="per token and server process: requests a second, an eligibility check counting as one each",
    )
    rate_burst: int = Field(
        default=2_000, ge=1, description="per token and server process: what may be spent at once, above the rate"
    )
    graphiql: bool = Field(
        default=True, description="serve the GraphiQL page at GET /graphql (production may turn it off)"
    )
    introspection: bool = Field(
        default=True, description="answer introspection queries (__schema, __type); production may turn it off"
    )

    @field_validator("node_region")
    @classmethod
    def _node_region(cls, value: str | None) -> str | None:
        if value is not None and value != NATIONAL and not (is_region_code(value) and value.endswith("0000")):
            raise ValueError("a node is the national node (000000) or a province, 6 digits of GB/T 2260 (520000)")
        return value

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in POSTGRES_SCHEMES:
            raise ValueError("not a PostgreSQL URL; expected postgresql://user:password@host:port/database")
        if not (parts.path.strip("/") or "dbname=" in parts.query):
            raise ValueError("the URL names no database (postgresql://…/DATABASE)")
        return value

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(hours=self.token_ttl_hours)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def metrics_dir(self) -> Path:
        """Where the server processes keep their metrics (prometheus-client's multiprocess mode)."""
        return self.data_dir / "metrics"

    def environment(self) -> dict[str, str]:
        """These settings as REGISTRY_* variables, so that a worker process reads exactly what its parent read."""
        return {env_name(name): str(value) for name, value in self.model_dump(mode="json").items() if value is not None}


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def redact_url(url: str) -> str:
    """A database URL fit for a message: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
