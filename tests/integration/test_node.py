"""`registry serve` as a user starts it: embedded PostgreSQL, or REGISTRY_DATABASE_URL; migrations; /healthz;
tokens from `registry token`; a contract operation over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from registry.db import create_database
from tests.conftest import TEST_DATA
from tests.ops import DOCUMENTS
from tests.processes import REGISTRY, clean_env, run_registry, serve, stop


@pytest.fixture
def node_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    path = TEST_DATA / f"node-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)
    path.with_name(path.name + ".out").unlink(missing_ok=True)


def exercise(base: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "query": DOCUMENTS["RegisterInstitution"],
        "operationName": "RegisterInstitution",
        "variables": {
            "input": {
                "code": "H52020100001",
                "name": "X",
                "kind": "MEDICAL_INSTITUTION",
                "regionCode": "520201",
            }
        },
    }
    response = httpx.post(f"{base}/graphql", json=body, headers=headers, timeout=10)
    assert response.json()["data"]["registerInstitution"]["userErrors"] == []
    assert httpx.post(f"{base}/graphql", json=body, timeout=10).status_code == 401


def banner(output: Path) -> list[str]:
    """What serve printed for a person (everything else is JSON log lines)."""
    return [line for line in output.read_text().splitlines() if not line.startswith("{")]


def counted(base: str, operation: str) -> float:
    """registry_graphql_requests_total{operation=…, outcome="ok"}, as one scrape of /metrics says."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    wanted = f'registry_graphql_requests_total{{operation="{operation}",outcome="ok"}} '
    return sum(float(line.removeprefix(wanted)) for line in text.splitlines() if line.startswith(wanted))


def answered_by(metrics_dir: Path, operation: str) -> dict[str, float]:
    """How many `operation` requests each worker (by pid) answered, from its own metrics file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "registry_graphql_requests_total" and sample.labels["operation"] == operation:
                    counts[path.stem.rsplit("_", 1)[1]] = sample.value
    return counts


def gauged(metrics_dir: Path) -> set[int]:
    """The workers with a gauge file: the live ones, once the supervisor has buried the dead."""
    return {int(path.stem.rsplit("_", 1)[1]) for path in metrics_dir.glob("gauge_livesum_*.db")}


def test_serve_with_embedded_postgres_and_two_workers(node_dir: Path) -> None:
    env = clean_env()
    process, base, output = serve(node_dir, env, "--workers", "2")
    try:
        # It announces where it listens and how to make a token, and prints no token itself.
        printed = banner(output)
        assert printed[0] == f"registry node 000000 listening on {base} (2 workers)"
        assert "eyJ" not in output.read_text()
        [command] = [shlex.split(line) for line in printed if "--role national" in line]
        assert command[1:] == ["token", "--data-dir", str(node_dir.resolve()), "--role", "national"]
        token = run_registry(*command[1:], env=env)
        exercise(base, token)
        assert (node_dir / "pg" / "PG_VERSION").exists()
        assert (node_dir / "pg" / "postmaster.pid").exists()

        # Both workers answer, and a scrape of either one counts the requests of both.
        metrics_dir = node_dir / "metrics"
        query = {
            "query": DOCUMENTS["Eligibility"],
            "operationName": "Eligibility",
            "variables": {"practitionerCode": "X1"},
        }
        sent, workers = 0, {}
        while len(workers) < 2 and sent < 300:
            # A new connection each time, so that either worker may accept it.
            response = httpx.post(f"{base}/graphql", json=query, headers={"Authorization": f"Bearer {token}"})
            assert response.json()["data"]["eligibility"]["status"] == "NOT_REGISTERED"
            sent += 1
            workers = answered_by(metrics_dir, "Eligibility")
        assert len(workers) == 2, "one worker took every connection"
        assert [counted(base, "Eligibility") for _ in range(4)] == [sent] * 4

        # A worker that dies is replaced, and its connection gauges leave with it.
        dead = int(next(iter(workers)))
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 30
        running = gauged(metrics_dir)
        while (dead in running or len(running) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
            running = gauged(metrics_dir)
        assert dead not in running and len(running) == 2, running
        for _ in range(4):
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    finally:
        stop(process)
    # Stopping the node stops its workers and its PostgreSQL too: nothing is left running.
    assert not (node_dir / "pg" / "postmaster.pid").exists()
    assert not [pid for pid in running if psutil.pid_exists(pid)]
    # Private: its owner only (and, when the embedded PostgreSQL runs as another user, passage for its group).
    assert stat.S_IMODE(node_dir.stat().st_mode) in (0o700, 0o710)
    assert stat.S_IMODE(metrics_dir.stat().st_mode) == 0o700


def test_serve_with_database_url_logs_json_lines(node_dir: Path, admin_url: str) -> None:
    create_database(admin_url, "registry_url_path", drop_first=True)
    env = {**clean_env(), "REGISTRY_DATABASE_URL": admin_url.replace("/postgres?", "/registry_url_path?", 1)}
    run_registry("migrate", "--data-dir", str(node_dir), env=env)
    process, base, output = serve(node_dir, env, "--workers", "1", "--log-level", "info")
    try:
        token = run_registry("token", "--data-dir", str(node_dir), "--role", "bureau", "--region", "520000", env=env)
        exercise(base, token)
        query = {
            "query": DOCUMENTS["Eligibility"],
            "operationName": "Eligibility",
            "variables": {"practitionerCode": "X1"},
        }
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "node-test-1"}
        response = httpx.post(f"{base}/graphql", json=query, headers=headers, timeout=10)
        assert response.headers["x-request-id"] == "node-test-1"
        assert not (node_dir / "pg").exists()
    finally:
        stop(process)
    assert stat.S_IMODE(node_dir.stat().st_mode) == 0o700
    text = output.read_text()
    assert len(banner(output)) == 4
    logged = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    [line] = [entry for entry in logged if entry.get("request_id") == "node-test-1"]
    assert line["event"] == "request" and (line["operation"], line["outcome"]) == ("Eligibility", "ok")
    assert (line["role"], line["region"], line["status"], line["checks"]) == ("bureau", "520000", 200, 1)
    # uvicorn's access log is replaced by these lines, and no token is ever logged.
    assert not [entry for entry in logged if entry.get("logger") == "uvicorn.access"]
    assert token not in text and "Traceback" not in text


def test_token_command_refuses_a_role_without_its_scope(node_dir: Path) -> None:
    done = subprocess.run(
        [*REGISTRY, "token", "--data-dir", str(node_dir), "--role", "bureau"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode != 0 and "--region" in done.stderr
