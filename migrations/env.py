"""Alembic environment: the URL comes from the caller (registry.migrate) or from REGISTRY_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from registry.db import sqlalchemy_url
from registry.models import metadata

config = context.config
# Nodes on several machines may start (and migrate) at once: one migrates while the others wait, then find the
# database at head. A transaction-scoped advisory lock, so it goes with the migration's transaction.
MIGRATION_LOCK = 20261125


def run_locked(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


def database_url() -> str:
    url = config.attributes.get("url")
    if not url:
        from registry.config import Settings
        from registry.db import start_embedded

        settings = Settings()
        url = settings.database_url or start_embedded(settings.data_dir)
    return sqlalchemy_url(url)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_locked(connection)
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        run_locked(conn)


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
