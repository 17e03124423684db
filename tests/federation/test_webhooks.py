"""Regulator notifications: written with the sanction change, delivered signed to a real receiver on loopback,
retried with backoff, given up after 3 days, each change under one webhook-id."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
import rfc8785
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import clock
from registry.db import Database, libpq_url
from registry.errors import UserErrors
from registry.federation.regulators import add_regulator, list_regulators
from registry.federation.webhooks import (
    RegulatorStatus,
    deliver_due,
    enqueue,
    message_body,
    message_id,
    regulator_status,
)
from registry.points.changes import SanctionChange
from registry.practitioners.models import Practitioner
from tests.factories import sanction_change
from tests.federation.receiver import Receiver

WHSEC = "whsec_" + base64.b64encode(os.urandom(24)).decode()
RAW = "卫健委 shared secret"  # not base64: used as its UTF-8 bytes


async def stage(db: Database, *changes: SanctionChange) -> int:
    async with db.transaction() as session:
        return await enqueue(session, changes)


async def rows(db: Database) -> list[dict[str, Any]]:
    async with db.reader() as conn:
        result = await conn.execute(
            text(
                "SELECT r.name AS regulator, d.* FROM webhook_deliveries d JOIN regulators r ON r.id = d.regulator_id"
                " ORDER BY d.id"
            )
        )
        return [dict(row._mapping) for row in result]


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def regulator() -> Any:
    """A receiver on loopback (started unless `up=False`), added as the regulator 卫健委 for physicians."""
    started: list[Receiver] = []

    async def make(db: Database, *, secret: str = WHSEC, key: str | bytes | None = None, up: bool = True) -> Receiver:
        hook = Receiver(secret if key is None else key)
        started.append(hook)
        if up:
            hook.start()
        await add_regulator(db, "卫健委", hook.url, secret, ["PHYSICIAN"])
        return hook

    yield make
    for hook in started:
        hook.stop()


# --- delivery -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("secret", "key"), [(WHSEC, WHSEC), (RAW, RAW.encode())], ids=["whsec", "raw"])
async def test_a_change_arrives_once_signed_with_the_regulators_secret(
    db: Database, http: httpx.AsyncClient, regulator: Any, secret: str, key: str | bytes
) -> None:
    hook = await regulator(db, secret=secret, key=key)
    imposed = sanction_change()
    terminated = sanction_change(
        "D520201000002",
        kind="TERMINATION",
        ends_on=None,
        reregistration_allowed_from=date(2029, 3, 10),
        case_number="黔医保罚〔2026〕2号",
    )
    assert await stage(db, imposed, terminated) == 2

    now = clock.now()
    await deliver_due(db, http, now, retry_base=1.0)
    await deliver_due(db, http, now + timedelta(seconds=30), retry_base=1.0)

    assert hook.bad_signatures == []
    assert sorted(hook.requests) == sorted([message_id(imposed), message_id(terminated)])
    by_id = {webhook_id: body for webhook_id, body, _ in hook.accepted}
    assert by_id[message_id(imposed)]["type"] == "sanction.imposed"
    assert by_id[message_id(terminated)]["data"] == {
        "practitionerCode": "D520201000002",
        "category": "PHYSICIAN",
        "kind": "TERMINATION",
        "state": "VALID",
        "startsOn": "2026-03-10",
        "endsOn": None,
        "reregistrationAllowedFrom": "2029-03-10",
        "caseNumber": "黔医保罚〔2026〕2号",
        "regionCode": "520000",
    }
    headers = hook.accepted[0][2]
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert all(r["delivered_at"] == now and r["attempts"] == 1 for r in await rows(db))
    assert await regulator_status(db) == [RegulatorStatus("卫健委", hook.url, 0, 0, now)]


async def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(
    db: Database, http: httpx.AsyncClient, regulator: Any
) -> None:
    hook = await regulator(db, secret="whsec_" + base64.b64encode(b"another key").decode(), key=WHSEC)
    await stage(db, sanction_change())

    await deliver_due(db, http, clock.now(), retry_base=1.0)

    assert hook.accepted == [] and len(hook.bad_signatures) == 1
    [row] = await rows(db)
    assert (row["delivered_at"], row["attempts"], row["last_status"]) == (None, 1, 400)


async def test_a_receiver_that_was_down_gets_every_change_once_when_back(
    db: Database, http: httpx.AsyncClient, regulator: Any
) -> None:
    hook = await regulator(db, up=False)  # nothing listens on its port yet
    changes = [sanction_change(f"D52020100000{i}") for i in range(1, 6)]
    await stage(db, *changes)
    start = clock.now()

    # Driven clock: the first retry after the base, then doubling.
    schedule = []
    now = start
    for _ in range(4):
        wait = await deliver_due(db, http, now, retry_base=1.0)
        attempted = await rows(db)
        assert all(r["delivered_at"] is None and r["last_error"] for r in attempted)
        assert len({r["next_attempt_at"] for r in attempted}) == 1
        schedule.append((attempted[0]["attempts"], (attempted[0]["next_attempt_at"] - now).total_seconds()))
        # Not due again before that time.
        assert await deliver_due(db, http, now, retry_base=1.0) == wait
        assert [r["attempts"] for r in await rows(db)] == [attempted[0]["attempts"]] * 5
        now = attempted[0]["next_attempt_at"]
    assert schedule == [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)]
    assert (await regulator_status(db))[0].pending == 5

    hook.start()
    await deliver_due(db, http, now, retry_base=1.0)
    await deliver_due(db, http, now + timedelta(seconds=60), retry_base=1.0)

    assert sorted(hook.accepted_ids()) == sorted(message_id(c) for c in changes)
    assert sorted(hook.requests) == sorted(hook.accepted_ids())  # each id exactly once
    assert [r["attempts"] for r in await rows(db)] == [5] * 5
    status = (await regulator_status(db))[0]
    assert (status.pending, status.failed, status.last_delivered_at) == (0, 0, now)


async def test_the_delay_stops_doubling_at_one_hour(db: Database, http: httpx.AsyncClient, regulator: Any) -> None:
    await regulator(db, up=False)
    await stage(db, sanction_change())
    now = clock.now()
    for _ in range(3):
        await deliver_due(db, http, now, retry_base=1000.0)
        [row] = await rows(db)
        delay = (row["next_attempt_at"] - now).total_seconds()
        now = row["next_attempt_at"]
    assert (row["attempts"], delay) == (3, 3600.0)  # 1000, 2000, then 4000 capped


async def test_a_500_answer_is_retried(db: Database, http: httpx.AsyncClient, regulator: Any) -> None:
    hook = await regulator(db)
    hook.refuse = 2
    await stage(db, sanction_change())
    now = clock.now()

    await deliver_due(db, http, now, retry_base=1.0)
    [row] = await rows(db)
    assert (row["attempts"], row["last_status"], row["delivered_at"]) == (1, 500, None)
    assert "500" in row["last_error"]

    for _ in range(2):
        now = (await rows(db))[0]["next_attempt_at"]
        await deliver_due(db, http, now, retry_base=1.0)

    [row] = await rows(db)
    assert (row["attempts"], row["last_status"], row["last_error"]) == (3, 204, None)
    assert row["delivered_at"] is not None
    assert hook.requests == [message_id(sanction_change())] * 3
    assert hook.accepted_ids() == [message_id(sanction_change())]


async def test_no_answer_in_time_is_retried(db: Database, http: httpx.AsyncClient, regulator: Any) -> None:
    hook = await regulator(db)
    hook.delay = 1.0
    await stage(db, sanction_change())
    now = clock.now()

    await deliver_due(db, http, now, retry_base=1.0, answer_within=0.1)
    [row] = await rows(db)
    assert (row["attempts"], row["last_status"], row["delivered_at"]) == (1, None, None)
    assert "no answer within 0.1 s" in row["last_error"]

    hook.delay = 0.0
    await deliver_due(db, http, row["next_attempt_at"], retry_base=1.0, answer_within=0.1)
    [row] = await rows(db)
    assert row["delivered_at"] is not None
    # The slow first answer may also have been accepted: the receiver tells them apart by id.
    assert set(hook.accepted_ids()) == {message_id(sanction_change())}


async def test_a_worker_that_dies_mid_post_leaves_the_row_to_be_sent_again(
    db: Database, http: httpx.AsyncClient, regulator: Any
) -> None:
    hook = await regulator(db)
    hook.delay = 1.0
    await stage(db, sanction_change())
    now = clock.now()

    worker = asyncio.create_task(deliver_due(db, http, now, retry_base=1.0))
    assert await asyncio.to_thread(hook.arrived.wait, 10)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker

    [row] = await rows(db)
    assert (row["attempts"], row["delivered_at"]) == (0, None)
    # Leased: another pass does not send it while the first might still be sending.
    await deliver_due(db, http, now + timedelta(seconds=1), retry_base=1.0)
    assert len(hook.requests) == 1

    hook.delay = 0.0
    later = row["next_attempt_at"]
    await deliver_due(db, http, later, retry_base=1.0)
    [row] = await rows(db)
    assert row["delivered_at"] == later
    assert set(hook.accepted_ids()) == {message_id(sanction_change())}


async def test_after_three_days_a_delivery_is_given_up(db: Database, http: httpx.AsyncClient, regulator: Any) -> None:
    hook = await regulator(db, up=False)
    await stage(db, sanction_change())
    [row] = await rows(db)
    created = row["created_at"]

    await deliver_due(db, http, created + timedelta(days=3) - timedelta(hours=1), retry_base=1.0)
    [row] = await rows(db)
    assert (row["attempts"], row["failed_at"]) == (1, None)
    assert (await regulator_status(db))[0].pending == 1

    gave_up = created + timedelta(days=3, seconds=1)
    await deliver_due(db, http, gave_up, retry_base=1.0)
    [row] = await rows(db)
    assert (row["attempts"], row["failed_at"], row["delivered_at"]) == (2, gave_up, None)

    hook.start()
    assert await deliver_due(db, http, created + timedelta(days=4), retry_base=1.0) == 5.0
    assert hook.requests == []
    assert await regulator_status(db) == [RegulatorStatus("卫健委", hook.url, 0, 1, None)]


# --- what is written ------------------------------------------------------------------------------------------


async def test_each_regulator_hears_of_its_categories_and_regions(db: Database) -> None:
    async with db.transaction() as session:
        session.add(
            Practitioner(
                code="N500103000009",
                name="李护士",
                category="NURSE",
                region_code="500103",
                id_hash="0" * 64,
                id_masked="500103********0000",
                registered_on=date(2025, 1, 1),
                origin="500000",
                origin_seq=1,
            )
        )
    await add_regulator(db, "national-health", "https://nhc.example/hooks", WHSEC, ["PHYSICIAN"])
    await add_regulator(db, "guizhou-drugs", "https://gz.example/hooks", RAW, ["PHARMACIST"], ["52"])
    await add_regulator(db, "city", "http://city.example/hooks", RAW, ["PHYSICIAN", "NURSE"], ["5001", "110105"])

    written = await stage(
        db,
        sanction_change("D520201000001", category="PHYSICIAN", practitioner_region="520201"),
        sanction_change("P520201000002", category="PHARMACIST", practitioner_region="520201"),
        sanction_change("P500101000003", category="PHARMACIST", practitioner_region="500101"),
        sanction_change("N500101000004", category="NURSE", practitioner_region="500101"),
        sanction_change("D110105000005", category="PHYSICIAN", practitioner_region="110105"),
        # Not known here yet: no regulator can tell whether it concerns them.
        sanction_change("D520201999999", category=None, practitioner_region=None),
        # Known from the practitioner row.
        sanction_change("N500103000009", category=None, practitioner_region=None),
    )

    found = sorted((r["regulator"], json.loads(r["body"])["data"]["practitionerCode"]) for r in await rows(db))
    assert found == [
        ("city", "D110105000005"),
        ("city", "N500101000004"),
        ("city", "N500103000009"),
        ("guizhou-drugs", "P520201000002"),
        ("national-health", "D110105000005"),
        ("national-health", "D520201000001"),
    ]
    assert written == 6
    filled = next(r for r in await rows(db) if "N500103000009" in r["body"])
    assert json.loads(filled["body"])["data"]["category"] == "NURSE"


async def test_nothing_is_written_without_changes_or_regulators(db: Database) -> None:
    assert await stage(db, sanction_change()) == 0
    await add_regulator(db, "卫健委", "https://nhc.example/hooks", WHSEC, ["PHYSICIAN"])
    assert await stage(db) == 0
    assert await rows(db) == []


async def test_the_same_change_has_the_same_id_and_is_written_once(db: Database) -> None:
    imposed = sanction_change()
    # The id is SHA-256 over the RFC 8785 form of the change's identity, so any node computes it alike.
    identity = {
        "practitioner_code": "D520201000001",
        "kind": "SUSPENSION",
        "region_code": "520000",
        "case_number": "黔医保罚〔2026〕1号",
        "change": "imposed",
        "state": "VALID",
        "starts_on": "2026-03-10",
        "ends_on": "2026-07-09",
        "reregistration_allowed_from": None,
    }
    assert message_id(imposed) == "msg_" + hashlib.sha256(rfc8785.dumps(identity)).hexdigest()[:32]
    # What a node may know differently (the person's category or region) does not change the id.
    assert message_id(sanction_change(category=None, practitioner_region="110105")) == message_id(imposed)
    assert message_id(sanction_change(change="lengthened", ends_on=date(2026, 9, 9))) != message_id(imposed)
    assert message_id(sanction_change(state="SUPERSEDED", change="superseded")) != message_id(imposed)

    await add_regulator(db, "卫健委", "https://nhc.example/hooks", WHSEC, ["PHYSICIAN"])
    await add_regulator(db, "药监局", "https://nmpa.example/hooks", RAW, ["PHYSICIAN"])
    assert await stage(db, imposed, imposed) == 2
    assert await stage(db, sanction_change()) == 0  # derived again, e.g. relayed by another node

    written = await rows(db)
    assert [(r["regulator"], r["webhook_id"]) for r in written] == [
        ("卫健委", message_id(imposed)),
        ("药监局", message_id(imposed)),
    ]
    body = json.loads(written[0]["body"])
    assert body["type"] == "sanction.imposed"
    assert written[0]["body"] == message_body(imposed, datetime.fromisoformat(body["timestamp"]))


# --- regulators -----------------------------------------------------------------------------------------------


async def test_bad_regulator_settings_are_refused_with_every_reason(db: Database) -> None:
    with pytest.raises(UserErrors) as refused:
        await add_regulator(
            db, " ", "ftp://nhc.example/hooks", "whsec_not base64!", ["PHYSICIAN", "SURGEON"], ["5", "52x"]
        )
    problems = {(p.field, p.code) for p in refused.value.problems}
    assert problems == {
        (("name",), "INVALID_INPUT"),
        (("url",), "INVALID_INPUT"),
        (("secret",), "INVALID_INPUT"),
        (("categories",), "INVALID_INPUT"),
        (("regions",), "INVALID_CODE"),
    }
    assert any("SURGEON" in p.message and "PHARMACIST" in p.message for p in refused.value.problems)
    with pytest.raises(UserErrors, match="at least one category"):
        await add_regulator(db, "卫健委", "https://nhc.example/hooks", WHSEC, [])
    with pytest.raises(UserErrors, match="secret must not be empty"):
        await add_regulator(db, "卫健委", "https://nhc.example/hooks", "", ["NURSE"])
    with pytest.raises(UserErrors, match="absolute http"):
        await add_regulator(db, "卫健委", "https:///hooks", WHSEC, ["NURSE"])
    assert await list_regulators(db) == []


async def test_a_regulator_is_upserted_by_name(db: Database) -> None:
    url = "https://nhc.example/hooks"
    assert await add_regulator(db, "卫健委", url, WHSEC, ["PHYSICIAN", "NURSE"], ["52", "5001"]) == "added"
    assert await add_regulator(db, "卫健委", url, WHSEC, ["PHYSICIAN", "NURSE"], ["52", "5001"]) == "unchanged"
    assert await add_regulator(db, "卫健委", url + "/v2", RAW, ["PHARMACIST"]) == "updated"
    [regulator] = await list_regulators(db)
    assert (regulator.url, regulator.secret, regulator.categories, regulator.regions) == (
        url + "/v2",
        RAW,
        ["PHARMACIST"],
        None,
    )


# --- committed: several workers, the running node's wake-up, the command line ---------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def committed(engine: AsyncEngine) -> AsyncIterator[Database]:
    """A database whose transactions really commit (other connections see them); emptied afterwards."""
    db = Database(engine)

    async def empty() -> None:
        async with db.transaction() as session:
            await session.execute(text("TRUNCATE regulators CASCADE"))

    await empty()
    yield db
    await empty()


async def test_two_workers_never_send_the_same_row_twice(
    committed: Database, engine: AsyncEngine, http: httpx.AsyncClient, regulator: Any
) -> None:
    hook = await regulator(committed)
    changes = [sanction_change(f"D5202010{i:05d}") for i in range(30)]
    await stage(committed, *changes)
    other = Database(engine)  # a second worker: its own connections, like another process

    now = clock.now()
    for _ in range(30):
        await asyncio.gather(
            deliver_due(committed, http, now, retry_base=1.0, batch=4),
            deliver_due(other, http, now, retry_base=1.0, batch=4),
        )
        if (await regulator_status(committed))[0].pending == 0:
            break
    await other.dispose()

    assert len(hook.requests) == 30 and len(set(hook.requests)) == 30
    assert sorted(hook.accepted_ids()) == sorted(message_id(c) for c in changes)


async def test_adding_a_regulator_wakes_the_running_node(committed: Database, database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url), autocommit=True) as listener:
        await listener.execute("LISTEN registry_config")
        await add_regulator(committed, "卫健委", "https://nhc.example/hooks", WHSEC, ["PHYSICIAN"])
        async with asyncio.timeout(10):
            notification = await anext(listener.notifies())
    assert (notification.channel, notification.payload) == ("registry_config", "regulators")
