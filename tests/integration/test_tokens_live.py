"""Tokens on running nodes: two `registry serve` processes (one with two workers) on one database, as two machines
of a province would run. A revocation, a new key and a retired key reach every server process within seconds,
without a restart; each process checks tokens from its own copy, refreshed through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import tokens
from registry.auth import Actor, Role
from registry.db import Database, create_database
from tests.conftest import TEST_DATA
from tests.processes import REGISTRY, clean_env, serve, stop

QUERY = {"query": '{ eligibility(practitionerCode: "D1") { status } }'}
DEADLINE = 30  # seconds for a change to reach every process; it takes milliseconds (NOTIFY), at worst 5 s


@pytest.fixture
def two_machines(admin_url: str) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Two nodes on one database: the first with two workers, the second with one."""
    create_database(admin_url, "registry_two_machines", drop_first=True)
    env = {**clean_env(), "REGISTRY_DATABASE_URL": admin_url.replace("/postgres?", "/registry_two_machines?", 1)}
    dirs = [TEST_DATA / "machine-a", TEST_DATA / "machine-b"]
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)
    # One node on two machines: they share the node's keys (its identity key, its Ed25519 key), as operators copy them.
    registry("identity-key", "--data-dir", str(dirs[0]), env=env)
    registry("node-key", "--data-dir", str(dirs[0]), "--region", "000000", env=env)
    dirs[1].mkdir(parents=True)
    shutil.copytree(dirs[0] / "keys", dirs[1] / "keys")
    processes = []
    try:
        for path, workers in zip(dirs, ("2", "1"), strict=True):
            processes.append(serve(path, env, "--workers", workers))
        yield [base for _, base, _ in processes], env
    finally:
        for process, _, _ in processes:
            stop(process)
        for path in dirs:
            shutil.rmtree(path, ignore_errors=True)
            path.with_name(path.name + ".out").unlink(missing_ok=True)


def registry(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*REGISTRY, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def make_token(env: dict[str, str], *scope: str) -> str:
    return registry("token", "--data-dir", str(TEST_DATA / "machine-a"), *scope, env=env).stdout.strip()


def statuses(bases: list[str], token: str, rounds: int = 12) -> set[int]:
    """The HTTP statuses every process answers: a new connection each time, so that either worker may take it."""
    seen = set()
    for _ in range(rounds):
        for base in bases:
            response = httpx.post(
                f"{base}/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            seen.add(response.status_code)
    return seen


def refusals_by_worker(metrics_dir: Path) -> dict[str, float]:
    """Requests refused for their token (operation "unknown"), by worker pid, from each worker's metrics file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "registry_graphql_requests_total" and sample.labels["operation"] == "unknown":
                    counts[path.stem.rsplit("_", 1)[1]] = sample.value
    return counts


def refused_everywhere(bases: list[str], token: str) -> None:
    """Every process refuses the token: first seen anywhere within the deadline, then proven worker by worker on
    the two-worker machine (each must have counted a refusal of its own)."""
    deadline = time.monotonic() + DEADLINE
    while statuses(bases, token, rounds=1) != {401}:
        assert time.monotonic() < deadline, "the change did not reach every process in time"
        time.sleep(0.2)
    metrics = TEST_DATA / "machine-a" / "metrics"
    before = refusals_by_worker(metrics)
    for _ in range(300):
        assert statuses(bases, token, rounds=1) == {401}
        after = refusals_by_worker(metrics)
        if sum(after[pid] > before.get(pid, 0) for pid in after) == 2:
            return
    raise AssertionError("one worker took every connection")


def test_revoke_rotate_and_retire_reach_every_process_on_every_machine(
    two_machines: tuple[list[str], dict[str, str]],
) -> None:
    bases, env = two_machines
    bureau = make_token(env, "--role", "bureau", "--region", "520000")
    kept = make_token(env, "--role", "national", "--hours", "1")
    assert statuses(bases, bureau) == statuses(bases, kept) == {200}

    jti = jwt.decode(bureau, options={"verify_signature": False})["jti"]
    said = registry("token", "revoke", jti, "--data-dir", str(TEST_DATA / "machine-b"), env=env).stdout
    assert said.startswith(f"revoked {jti} (bureau:520000")
    refused_everywhere(bases, bureau)
    assert statuses(bases, kept) == {200}

    old_kid = jwt.get_unverified_header(kept)["kid"]
    assert (
        "new signing key" in registry("token", "rotate-key", "--data-dir", str(TEST_DATA / "machine-a"), env=env).stdout
    )
    newer = make_token(env, "--role", "regulator")
    assert jwt.get_unverified_header(newer)["kid"] != old_kid
    # Tokens of the new key are accepted at once (a process that does not know a key id yet reloads), and the
    # old key's tokens stay valid until it is retired.
    assert statuses(bases, newer) == statuses(bases, kept) == {200}
    listed = registry("token", "keys", "--data-dir", str(TEST_DATA / "machine-a"), env=env).stdout
    assert listed.index(old_kid) < listed.index(jwt.get_unverified_header(newer)["kid"])

    registry("token", "retire-key", old_kid, "--data-dir", str(TEST_DATA / "machine-a"), env=env)
    refused_everywhere(bases, kept)
    assert statuses(bases, newer) == {200}

    # What the data directory still holds of keys (the resident-ID secret) is private.
    keys = TEST_DATA / "machine-a" / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    files = list(keys.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert not (keys / "token.key").exists()  # signing keys live in the database


async def eventually(condition: Callable[[], bool]) -> bool:
    for _ in range(DEADLINE * 20):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


async def test_a_process_learns_of_changes_by_notification(engine: AsyncEngine) -> None:
    """With the periodic refresh an hour away, only LISTEN/NOTIFY can bring the change in."""
    db = Database(engine)
    await tokens.ensure_key(db)
    issued = await tokens.issue(db, Actor(Role.REGULATOR), ttl=timedelta(hours=1))
    keyring = tokens.Keyring(db, refresh_seconds=3600)
    watching = asyncio.create_task(keyring.watch())
    try:
        assert await eventually(lambda: bool(keyring.keys))  # loaded once it listens
        assert issued.jti not in keyring.revoked
        await tokens.revoke(db, issued.jti)
        assert await eventually(lambda: issued.jti in keyring.revoked)
        key = await tokens.rotate_key(db)
        assert await eventually(lambda: key.kid in keyring.keys)
        assert keyring.keys[key.kid] == key.secret
    finally:
        watching.cancel()
