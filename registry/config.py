"""Settings, read from the environment (REGISTRY_*) and the command line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_")

    # None means: run an embedded PostgreSQL whose files live under data_dir.
    database_url: str | None = None
    data_dir: Path = Path(".data/node")
    # The node's identity: "000000" is the national node, otherwise a province code such as "520000".
    node_region: str = "000000"
    # A key file shared by every node of one network (the national node's), for resident-ID digests.
    identity_key_file: Path | None = None
    pull_interval_seconds: float = 2.0  # pull every peer at least this often, even when nothing was pushed
    peer_stale_seconds: float = 300.0  # a peer not heard from for longer is STALE
    webhook_retry_base_seconds: float = 5.0  # the first retry of a failed webhook; each delay then doubles
    federation_worker: bool = True  # follow peers and deliver webhooks (tests of one node turn it off)
    token_ttl_hours: int = 24 * 30
    max_batch_checks: int = 10_000
    # Limits against abusive queries; the contract's documents stay far below them.
    max_query_depth: int = 10
    max_query_tokens: int = 20_000

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(hours=self.token_ttl_hours)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"
