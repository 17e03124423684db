"""What the benchmarks share: a free loopback port, a national token, a small known data set, and the CPU time of
the processes they measure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu(processes: list[psutil.Process]) -> float:
    """User and system seconds the processes have used (one that ended counts no more)."""
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def postgres(data: Path) -> list[psutil.Process]:
    """The embedded PostgreSQL server whose data lies under `data`, with its backends."""
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] == "postgres" and any(str(data) in part for part in (p.info["cmdline"] or [])):
            return [p, *p.children(recursive=True)]
    return []


def node_env(url: str) -> dict[str, str]:
    """The environment of a node under load: this database, and no rate limit (one token sends every request, and
    its limit would otherwise be what is measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return {**env, "REGISTRY_DATABASE_URL": url, "REGISTRY_RATE_PER_SECOND": "1e9", "REGISTRY_RATE_BURST": "1000000000"}


def national_token(data_dir: Path, url: str) -> str:
    """A national token, made by the node's own command (its signing keys are in its database)."""
    done = subprocess.run(
        [sys.executable, "-m", "registry.cli", "token", "--role", "national", "--data-dir", str(data_dir)],
        env=node_env(url),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"registry token failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def seed_people(conn: psycopg.Connection[Any], people: int, institutions: int) -> None:
    """Institutions H520201nnnnn and people D520201nnnnnnn, each registered on 2024-01-01 at one of them, written
    directly (as the national node's facts 1..institutions+people, though not in its feed): fast, for benchmarks
    that need a known set rather than `registry import`'s realistic one."""
    conn.execute(
        """INSERT INTO institutions (code, name, kind, region_code, registered_by, origin, origin_seq)
           SELECT 'H520201' || lpad(i::text, 5, '0'), '医院 ' || i, 'MEDICAL_INSTITUTION', '520201', 'bench',
                  '000000', i
           FROM generate_series(1, %(institutions)s) i""",
        {"institutions": institutions},
    )
    person = "'D520201' || lpad(i::text, 7, '0')"
    for table, columns, values in (
        (
            "practitioners",
            "code, name, category, region_code, id_hash, id_masked, registered_on",
            f"{person}, '医生' || i, 'PHYSICIAN', '520201', md5(i::text), '5202**********000X', DATE '2024-01-01'",
        ),
        ("registrations", "practitioner_code, starts_on, recorded_by", f"{person}, DATE '2024-01-01', 'bench'"),
        (
            "affiliations",
            "practitioner_code, institution_code, starts_on, recorded_by",
            f"{person}, 'H520201' || lpad((mod(i, %(institutions)s) + 1)::text, 5, '0'), DATE '2024-01-01', 'bench'",
        ),
    ):
        conn.execute(
            f"INSERT INTO {table} ({columns}, origin, origin_seq)"
            f" SELECT {values}, '000000', %(institutions)s + i FROM generate_series(1, %(people)s) i",
            {"institutions": institutions, "people": people},
        )
