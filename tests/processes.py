"""Starting the `registry` command as a user does, for tests that need real processes on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REGISTRY = [sys.executable, "-m", "registry.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_registry(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([*REGISTRY, *args], env=env, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def serve(node_dir: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str, Path]:
    """Start `registry serve`; its output goes to a file beside the data directory (a pipe could fill up)."""
    port = free_port()
    output = node_dir.with_name(node_dir.name + ".out")
    with output.open("w") as out:
        process = subprocess.Popen(
            [*REGISTRY, "serve", "--port", str(port), "--data-dir", str(node_dir), "--log-level", "warning", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {output.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base, output
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    process.wait()
    raise AssertionError("the node did not become healthy within 60 s")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    assert process.wait(30) == 0


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
