"""Apply Alembic migrations from code (on `registry serve` and `registry migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PROJECT = Path(__file__).resolve().parents[1]


def alembic_config(url: str | None = None) -> Config:
    config = Config(toml_file=str(PROJECT / "pyproject.toml"))
    if url:
        config.attributes["url"] = url
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
