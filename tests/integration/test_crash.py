"""A node killed in the middle of a stream of decisions, as a power cut or the OOM killer would: first the node's
own processes (SIGKILL), then, separately, its embedded PostgreSQL's postmaster. After a restart, every decision
that was acknowledged is there, the event log has no gap, and every change has its audit row. And 50 decisions
sent at once about one person end where the same 50 sent one at a time end.

Bounded: each stream stops after a few dozen acknowledged decisions or 60 s, and every wait has a deadline."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from tests import factories as f
from tests.conftest import TEST_DATA
from tests.ops import DOCUMENTS
from tests.processes import clean_env, run_registry, serve, stop

INSTITUTION = "H52020100001"
PEOPLE = [f"D52020100{i:04d}" for i in range(20)]
ACKNOWLEDGED_BEFORE_KILL = 40
STREAM_SECONDS = 60


def postmaster(node_dir: Path) -> tuple[psutil.Process, str] | None:
    """The running postmaster of the node's embedded PostgreSQL and the URL of the node's database, from
    pg/postmaster.pid (read here: importing the package would move its lock file out of the node's folder)."""
    try:
        lines = (node_dir / "pg" / "postmaster.pid").read_text().splitlines()
        process = psutil.Process(int(lines[0]))
    except (OSError, psutil.NoSuchProcess):
        return None
    return process, f"postgresql://postgres@/registry?host={lines[4]}&port={lines[3]}"


@pytest.fixture
def node_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    path = TEST_DATA / f"crash-{request.node.name[5:30]}"
    shutil.rmtree(path, ignore_errors=True)
    yield path
    running = postmaster(path)
    if running is not None:  # a test that failed half-way: stop the PostgreSQL its node started
        running[0].send_signal(signal.SIGINT)
        running[0].wait(30)
    shutil.rmtree(path, ignore_errors=True)
    path.with_name(path.name + ".out").unlink(missing_ok=True)


def graphql(base: str, token: str, name: str, variables: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    body = {"query": DOCUMENTS[name], "operationName": name, "variables": variables}
    response = httpx.post(f"{base}/graphql", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    response.raise_for_status()
    return dict(response.json()["data"])


def staff(base: str, token: str, people: list[str]) -> None:
    data = graphql(base, token, "RegisterInstitution", {"input": f.institution(INSTITUTION)})
    assert data["registerInstitution"]["userErrors"] == []
    for i, code in enumerate(people):
        person = f.practitioner(code, (INSTITUTION,), serial=f"{i:03d}", registered_on="2024-01-01")
        assert (
            graphql(base, token, "RegisterPractitioner", {"input": person})["registerPractitioner"]["userErrors"] == []
        )


class Stream:
    """Decisions sent by a few clients at once, each one 1 point for one person; what the node acknowledged."""

    def __init__(self, base: str, token: str, clients: int = 4) -> None:
        self.base, self.token = base, token
        self.acknowledged: set[str] = set()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._send, args=(c,)) for c in range(clients)]

    def _send(self, client: int) -> None:
        deadline = time.monotonic() + STREAM_SECONDS
        n = 0
        while not self.stopped.is_set() and time.monotonic() < deadline:
            case = f"K{client}-{n}"
            person = PEOPLE[(client * 7 + n) % len(PEOPLE)]
            decision = f.decision(case, [(person, 1)], f"2025-{1 + n % 12:02d}-{1 + client:02d}")
            try:
                data = graphql(self.base, self.token, "RecordDecision", {"input": decision}, timeout=10)
            except (httpx.HTTPError, KeyError, TypeError):
                time.sleep(0.05)  # the node is down: nothing acknowledged; keep trying until stopped
                n += 1
                continue
            if data["recordDecision"]["decision"] is not None:
                with self.lock:
                    self.acknowledged.add(case)
            n += 1

    def __enter__(self) -> Stream:
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + STREAM_SECONDS
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} decisions acknowledged"
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(30)


def database(node_dir: Path) -> psycopg.Connection[Any]:
    running = postmaster(node_dir)
    assert running is not None
    return psycopg.connect(running[1])


def check_nothing_acknowledged_was_lost(node_dir: Path, acknowledged: set[str], env: dict[str, str]) -> None:
    with database(node_dir) as conn:
        stored = {row[0] for row in conn.execute("SELECT case_number FROM decisions")}
        seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE operation = 'recordDecision' AND outcome = 'ok'"
        ).fetchone()
    assert acknowledged <= stored, sorted(acknowledged - stored)
    assert seqs == list(range(1, len(seqs) + 1))  # gapless
    # Each decision committed with its audit row, in one transaction: none without the other.
    assert audited is not None and audited[0] == len(stored)
    verified = run_registry("audit", "verify", "--data-dir", str(node_dir), env=env)
    assert verified.startswith("audit trail intact:")


def node_processes(serve_process: subprocess.Popen[str]) -> list[psutil.Process]:
    """The `serve` process and its workers: the node, without its PostgreSQL."""
    parent = psutil.Process(serve_process.pid)
    return [parent] + [p for p in parent.children(recursive=True) if p.name() != "postgres"]


def kill_mid_stream(
    node_dir: Path, env: dict[str, str], kill: Callable[[subprocess.Popen[str]], None]
) -> tuple[subprocess.Popen[str], str, str, set[str]]:
    """Start a node with two workers, give it staff, stream decisions at it and `kill` something in the middle;
    the serve process, its address, a national token, and the decisions acknowledged."""
    process, base, _ = serve(node_dir, env, "--workers", "2")
    try:
        token = run_registry("token", "--data-dir", str(node_dir), "--role", "national", env=env)
        staff(base, token, PEOPLE)
        with Stream(base, token) as stream:
            stream.wait_for(ACKNOWLEDGED_BEFORE_KILL)
            kill(process)
    except BaseException:
        if process.poll() is None:  # the test failed before the kill: leave nothing running
            leftovers = node_processes(process)
            for leftover in leftovers:
                leftover.kill()
            psutil.wait_procs(leftovers, timeout=30)
        raise
    return process, base, token, set(stream.acknowledged)


def kill_the_node(process: subprocess.Popen[str]) -> None:
    victims = node_processes(process)
    assert len(victims) >= 3  # serve and its two workers (and multiprocessing's helper)
    for victim in victims:
        victim.kill()
    process.wait(30)
    psutil.wait_procs(victims, timeout=30)


def test_sigkill_of_the_node_mid_stream_loses_no_acknowledged_decision(node_dir: Path) -> None:
    env = clean_env()
    _, _, token, acknowledged = kill_mid_stream(node_dir, env, kill_the_node)
    process, base, _ = serve(node_dir, env, "--workers", "2")
    try:
        check_nothing_acknowledged_was_lost(node_dir, acknowledged, env)
        # The node works on: one more decision is recorded after the restart.
        more = graphql(base, token, "RecordDecision", {"input": f.decision("after", [(PEOPLE[0], 1)], "2025-12-01")})
        assert more["recordDecision"]["userErrors"] == []
    finally:
        stop(process)
    # Stopped normally, the restarted node stops its PostgreSQL too, though the killed one never said goodbye.
    assert postmaster(node_dir) is None


def test_sigkill_of_postgres_mid_stream_loses_no_acknowledged_decision(node_dir: Path) -> None:
    def kill_postgres(process: subprocess.Popen[str]) -> None:
        running = postmaster(node_dir)
        assert running is not None
        running[0].kill()
        running[0].wait(30)
        time.sleep(1)  # the stream meets a node without its database for a moment

    env = clean_env()
    process, base, _, acknowledged = kill_mid_stream(node_dir, env, kill_postgres)
    try:
        # Without its database the node answers, with an error, and does not fall over.
        assert httpx.get(f"{base}/healthz", timeout=10).status_code >= 500
    finally:
        stop(process)
    process, base, _ = serve(node_dir, env, "--workers", "2")  # starts PostgreSQL again: crash recovery
    try:
        check_nothing_acknowledged_was_lost(node_dir, acknowledged, env)
    finally:
        stop(process)


def stands(record: dict[str, Any], code: str) -> dict[str, Any]:
    """A person's record without their code."""
    kept = {k: v for k, v in record.items() if k not in ("code", "idNumberMasked")}
    text = json.dumps(kept, sort_keys=True).replace(code, "X")
    return dict(json.loads(text))


async def test_fifty_decisions_at_once_on_one_person_end_as_one_at_a_time(node_dir: Path) -> None:
    env = clean_env()
    process, base, _ = await asyncio.to_thread(serve, node_dir, env, "--workers", "2")
    at_once, one_by_one = PEOPLE[:2]
    try:
        token = run_registry("token", "--data-dir", str(node_dir), "--role", "national", env=env)
        await asyncio.to_thread(staff, base, token, [at_once, one_by_one])
        # Days out of order and points from 1 to 4: the order of arrival must not matter.
        plan = [(i, f"2025-{1 + (i * 7) % 12:02d}-{1 + (i * 11) % 28:02d}", 1 + i % 4) for i in range(50)]
        headers = {"Authorization": f"Bearer {token}"}

        def body(who: str, i: int, day: str, points: int) -> dict[str, Any]:
            decision = f.decision(f"{who}-{i}", [(who, points)], day)
            return {
                "query": DOCUMENTS["RecordDecision"],
                "operationName": "RecordDecision",
                "variables": {"input": decision},
            }

        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as http:
            answers = await asyncio.gather(*(http.post("/graphql", json=body(at_once, *p)) for p in plan))
            for p in plan:
                answers.append(await http.post("/graphql", json=body(one_by_one, *p)))
            assert all(a.status_code == 200 and a.json()["data"]["recordDecision"]["userErrors"] == [] for a in answers)
            records = {}
            for who in (at_once, one_by_one):
                variables = {"code": who, "year": 2025}
                record = await http.post(
                    "/graphql",
                    json={"query": DOCUMENTS["Practitioner"], "operationName": "Practitioner", "variables": variables},
                )
                records[who] = record.json()["data"]["practitioner"]
        # Points, point records, status and every sanction row: equal, the people's codes aside (stored sanctions
        # are a function of the facts, whatever order they arrived in).
        standing = {who: stands(records[who], who) for who in (at_once, one_by_one)}
        assert standing[at_once] == standing[one_by_one]
        assert standing[at_once]["points"] == sum(points for _, _, points in plan)
        assert standing[at_once]["sanctions"]  # the 50 decisions did bring sanctions
        with database(node_dir) as conn:
            seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        await asyncio.to_thread(stop, process)
