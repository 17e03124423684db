"""What disclosure accounting costs per request: the node without it, with the buffered log (the default: rows
written every 200 ms by a background task), and with a synchronous insert before each answer.

    .venv/bin/python bench/disclosures.py [--people 10000] [--requests 3000] [--clients 8] [--rounds 3]

It seeds a fresh database in the embedded PostgreSQL (.data/bench-disclosures), then, for each mode in turn
(interleaved, `--rounds` times), serves the app in one uvicorn process on loopback and sends `Eligibility` single
checks and `Eligibilities` batches of 1,000 from `--clients` concurrent clients. It prints the medians: requests
per second, and CPU per request of the node process and of PostgreSQL, with the overhead against "off". The load
is bounded by --requests; the whole run takes about two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu, free_port, postgres, seed_people  # noqa: E402

from registry.auth import Actor, Role  # noqa: E402
from registry.db import Database, create_database, embedded_server, libpq_url, make_engine  # noqa: E402
from registry.disclosures import DisclosureKind, DisclosureLog  # noqa: E402
from registry.migrate import upgrade  # noqa: E402

DATA = ROOT / ".data" / "bench-disclosures"
MODES = ("off", "buffered", "synchronous")
SINGLE = """query Eligibility($practitionerCode: String!, $institutionCode: String, $at: DateTime) {
  eligibility(practitionerCode: $practitionerCode, institutionCode: $institutionCode, at: $at) {
    eligible status affiliated eligibleAgainOn } }"""
BATCH = """query Eligibilities($checks: [EligibilityCheckInput!]!) {
  eligibilities(checks: $checks) { eligible status affiliated } }"""


def seed(url: str, people: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        seed_people(conn, people, 100)
        conn.execute("ANALYZE")


def serve_app(url: str, mode: str, port: int) -> None:
    """One server process (what each worker of `registry serve` runs), with the disclosure log in `mode`."""
    import uvicorn

    from registry.app import create_app
    from registry.config import Settings
    from registry.observability import configure_logging

    configure_logging("warning")
    settings = Settings(
        database_url=url,
        data_dir=DATA / "node",
        disclosure_flush_ms=0 if mode == "synchronous" else 200,
        rate_per_second=1e9,  # one token sends every request: its limit is not what is measured
        rate_burst=10**9,
    )
    app = create_app(settings, Database(make_engine(url)))
    if mode == "off":

        async def nothing(*args: object) -> None:
            return None

        app.state.services.disclosures.record = nothing
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False, loop="uvloop", http="httptools")


def check(people: int) -> dict[str, Any]:
    i = random.randint(1, people)
    return {"practitionerCode": f"D520201{i:07d}", "institutionCode": f"H520201{i % 100 + 1:05d}"}


async def load(
    base: str, token: str, server: psutil.Process, count: int, clients: int, batch: int, people: int
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as http:

        async def one() -> None:
            if batch == 1:
                body = {"query": SINGLE, "variables": check(people)}
            else:
                body = {"query": BATCH, "variables": {"checks": [check(people) for _ in range(batch)]}}
            response = await http.post("/graphql", json=body)
            assert response.status_code == 200 and "errors" not in response.json(), response.text

        async def drive(total: int) -> float:
            remaining = iter(range(total))

            async def worker() -> None:
                for _ in remaining:
                    await one()

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return time.perf_counter() - start

        await drive(clients * 4)  # warm-up: the pool's connections, caches
        pg = postgres(DATA)
        node0, pg0 = cpu([server]), cpu(pg)
        elapsed = await drive(count)
        return {
            "rate": count / elapsed,
            "node_us": (cpu([server]) - node0) / count * 1e6,
            "pg_us": (cpu(pg) - pg0) / count * 1e6,
        }


def run_mode(url: str, mode: str, token: str, args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float]]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=serve_app, args=(url, mode, port))
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        server = psutil.Process(process.pid)
        single = asyncio.run(load(base, token, server, args.requests, args.clients, 1, args.people))
        batch = asyncio.run(load(base, token, server, args.batches, args.clients, 1000, args.people))
        return single, batch
    finally:
        process.terminate()
        process.join(30)


async def micro(url: str) -> None:
    """The hot path's share: one call of `record` (buffered), and the CPU a flush costs per row, in this process
    (client side) and in PostgreSQL, measured as CPU time (the machine may be busy)."""
    engine = make_engine(url)
    db = Database(engine)
    log = DisclosureLog(db, flush_ms=200)
    actor = Actor(Role.INSTITUTION, institution="H52020100001", token_id="bench")
    singles = [[f"D520201{i % 10000:07d}"] for i in range(1000)]
    n = 100_000
    start = time.process_time()
    for i in range(n):
        await log.record(actor, DisclosureKind.ELIGIBILITY, singles[i % 1000])
    record_us = (time.process_time() - start) / n * 1e6
    del log._pending[1:]
    await log.flush()  # one row, and a connection in the pool

    async def flush(codes: list[list[str]]) -> tuple[float, float]:
        for c in codes:
            await log.record(actor, DisclosureKind.ELIGIBILITIES, c)
        pg = postgres(DATA)
        there = cpu(pg)
        here = time.process_time()
        await log.flush()
        here = time.process_time() - here
        return here / len(codes) * 1e6, (cpu(pg) - there) / len(codes) * 1e6

    flushes = [await flush(singles[:1]) for _ in range(200)]  # one row each: what any flush costs
    fixed_here, fixed_pg = (statistics.fmean(f[i] for f in flushes) for i in (0, 1))
    single_here, single_pg = await flush(singles * 50)
    batch_here, batch_pg = await flush([[f"D520201{i:07d}" for i in range(1000)]] * 200)
    await engine.dispose()
    print(f"record(), buffered: {record_us:.2f} us of CPU per call (no I/O)")
    print(f"flush of one row (a transaction and a COPY): {fixed_here:.0f} us here + {fixed_pg:.0f} us PostgreSQL")
    print(f"flush, per row of 1 code (50,000 in one COPY): {single_here:.0f} us here + {single_pg:.0f} us PostgreSQL")
    print(f"flush, per row of 1,000 codes (200 in one COPY): {batch_here:.0f} us here + {batch_pg:.0f} us PostgreSQL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    random.seed(7)

    admin = embedded_server(DATA)
    create_database(admin, "registry_bench", drop_first=True)
    url = admin.replace("/postgres?", "/registry_bench?", 1)
    upgrade(url)
    seed(libpq_url(url), args.people)

    from registry import tokens

    async def setup() -> str:
        engine = make_engine(url)
        db = Database(engine)
        await tokens.ensure_key(db)
        issued = await tokens.issue(db, Actor(Role.NATIONAL), ttl=timedelta(hours=2))
        await engine.dispose()
        return issued.token

    token = asyncio.run(setup())
    asyncio.run(micro(url))
    results: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            results[mode].append(run_mode(url, mode, token, args))

    print(
        f"\n{args.clients} clients, {args.requests} single checks and {args.batches} batches of 1,000 per run;"
        f" medians of {args.rounds} interleaved runs"
    )
    for index, name in ((0, "Eligibility"), (1, "Eligibilities of 1,000")):
        print(f"\n{name:<24} {'req/s':>8} {'node us/req':>12} {'pg us/req':>10} {'CPU overhead':>13}")
        base = None
        for mode in MODES:
            runs = [r[index] for r in results[mode]]
            rate = statistics.median(r["rate"] for r in runs)
            node = statistics.median(r["node_us"] for r in runs)
            pg = statistics.median(r["pg_us"] for r in runs)
            base = base or node + pg
            print(f"{mode:<24} {rate:8.0f} {node:12.0f} {pg:10.0f} {(node + pg) / base - 1:+12.1%}")


if __name__ == "__main__":
    main()
