"""The audit trail in a real database: rows written by real mutations, then tampered with as someone with the
database's owner rights would (the append-only trigger disabled first); `registry audit verify` names each row."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from psycopg.rows import dict_row

from registry import audit, tokens
from registry.app import create_app
from registry.config import Settings
from registry.db import Database, libpq_url, make_engine, sqlalchemy_url
from registry.migrate import upgrade
from tests import factories as f
from tests.conftest import Client
from tests.processes import REGISTRY, clean_env

BASE = "registry_audit_base"
ROWS = 8  # 6 institutions registered, then 2 registrations refused


def url_of(admin_url: str, database: str) -> str:
    return sqlalchemy_url(admin_url).replace("/postgres?", f"/{database}?", 1)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def base(admin_url: str, settings: Settings) -> AsyncIterator[str]:
    """A database whose audit trail holds the rows of 8 mutations sent over GraphQL (the template of each test)."""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BASE}"')
    upgrade(url_of(admin_url, BASE))
    engine = make_engine(url_of(admin_url, BASE))
    db = Database(engine)
    app = create_app(settings, db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.test") as http:
        client = Client(http, await tokens.rotate_key(db))
        for i, region in enumerate([None, None, "520000", None, None, "520000", "530000", "530000"]):
            token = client.token("bureau", region=region) if region else client.token("national")
            await client.op("RegisterInstitution", {"input": f.institution(f"H520201{i:05d}")}, token=token)
    await engine.dispose()
    yield BASE


@pytest.fixture
def copy(admin_url: str, base: str) -> Iterator[str]:
    """A fresh copy of the base database for one test; its URL."""
    name = "registry_audit_copy"
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
        yield url_of(admin_url, name)
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def verify(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**clean_env(), "REGISTRY_DATABASE_URL": url}
    return subprocess.run(
        [*REGISTRY, "audit", "verify", "--data-dir", str(Path("/nonexistent")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def tamper(url: str, change: Callable[[psycopg.Connection[dict[str, Any]]], None]) -> None:
    """Change the trail as the database's owner can: the append-only trigger off, then the change."""
    with psycopg.connect(libpq_url(url), row_factory=dict_row) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        change(conn)
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


def rehash(conn: psycopg.Connection[dict[str, Any]], seq: int, prev_hash: str | None = None, **changes: Any) -> str:
    """Rewrite a row with a hash that matches its new content (a careful forger); the new hash."""
    row = conn.execute("SELECT * FROM audit_log WHERE seq = %s", (seq,)).fetchone()
    assert row is not None
    row |= changes | ({"prev_hash": prev_hash} if prev_hash else {})
    row["hash"] = audit.row_hash(row)
    conn.execute(
        "UPDATE audit_log SET actor = %s, outcome = %s, error_codes = %s, prev_hash = %s, hash = %s WHERE seq = %s",
        (row["actor"], row["outcome"], row["error_codes"], row["prev_hash"], row["hash"], seq),
    )
    return str(row["hash"])


def swap(conn: psycopg.Connection[dict[str, Any]]) -> None:
    conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 2")
    conn.execute("UPDATE audit_log SET seq = 2 WHERE seq = 5")
    conn.execute("UPDATE audit_log SET seq = 5 WHERE seq = -1")


def test_an_intact_trail_verifies_and_prints_its_head(copy: str) -> None:
    done = verify(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith(f"audit trail intact: {ROWS} rows; head {ROWS}:")
    shown = subprocess.run(
        [*REGISTRY, "audit", "show", "--last", "2"],
        env={**clean_env(), "REGISTRY_DATABASE_URL": copy},
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = [json.loads(row) for row in shown.stdout.splitlines()]
    assert [(r["seq"], r["actor"], r["outcome"], r["error_codes"]) for r in rows] == [
        (7, "bureau:530000", "refused", ["FORBIDDEN"]),
        (8, "bureau:530000", "refused", ["FORBIDDEN"]),
    ]
    assert line.endswith(f"head {ROWS}:{rows[-1]['hash']} (keep it to check with --anchor later)")


def test_rows_record_what_each_mutation_did(copy: str) -> None:
    with psycopg.connect(libpq_url(copy)) as conn:
        rows = conn.execute("SELECT actor, operation, outcome, error_codes FROM audit_log ORDER BY seq").fetchall()
    national, bureau, outsider = "national", "bureau:520000", "bureau:530000"
    assert [r[0] for r in rows] == [national, national, bureau, national, national, bureau, outsider, outsider]
    assert {r[1] for r in rows} == {"registerInstitution"}
    assert [(r[2], r[3]) for r in rows[-3:]] == [("ok", []), ("refused", ["FORBIDDEN"]), ("refused", ["FORBIDDEN"])]


@pytest.mark.parametrize(
    ("change", "findings"),
    [
        (
            lambda c: c.execute("UPDATE audit_log SET outcome = 'ok', error_codes = '{}' WHERE seq = 7"),
            ["row 7: edited (its content does not match its hash)"],
        ),
        (
            lambda c: rehash(c, 3, actor="bureau:530000"),
            ["row 3: rewritten (row 4 was chained to another version of it)"],
        ),
        (lambda c: c.execute("DELETE FROM audit_log WHERE seq = 4"), ["row 4: deleted"]),
        (
            lambda c: c.execute("DELETE FROM audit_log WHERE seq IN (4, 5, 6)"),
            ["row 4: deleted, and every row after it up to 6"],
        ),
        (
            lambda c: c.execute("DELETE FROM audit_log WHERE seq = 8"),
            ["row 8: deleted (the head records it)"],
        ),
        (
            swap,
            ["row 2: reordered (it is row 5, moved here)", "row 5: reordered (it is row 2, moved here)"],
        ),
    ],
    ids=["update", "update-with-its-hash", "delete", "delete-three", "delete-the-last", "swap"],
)
def test_each_change_is_named(copy: str, change: Callable[[Any], None], findings: list[str]) -> None:
    tamper(copy, change)
    done = verify(copy)
    assert done.returncode == 1
    assert done.stdout.splitlines() == findings
    assert done.stderr.startswith("registry audit verify: the audit trail was tampered with")


def test_a_rewritten_chain_is_caught_against_a_head_kept_elsewhere(copy: str) -> None:
    head = verify(copy).stdout.split("head ")[1].split(" ")[0]

    def rewrite_from_row_3(conn: psycopg.Connection[dict[str, Any]]) -> None:
        previous = rehash(conn, 3, actor="bureau:530000")
        for seq in range(4, ROWS + 1):
            previous = rehash(conn, seq, prev_hash=previous)
        conn.execute("UPDATE audit_head SET hash = %s", (previous,))

    tamper(copy, rewrite_from_row_3)
    # Consistent again, hashes and head included: only the head written down before tells.
    assert verify(copy).returncode == 0
    done = verify(copy, "--anchor", head)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"row {ROWS}: rewritten since the anchor was taken (another hash)"]


def test_the_node_refuses_to_change_or_delete_a_row(copy: str) -> None:
    with psycopg.connect(libpq_url(copy)) as conn:
        for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
            conn.rollback()
