"""Real nodes for federation tests: each `registry serve` is its own process with its own data directory and
embedded PostgreSQL, on a loopback port; operators' commands run as the `registry` command line."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import TEST_DATA
from tests.ops import DOCUMENTS
from tests.processes import REGISTRY, free_port

ROOT = TEST_DATA / "federation"


def wait_for(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.1, what: str = "condition") -> Any:
    """Poll until `check()` is truthy; return its value, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@dataclass
class Node:
    region: str
    name: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None

    @property
    def data_dir(self) -> Path:
        return ROOT / self.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        fast = {"REGISTRY_PULL_INTERVAL_SECONDS": "0.5", "REGISTRY_WEBHOOK_RETRY_BASE_SECONDS": "0.5"}
        return {**env, **fast, **self.env}

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*REGISTRY, *args, "--data-dir", str(self.data_dir)],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"registry {' '.join(args)} failed: {done.stderr}")
        return done

    def start(self) -> Node:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "serve.log"
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                *REGISTRY,
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--region",
                self.region,
                "--log-level",
                "warning",
            ],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(self._healthy, timeout=90, what=f"node {self.name} to answer /healthz")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"node {self.name} exited: {self.log()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def key(self) -> dict[str, str]:
        return dict(json.loads(self.cli("node-key").stdout))

    def follow(self, other: Node) -> str:
        """`registry peer add` on this node for `other`, as an operator types it."""
        key = other.key()
        return self.cli("peer", "add", "--region", key["region"], "--url", other.url, "--key", key["publicKey"]).stdout

    def token(self, role: str = "national", **scope: str) -> str:
        flags = [f"--{name}={value}" for name, value in scope.items()]
        return self.cli("token", "--role", role, *flags).stdout.strip()

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}, "operationName": name},
            headers={"Authorization": f"Bearer {token or self.token()}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return dict(body["data"])

    def op(self, name: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> dict[str, Any]:
        return self.graphql(DOCUMENTS[name], variables, token=token, name=name)

    def status(self) -> dict[str, Any]:
        query = """{ federationStatus { region publicKey
            peers { region url lastHeardAt lastSeq appliedSeq acknowledgedSeq state rejectedCount }
            regulators { name url pending failed lastDeliveredAt }
            origins { region seq checkpointSeq } } }"""
        return dict(self.graphql(query)["federationStatus"])

    def peer(self, region: str) -> dict[str, Any]:
        return next(p for p in self.status()["peers"] if p["region"] == region)


def fresh(name: str) -> None:
    shutil.rmtree(ROOT / name, ignore_errors=True)


NAMES = {"000000": "national", "520000": "guizhou", "500000": "chongqing"}


@contextlib.contextmanager
def started_network(name: str, *provinces: str) -> Iterator[dict[str, Node]]:
    """A fresh national node and `provinces`, hashing resident IDs with one network key, each province and the
    national node following each other, by region; all stopped afterwards, also when one fails to start."""
    for region in ("000000", *provinces):
        fresh(f"{name}-{NAMES[region]}")
    started: list[Node] = []
    try:
        national = Node("000000", f"{name}-national").start()
        started.append(national)
        key_file = national.data_dir.parent / f"{name}-identity.key"
        key_file.write_text(national.cli("identity-key").stdout)
        for region in provinces:
            node = Node(region, f"{name}-{NAMES[region]}", env={"REGISTRY_IDENTITY_KEY_FILE": str(key_file)})
            started.append(node.start())
        for province in started[1:]:
            national.follow(province)
            province.follow(national)
        yield {node.region: node for node in started}
    finally:
        for node in reversed(started):
            node.stop()
