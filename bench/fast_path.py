"""The eligibility fast path against the general path, and raw psycopg, on one node (an interim probe until the
side-by-side bench, bench/eligibility.py, covers PostGraphile and pgbench too).

    .venv/bin/python bench/fast_path.py [--people 100000] [--seconds 8] [--rounds 3] [--workers 2] [--before DIR]

It seeds a database in the embedded PostgreSQL under .data/bench-probe (once; --reseed to redo), starts
`registry serve --workers N` on loopback, checks on a sample that both paths write the same bytes, then drives wrk
(Debian's `wrk`) at the contract's `Eligibility` (2 and 8 connections) and `Eligibilities` (100 and 1,000 checks, 2
connections), each by the fast path (the document as written) and by the general path (the same document with one
more space), interleaved, `--rounds` times. With `--before DIR` (an export of another commit, e.g. `git archive
main | tar -x -C DIR`) a second node runs that code on the same database, and takes its turn in every round. It prints the median req/s, p50 and p99, the CPU time per request of the
node's processes and of PostgreSQL, and the most resident memory of a worker. The load is bounded: --seconds per
run. CPU steal varies on a shared machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import cpu, national_token, node_env, postgres, seed_people  # noqa: E402

from registry.db import create_database, embedded_server, libpq_url, sqlalchemy_url  # noqa: E402
from registry.eligibility.documents import ELIGIBILITIES, ELIGIBILITY  # noqa: E402
from registry.eligibility.service import QUERY, Check, query_params  # noqa: E402
from registry.migrate import upgrade  # noqa: E402

DATA = ROOT / ".data" / "bench-probe"
DATABASE = "registry_probe"
INSTITUTIONS = 1000


def seed(url: str, people: int) -> None:
    """People registered at one institution each; one in 20 suspended, one in 100 terminated (case numbers in
    Chinese, as bureaus write them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        seed_people(conn, people, INSTITUTIONS)
        conn.execute(
            """INSERT INTO decisions (region_code, case_number, institution_code, basis, decided_on, behaviour,
                                      content_hash, recorded_by, origin, origin_seq)
               SELECT '520201', '黔医保罚〔2025〕' || i || '号', 'H520201' || lpad((mod(i * 20, %s) + 1)::text, 5, '0'),
                      'ADMINISTRATIVE_PENALTY', DATE '2025-03-01', 'bench', md5(i::text), 'bench', '000000',
                      %s + i
               FROM generate_series(1, %s) i""",
            (INSTITUTIONS, INSTITUTIONS + people, people // 20),
        )
        conn.execute(
            """INSERT INTO point_records (decision_id, practitioner_code, decided_on, points, responsibility)
               SELECT d.id, 'D520201' || lpad((d.id * 20)::text, 7, '0'), d.decided_on,
                      CASE WHEN d.id % 5 = 0 THEN 12 ELSE 10 END, 'MAIN'
               FROM decisions d"""
        )
        conn.execute(
            """INSERT INTO sanctions (practitioner_code, year, kind, state, starts_on, ends_on, in_force_to, months,
                                      reregistration_allowed_from, single_decision, cause_point_record_id,
                                      case_number, region_code, policy_version)
               SELECT r.practitioner_code, 2025, CASE WHEN r.points = 12 THEN 'TERMINATION' ELSE 'SUSPENSION' END,
                      'VALID', r.decided_on, CASE WHEN r.points = 12 THEN NULL ELSE DATE '2025-06-30' END,
                      CASE WHEN r.points = 12 THEN NULL ELSE DATE '2025-06-30' END,
                      CASE WHEN r.points = 12 THEN NULL ELSE 4 END,
                      CASE WHEN r.points = 12 THEN DATE '2028-03-01' END, true, r.id, d.case_number, '520201',
                      'national-2025.1'
               FROM point_records r JOIN decisions d ON d.id = r.decision_id"""
        )
        conn.execute("ANALYZE")


def check(people: int) -> dict[str, Any]:
    i = random.randint(1, people)
    day = date(2025, 1, 1) + timedelta(days=random.randint(0, 364))
    institution = i % INSTITUTIONS + 1 if random.random() < 0.9 else random.randint(1, INSTITUTIONS)
    return {
        "practitionerCode": f"D520201{i:07d}",
        "institutionCode": f"H520201{institution:05d}",
        "at": f"{day.isoformat()}T10:00:00+08:00",
    }


def body(document: str, variables: dict[str, Any]) -> str:
    return json.dumps({"query": document, "variables": variables}, ensure_ascii=False)


SINGLE_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local head = [==[{head}]==]
request = function()
  local i = math.random(1, {people})
  local inst = i % {institutions} + 1
  local body = head .. string.format(
    '{{"practitionerCode":"D520201%07d","institutionCode":"H520201%05d","at":"2025-%02d-%02dT10:00:00+08:00"}}}}',
    i, inst, math.random(1, 12), math.random(1, 28))
  return wrk.format(nil, nil, nil, body)
end
"""

STATIC_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local f = io.open("{path}", "rb")
wrk.body = f:read("*a")
f:close()
"""


def wrk(base: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(script),
            f"{base}/graphql",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    return {
        "requests": int(_found(r"(\d+) requests in", out)),
        "rate": float(_found(r"Requests/sec:\s+([\d.]+)", out)),
        "p50": _ms(_found(r"^\s+50%\s+(\S+)", out)),
        "p99": _ms(_found(r"^\s+99%\s+(\S+)", out)),
    }


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.M)
    if match is None:
        raise SystemExit(f"wrk printed no {pattern!r}:\n{text}")
    return match.group(1)


def _ms(value: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    raise ValueError(value)


def measure(run: Any, node: psutil.Process) -> dict[str, float]:
    workers = node.children(recursive=True)
    processes, database = [node, *workers], postgres(DATA)
    before, before_pg = cpu(processes), cpu(database)
    result: dict[str, float] = run()
    result["node_cpu_us"] = (cpu(processes) - before) / result["requests"] * 1e6
    result["pg_cpu_us"] = (cpu(database) - before_pg) / result["requests"] * 1e6
    result["rss_mb"] = max((w.memory_info().rss for w in workers), default=0) / 2**20
    return result


async def raw_batch(url: str, checks: list[dict[str, Any]], connections: int, seconds: int) -> dict[str, float]:
    """The node's SQL run by psycopg itself (prepared, autocommit): the floor of a batch."""
    from datetime import datetime

    moments = [datetime.fromisoformat(c["at"]) for c in checks]
    params = query_params(
        [Check(c["practitionerCode"], c["institutionCode"], at) for c, at in zip(checks, moments, strict=True)],
        [at.date() for at in moments],
    )
    done = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        async with await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0) as conn:
            while time.monotonic() < deadline:
                await (await conn.execute(QUERY, params)).fetchall()
                done += 1

    start = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    return {"requests": done, "rate": done / (time.monotonic() - start), "p50": 0.0, "p99": 0.0}


def same_bytes(base: str, token: str, people: int) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for _ in range(200):
        variables = check(people)
        fast = httpx.post(f"{base}/graphql", content=body(ELIGIBILITY, variables), headers=headers)
        general = httpx.post(f"{base}/graphql", content=body(ELIGIBILITY + " ", variables), headers=headers)
        assert fast.status_code == 200 and fast.content == general.content, (fast.content, general.content)
        assert b'"errors"' not in fast.content, fast.content
    batch = {"checks": [check(people) for _ in range(1000)]}
    fast = httpx.post(f"{base}/graphql", content=body(ELIGIBILITIES, batch), headers=headers, timeout=60)
    general = httpx.post(f"{base}/graphql", content=body(ELIGIBILITIES + " ", batch), headers=headers, timeout=60)
    assert fast.content == general.content and b'"errors"' not in fast.content
    print("the fast path and the general path wrote the same bytes for 200 checks and a batch of 1,000")


def start_node(data_dir: Path, url: str, workers: int, code: str | None) -> tuple[subprocess.Popen[bytes], str]:
    """`registry serve` on loopback; `code`: another checkout of the package to run instead (PYTHONPATH)."""
    port = 18000 + (os.getpid() + len(str(data_dir))) % 1000
    env = node_env(url)
    if code:
        env["PYTHONPATH"] = code
    command = [sys.executable, "-m", "registry.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    node = subprocess.Popen(
        [*command, "--workers", str(workers), "--log-level", "warning"],
        cwd=code or ROOT,  # `python -m` puts the working directory first on the path
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return node, base
        except httpx.TransportError:
            time.sleep(0.2)
    node.kill()
    raise SystemExit(f"the node at {base} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", metavar="DIR", help="a checkout of the code to compare with (git archive main)")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    random.seed(7)
    admin = embedded_server(DATA)
    url = sqlalchemy_url(admin).replace("/postgres?", f"/{DATABASE}?", 1)
    marker = DATA / f"seeded-{args.people}"
    if args.reseed or not marker.exists():
        create_database(admin, DATABASE, drop_first=True)
        upgrade(url)
        started = time.perf_counter()
        seed(libpq_url(url), args.people)
        marker.touch()
        print(f"seeded {args.people} practitioners in {time.perf_counter() - started:.1f} s")
    nodes: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        nodes["this"] = start_node(DATA / "node", url, args.workers, None)
        if args.before:
            (DATA / "node-before").mkdir(exist_ok=True)
            shutil.copytree(DATA / "node" / "keys", DATA / "node-before" / "keys", dirs_exist_ok=True)
            nodes["before"] = start_node(DATA / "node-before", url, args.workers, args.before)
        token = national_token(DATA / "node", url)
        same_bytes(nodes["this"][1], token, args.people)
        processes = {name: psutil.Process(node.pid) for name, (node, _) in nodes.items()}
        bases = {name: base for name, (_, base) in nodes.items()}
        report(run_all(args, bases, token, processes, libpq_url(url)), args)
    finally:
        for node, _ in nodes.values():
            node.terminate()
            node.wait(30)


def run_all(
    args: argparse.Namespace, bases: dict[str, str], token: str, nodes: dict[str, psutil.Process], url: str
) -> dict[str, list[dict]]:
    folder = Path(tempfile.mkdtemp(prefix="probe-"))
    # (label, node, the document's suffix): the contract's text is the fast path's, one more space strawberry's.
    paths = [("general", "this", " "), ("fast", "this", "")]
    if "before" in bases:
        paths.insert(0, ("before (main)", "before", ""))
    scripts: dict[tuple[str, str], Path] = {}
    for label, _, suffix in paths:
        head = body(ELIGIBILITY + suffix, {"practitionerCode": "X"}).split('{"practitionerCode"')[0]
        script = scripts["single", label] = folder / f"single-{len(scripts)}.lua"
        script.write_text(SINGLE_LUA.format(token=token, head=head, people=args.people, institutions=INSTITUTIONS))
    batches = {size: [check(args.people) for _ in range(size)] for size in (100, 1000)}
    for size, checks in batches.items():
        for label, _, suffix in paths:
            payload = folder / f"batch-{len(scripts)}.json"
            payload.write_text(body(ELIGIBILITIES + suffix, {"checks": checks}))
            script = scripts[f"batch{size}", label] = folder / f"batch-{len(scripts)}.lua"
            script.write_text(STATIC_LUA.format(token=token, path=payload))
    runs = [(f"Eligibility, {c} connections", "single", c) for c in (2, 8)]
    runs += [(f"Eligibilities of {size}, 2 connections", f"batch{size}", 2) for size in (100, 1000)]
    for label, node, _ in paths:  # warm-up: pools, prepared statements, caches
        wrk(bases[node], scripts["single", label], 8, 2)
        wrk(bases[node], scripts["batch100", label], 2, 2)
    results: dict[str, list[dict]] = {}
    raw_name = "Eligibilities of 1000, raw psycopg (same SQL), 2 connections"
    for _ in range(args.rounds):
        for name, kind, connections in runs:
            for label, node, _ in paths:
                run = lambda b=bases[node], s=scripts[kind, label], c=connections: wrk(b, s, c, args.seconds)  # noqa: E731
                results.setdefault(f"{name}: {label}", []).append(measure(run, nodes[node]))
        results.setdefault(raw_name, []).append(asyncio.run(raw_batch(url, batches[1000], 2, args.seconds)))
    shutil.rmtree(folder)
    return results


def report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    print(f"\n{args.people} practitioners, {args.workers} workers, {args.rounds} rounds of {args.seconds} s; medians")
    print(
        f"{'path':<62} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'node CPU/req':>13} {'PG CPU/req':>11} {'RSS MB':>7}"
    )
    for name, runs in results.items():
        keys = ("rate", "p50", "p99", "node_cpu_us", "pg_cpu_us", "rss_mb")
        med = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in keys}
        print(
            f"{name:<62} {med['rate']:8.0f} {med['p50']:7.2f} {med['p99']:7.2f} {med['node_cpu_us']:10.0f} µs"
            f" {med['pg_cpu_us']:8.0f} µs {med['rss_mb']:7.0f}"
        )


if __name__ == "__main__":
    main()
