"""Eligibility throughput: the GraphQL node against raw PostgreSQL on the same query, measured in one run.

    .venv/bin/python bench/eligibility.py [--people 100000] [--requests 2000] [--clients 8] [--batch 1000]

It seeds a fresh database in the embedded PostgreSQL (.data/bench), starts `registry serve` on loopback, and prints
requests per second and server CPU per request for each path, with the ratio to the raw-SQL baseline. Absolute
numbers vary with CPU steal on this machine; the ratios, measured seconds apart, are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry.db import create_database, embedded_server, libpq_url  # noqa: E402
from registry.eligibility.service import QUERY, Check, query_params  # noqa: E402
from registry.migrate import upgrade  # noqa: E402

DATA = ROOT / ".data" / "bench"
CST = "+08:00"
SINGLE = """query Eligibility($practitionerCode: String!, $institutionCode: String, $at: DateTime) {
  eligibility(practitionerCode: $practitionerCode, institutionCode: $institutionCode, at: $at) {
    eligible status affiliated eligibleAgainOn } }"""
BATCH = """query Eligibilities($checks: [EligibilityCheckInput!]!) {
  eligibilities(checks: $checks) { eligible status affiliated } }"""


def seed(url: str, people: int) -> None:
    sanctioned = people // 20
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO institutions (code, name, kind, region_code, registered_by)
            SELECT 'H520201' || lpad(i::text, 5, '0'), 'Hospital ' || i, 'MEDICAL_INSTITUTION', '520201', 'bench'
            FROM generate_series(1, 1000) i""")
        conn.execute(
            """
            INSERT INTO practitioners (code, name, category, region_code, id_hash, id_masked)
            SELECT 'D520201' || lpad(i::text, 7, '0'), 'P' || i, 'PHYSICIAN', '520201', md5(i::text), '5202**********000X'
            FROM generate_series(1, %s) i""",
            (people,),
        )
        conn.execute(
            """
            INSERT INTO registrations (practitioner_code, starts_on, recorded_by)
            SELECT 'D520201' || lpad(i::text, 7, '0'), DATE '2024-01-01', 'bench' FROM generate_series(1, %s) i""",
            (people,),
        )
        conn.execute(
            """
            INSERT INTO affiliations (practitioner_code, institution_code, starts_on, recorded_by)
            SELECT 'D520201' || lpad(i::text, 7, '0'), 'H520201' || lpad((mod(i, 1000) + 1)::text, 5, '0'),
                   DATE '2024-01-01', 'bench'
            FROM generate_series(1, %s) i""",
            (people,),
        )
        conn.execute(
            """
            INSERT INTO decisions (region_code, case_number, institution_code, basis, decided_on, behaviour,
                                   content_hash, recorded_by)
            SELECT '520201', 'B-' || i, 'H520201' || lpad((mod(i, 1000) + 1)::text, 5, '0'), 'ADMINISTRATIVE_PENALTY',
                   DATE '2025-03-01', 'bench', md5(i::text), 'bench'
            FROM generate_series(1, %s) i""",
            (sanctioned,),
        )
        conn.execute("""
            INSERT INTO point_records (decision_id, practitioner_code, decided_on, points, responsibility)
            SELECT d.id, 'D520201' || lpad((substr(d.case_number, 3)::int * 20)::text, 7, '0'), d.decided_on, 10, 'MAIN'
            FROM decisions d""")
        conn.execute("""
            INSERT INTO sanctions (practitioner_code, year, kind, state, starts_on, ends_on, in_force_to, months,
                                   single_decision, cause_point_record_id, case_number, region_code, policy_version)
            SELECT r.practitioner_code, 2025, 'SUSPENSION', 'VALID', r.decided_on, DATE '2025-07-31',
                   DATE '2025-07-31', 4, true, r.id, 'B-' || r.id, '520201', 'bench'
            FROM point_records r""")
        conn.execute("ANALYZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def random_check(people: int) -> dict[str, Any]:
    i = random.randint(1, people)
    day = date(2025, 1, 1) + timedelta(days=random.randint(0, 364))
    return {
        "practitionerCode": f"D520201{i:07d}",
        "institutionCode": f"H520201{i % 1000 + 1:05d}",
        "at": f"{day.isoformat()}T10:00:00{CST}",
    }


async def drive(total: int, clients: int, one: Any) -> float:
    """Send `total` requests from `clients` concurrent workers; return the elapsed seconds."""
    remaining = iter(range(total))

    async def worker() -> None:
        for _ in remaining:
            await one()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - start


async def raw_sql(url: str, args: argparse.Namespace, batch: int) -> tuple[float, float]:
    sql = QUERY
    conns = [
        await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0) for _ in range(args.clients)
    ]
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for c in conns:
        pool.put_nowait(c)

    async def one() -> None:
        checks = [random_check(args.people) for _ in range(batch)]
        moments = [datetime.fromisoformat(c["at"]) for c in checks]
        params = query_params(
            [Check(c["practitionerCode"], c["institutionCode"], at) for c, at in zip(checks, moments, strict=True)],
            [at.date() for at in moments],
        )
        conn = await pool.get()
        try:
            await (await conn.execute(sql, params)).fetchall()
        finally:
            pool.put_nowait(conn)

    postgres = _postgres_processes()
    cpu0 = _cpu(postgres)
    elapsed = await drive(args.requests if batch == 1 else args.batches, args.clients, one)
    cpu = _cpu(postgres) - cpu0
    for c in conns:
        await c.close()
    return elapsed, cpu


async def graphql(
    base: str, token: str, server: psutil.Process, args: argparse.Namespace, batch: int
) -> tuple[float, float]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=60, limits=httpx.Limits(max_connections=args.clients)
    ) as http:

        async def one() -> None:
            if batch == 1:
                body = {"query": SINGLE, "variables": random_check(args.people)}
            else:
                body = {"query": BATCH, "variables": {"checks": [random_check(args.people) for _ in range(batch)]}}
            response = await http.post("/graphql", json=body)
            response.raise_for_status()
            assert "errors" not in response.json(), response.text

        await drive(args.clients * 4, args.clients, one)  # warm-up: caches, pool
        node = [server, *server.children(recursive=True)]
        cpu0 = _cpu(node)
        elapsed = await drive(args.requests if batch == 1 else args.batches, args.clients, one)
        cpu1 = _cpu(node)
    return elapsed, cpu1 - cpu0


def _postgres_processes() -> list[psutil.Process]:
    """The server and its backends (the bench's connections are open by now)."""
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] == "postgres" and any(str(DATA) in part for part in (p.info["cmdline"] or [])):
            return [p, *p.children(recursive=True)]
    return []


def _cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def report(name: str, count: int, elapsed: float, cpu: float, baseline: float | None) -> float:
    rate = count / elapsed
    ratio = f"{rate / baseline:6.3f} x raw SQL" if baseline else "baseline"
    print(f"{name:<44} {rate:9.0f} req/s  {cpu / count * 1e6:8.0f} us CPU/req  {ratio}")
    return rate


async def measure(base: str, token: str, server: psutil.Process, pg_url: str, args: argparse.Namespace) -> None:
    print(f"{args.clients} clients on loopback; {args.requests} single checks, {args.batches} batches of {args.batch}")
    elapsed, cpu = await raw_sql(pg_url, args, 1)
    raw = report("single check: raw psycopg, same SQL", args.requests, elapsed, cpu, None)
    elapsed, cpu = await graphql(base, token, server, args, 1)
    report("single check: GraphQL eligibility", args.requests, elapsed, cpu, raw)
    elapsed, cpu = await raw_sql(pg_url, args, args.batch)
    raw = report(f"batch of {args.batch}: raw psycopg, same SQL", args.batches, elapsed, cpu, None)
    elapsed, cpu = await graphql(base, token, server, args, args.batch)
    report(f"batch of {args.batch}: GraphQL eligibilities", args.batches, elapsed, cpu, raw)
    print("(CPU/req: PostgreSQL's for raw SQL; the node process's for GraphQL)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    random.seed(7)

    admin = embedded_server(DATA)
    create_database(admin, "registry_bench", drop_first=True)
    url = admin.replace("/postgres?", "/registry_bench?", 1)
    upgrade(url)
    t = time.perf_counter()
    seed(libpq_url(url), args.people)
    print(f"seeded {args.people} practitioners, {args.people // 20} suspensions in {time.perf_counter() - t:.1f} s")

    node = DATA / "node"
    port = free_port()
    # One token sends every request: lift its rate limit, which would otherwise be what is measured.
    env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_RATE_PER_SECOND": "1e9", "REGISTRY_RATE_BURST": "1000000000"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "registry.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(node),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        token = subprocess.run(
            [sys.executable, "-m", "registry.cli", "token", "--data-dir", str(node), "--role", "national"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        asyncio.run(measure(base, token, psutil.Process(process.pid), libpq_url(url), args))
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    main()
