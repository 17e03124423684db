"""`registry serve` as a user starts it: embedded PostgreSQL, or REGISTRY_DATABASE_URL; migrations; /healthz;
tokens from `registry token`; a contract operation over real HTTP on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry.db import create_database
from tests.conftest import TEST_DATA
from tests.ops import DOCUMENTS

REGISTRY = [sys.executable, "-m", "registry.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_registry(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([*REGISTRY, *args], env=env, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


@pytest.fixture
def node_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    path = TEST_DATA / f"node-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def serve(node_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [*REGISTRY, "serve", "--port", str(port), "--data-dir", str(node_dir), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the node did not become healthy within 60 s")


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


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}


def test_serve_with_embedded_postgres(node_dir: Path) -> None:
    env = clean_env()
    process, base = serve(node_dir, env)
    try:
        token = run_registry("token", "--data-dir", str(node_dir), "--role", "bureau", "--region", "520000", env=env)
        exercise(base, token)
        assert (node_dir / "pg" / "PG_VERSION").exists()
        assert (node_dir / "pg" / "postmaster.pid").exists()
    finally:
        process.terminate()
        process.wait(30)
    # Stopping the node stops its PostgreSQL too: nothing is left running.
    assert not (node_dir / "pg" / "postmaster.pid").exists()


def test_serve_with_database_url(node_dir: Path, admin_url: str) -> None:
    create_database(admin_url, "registry_url_path", drop_first=True)
    env = {**clean_env(), "REGISTRY_DATABASE_URL": admin_url.replace("/postgres?", "/registry_url_path?", 1)}
    run_registry("migrate", "--data-dir", str(node_dir), env=env)
    process, base = serve(node_dir, env)
    try:
        token = run_registry("token", "--data-dir", str(node_dir), "--role", "national", env=env)
        exercise(base, token)
        assert not (node_dir / "pg").exists()
    finally:
        process.terminate()
        process.wait(30)


def test_token_command_refuses_a_role_without_its_scope(node_dir: Path) -> None:
    done = subprocess.run(
        [*REGISTRY, "token", "--data-dir", str(node_dir), "--role", "bureau"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode != 0 and "--region" in done.stderr
