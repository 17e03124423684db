"""Federation bench: how fast a sanction reaches another province, and how fast a new node catches up.

One command starts real nodes on loopback, each with its own embedded PostgreSQL, and prints, measured in the same
run:
- propagation lag: a decision at Guizhou's node (520000) until Chongqing's node (500000), which follows only the
  national node, answers "not eligible": p50 and p99 over N decisions (goal: p99 <= 2 s);
- catch-up: a new node (530000) that missed E events (registrations, seeded on the national node) pulls, verifies
  and applies them, in events/s, against a plain COPY of the same rows into the same tables of a fresh database on
  the same server (goal: >= 0.1x).

    .venv/bin/python bench/federation.py            # 200 decisions, 100,000 events
    .venv/bin/python bench/federation.py --quick    # 20 decisions, 5,000 events: under a minute or two
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".data" / "bench-federation"
sys.path.insert(0, str(ROOT))

from common import free_port  # noqa: E402

from registry.db import Database, create_database, libpq_url, make_engine, start_embedded  # noqa: E402
from registry.eventlog import append_many  # noqa: E402
from registry.federation.node import private_key  # noqa: E402
from registry.federation.runtime import Federation  # noqa: E402
from registry.migrate import upgrade  # noqa: E402
from registry.practitioners import store  # noqa: E402
from registry.practitioners.enums import InstitutionKind, PractitionerCategory  # noqa: E402
from registry.practitioners.facts import InstitutionRegistered, PractitionerRegistered  # noqa: E402

OPERATIONS = (ROOT / "graphql" / "operations" / "contract.graphql").read_text(encoding="utf-8") + (
    ROOT / "graphql" / "operations" / "registry.graphql"
).read_text(encoding="utf-8")
COPIED_TABLES = ("events", "checkpoints", "institutions", "practitioners", "registrations", "affiliations")


class Node:
    def __init__(self, region: str, name: str, env: dict[str, str] | None = None) -> None:
        self.region, self.dir, self.port = region, DATA / name, free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self.env.update({"REGISTRY_PULL_INTERVAL_SECONDS": "1", **(env or {})})
        self.process: subprocess.Popen[bytes] | None = None
        self._token = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "registry.cli", *args, "--data-dir", str(self.dir)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"registry {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def start(self) -> Node:
        self.dir.mkdir(parents=True, exist_ok=True)
        args = ["serve", "--port", str(self.port), "--region", self.region, "--workers", "1", "--log-level", "warning"]
        with (self.dir.parent / f"{self.dir.name}.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "registry.cli", *args, "--data-dir", str(self.dir)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"node {self.region} exited; see {self.dir.parent / self.dir.name}.log")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    self._token = self.cli("token", "--role", "national")
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"node {self.region} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def follow(self, other: Node) -> None:
        key = json.loads(other.cli("node-key"))
        self.cli("peer", "add", "--region", key["region"], "--url", other.url, "--key", key["publicKey"])

    def op(self, http: httpx.Client, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = {"query": OPERATIONS, "operationName": name, "variables": variables}
        answer = http.post(f"{self.url}/graphql", json=body, headers={"Authorization": f"Bearer {self._token}"})
        data = answer.json()
        if "errors" in data:
            raise SystemExit(f"{name} at {self.region}: {data['errors']}")
        return dict(data["data"])

    def status(self, http: httpx.Client) -> dict[str, Any]:
        query = "{ federationStatus { peers { region appliedSeq lastSeq state } origins { region seq } } }"
        answer = http.post(
            f"{self.url}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {self._token}"}
        )
        return dict(answer.json()["data"]["federationStatus"])


def resident_id(n: int) -> str:
    body = f"520201{1950 + n // 365_000 % 50}{1 + n // 1000 % 12:02d}{1 + n // 12_000 % 28:02d}{n % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


# ---- propagation lag -----------------------------------------------------------------------------------------


def lag(guizhou: Node, chongqing: Node, decisions: int) -> list[float]:
    with httpx.Client(timeout=30) as http:
        guizhou.op(
            http,
            "RegisterInstitution",
            {"input": {"code": "H52020100001", "name": "x", "kind": "MEDICAL_INSTITUTION", "regionCode": "520201"}},
        )
        codes = [f"D5202019{n:05d}" for n in range(decisions)]
        for n, code in enumerate(codes):
            person = {
                "code": code,
                "name": "x",
                "idNumber": resident_id(n),
                "category": "PHYSICIAN",
                "regionCode": "520201",
                "institutionCodes": ["H52020100001"],
                "registeredOn": "2024-01-01",
            }
            guizhou.op(http, "RegisterPractitioner", {"input": person})
        check = {"practitionerCode": codes[-1], "at": "2025-06-15T10:00:00+08:00"}
        while chongqing.op(http, "Eligibility", check)["eligibility"]["status"] == "NOT_REGISTERED":
            time.sleep(0.2)
        lags = []
        for n, code in enumerate(codes):
            decision = {
                "caseNumber": f"LAG-{n}",
                "regionCode": "520201",
                "institutionCode": "H52020100001",
                "basis": "ADMINISTRATIVE_PENALTY",
                "decidedOn": "2025-06-01",
                "behaviour": "x",
                "entries": [{"practitionerCode": code, "points": 9, "responsibility": "MAIN"}],
            }
            guizhou.op(http, "RecordDecision", {"input": decision})
            acknowledged = time.perf_counter()
            check = {"practitionerCode": code, "at": "2025-06-15T10:00:00+08:00"}
            while chongqing.op(http, "Eligibility", check)["eligibility"]["eligible"]:
                time.sleep(0.005)
            lags.append(time.perf_counter() - acknowledged)
        return lags


# ---- catch-up --------------------------------------------------------------------------------------------------


async def seed(national: Node, events: int) -> None:
    """Registrations issued by the national node, sealed and stored as its use cases do, in chunks."""
    url = start_embedded(national.dir)
    db = Federation("000000", private_key(national.dir)).seal(Database(make_engine(url)))
    chunk = 20_000
    try:
        async with db.transaction() as session:
            institution = InstitutionRegistered("H53010100001", "x", InstitutionKind.MEDICAL_INSTITUTION, "530101")
            (at,) = await append_many(session, [institution], node="000000", actor="bench")
            await store.institutions(session, [(institution, at)])
        for start in range(0, events - 1, chunk):
            facts = [
                PractitionerRegistered(
                    f"D53{n:09d}",
                    "x",
                    PractitionerCategory.NURSE,
                    "530101",
                    f"{n:064x}",
                    "530101********0000",
                    ("H53010100001",),
                    date(2024, 1, 1),
                )
                for n in range(start, min(start + chunk, events - 1))
            ]
            async with db.transaction() as session:
                issued = await append_many(session, facts, node="000000", actor="bench")
                await store.registrations(session, list(zip(facts, issued, strict=True)))
    finally:
        await db.dispose()


def copy_baseline(national: Node) -> tuple[int, float]:
    """COPY the rows the catch-up wrote into a fresh, migrated database on the same server: (rows, seconds)."""
    url = libpq_url(start_embedded(national.dir))
    admin = url.replace("/registry?", "/postgres?", 1)
    create_database(admin, "copy_baseline", drop_first=True)
    target = url.replace("/registry?", "/copy_baseline?", 1)
    upgrade(target)
    dumps: dict[str, bytes] = {}
    with psycopg.connect(url) as source:
        for table in COPIED_TABLES:
            buffer = io.BytesIO()
            with source.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                for block in copy:
                    buffer.write(block)
            dumps[table] = buffer.getvalue()
        events = int(source.execute("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[index]
    with psycopg.connect(target) as conn:
        started = time.perf_counter()
        with conn.transaction():
            for table in COPIED_TABLES:
                with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(dumps[table])
        elapsed = time.perf_counter() - started
    return events, elapsed


def catch_up(national: Node, events: int) -> tuple[int, float]:
    """A new node follows the national node, whose feed holds every event so far: (events, seconds)."""
    asyncio.run(seed(national, events))
    with psycopg.connect(libpq_url(start_embedded(national.dir))) as conn:
        head = int(conn.execute("SELECT position FROM feed_head").fetchone()[0])  # type: ignore[index]
    with httpx.Client(timeout=30) as http:
        yunnan = Node("530000", "yunnan", env=national_key_env(national)).start()
        try:
            national.follow(yunnan)  # publishes Yunnan's key: one more event
            started = time.perf_counter()
            yunnan.follow(national)
            while True:
                peers = {p["region"]: p for p in yunnan.status(http)["peers"]}
                if peers["000000"]["appliedSeq"] > head:
                    return head + 1, time.perf_counter() - started
                time.sleep(0.05)
        finally:
            yunnan.stop()


def national_key_env(national: Node) -> dict[str, str]:
    key = DATA / "identity.key"
    key.write_text(national.cli("identity-key"))
    return {"REGISTRY_IDENTITY_KEY_FILE": str(key)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=200, help="decisions timed for the propagation lag")
    parser.add_argument("--events", type=int, default=100_000, help="events a new node catches up with")
    parser.add_argument("--quick", action="store_true", help="20 decisions and 5,000 events")
    args = parser.parse_args()
    if args.quick:
        args.decisions, args.events = 20, 5_000
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    national = Node("000000", "national").start()
    env = national_key_env(national)
    provinces = [Node("520000", "guizhou", env).start(), Node("500000", "chongqing", env).start()]
    nodes = [national, *provinces]
    try:
        for province in provinces:
            national.follow(province)
            province.follow(national)
        lags = sorted(lag(provinces[0], provinces[1], args.decisions))
        p50, p99 = statistics.median(lags), lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        for province in provinces:
            province.stop()
        applied, seconds = catch_up(national, args.events)
        rows, copy_seconds = copy_baseline(national)
    finally:
        for node in nodes:
            node.stop()
    rate, copy_rate = applied / seconds, rows / copy_seconds
    print(f"\nFederation bench, {os.cpu_count()} cores, loopback, one worker per node, measured in one run\n")
    print("| measure | figure | baseline | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| propagation lag, {len(lags)} decisions, p50 | {p50 * 1000:.0f} ms | goal p99 <= 2,000 ms | |")
    print(f"| propagation lag, p99 | {p99 * 1000:.0f} ms | | {'met' if p99 <= 2 else 'missed'} |")
    print(
        f"| catch-up of {applied:,} events | {rate:,.0f} events/s ({seconds:.1f} s) | COPY {copy_rate:,.0f} rows"
        f" of events/s ({copy_seconds:.1f} s) | {rate / copy_rate:.2f}x (goal >= 0.1x) |"
    )


if __name__ == "__main__":
    main()
