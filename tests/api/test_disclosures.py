"""Disclosure accounting: every read of a practitioner's record or eligibility is one row (a batch too), and the
practitioner can ask who read them, newest first (`myDisclosures`)."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
from sqlalchemy import func, select, text

from registry.auth import Actor, Role
from registry.db import Database, make_engine
from registry.disclosures import Disclosure, DisclosureKind, DisclosureLog
from tests.conftest import Client

P, Q = "D520201000001", "D520201000002"
MINE = "query($first: Int) { myDisclosures(first: $first) { edges { node { at } } } }"


def jti(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


async def rows(db: Database) -> list[Disclosure]:
    async with db.transaction() as session:
        return list((await session.scalars(select(Disclosure).order_by(Disclosure.id))).all())


async def mine(client: Client, code: str, **variables: Any) -> dict[str, Any]:
    token = client.token("practitioner", practitioner=code)
    return (await client.op("MyDisclosures", variables, token=token))["myDisclosures"]


async def test_each_read_is_one_row_and_the_practitioner_sees_who_read_them(client: Client, db: Database) -> None:
    institution = client.token("institution", institution="H52020100001")
    bureau = client.token("bureau", region="520000")
    await client.op("Eligibility", {"practitionerCode": P}, token=institution)
    checks = [{"practitionerCode": c} for c in (P, Q, P, "X" * 21, "D-1")]
    await client.op("Eligibilities", {"checks": checks}, token=bureau)
    await client.op("Practitioner", {"code": Q, "year": 2025}, token=client.token("national"))

    seen = await mine(client, P)  # it writes this process's buffered reads first
    stored = await rows(db)
    assert [(r.kind, r.role, r.scope, r.token_id, r.practitioner_codes) for r in stored] == [
        (DisclosureKind.ELIGIBILITY, "institution", "H52020100001", jti(institution), [P]),
        # One row for the whole batch: each code once; strings that cannot be a code name nobody.
        (DisclosureKind.ELIGIBILITIES, "bureau", "520000", jti(bureau), [P, Q]),
        (DisclosureKind.PRACTITIONER, "national", None, stored[2].token_id, [Q]),
    ]
    assert [
        (e["node"]["kind"], e["node"]["role"], e["node"]["scope"], e["node"]["tokenId"]) for e in seen["edges"]
    ] == [
        ("ELIGIBILITIES", "BUREAU", "520000", jti(bureau)),
        ("ELIGIBILITY", "INSTITUTION", "H52020100001", jti(institution)),
    ]
    assert [e["node"]["kind"] for e in (await mine(client, Q))["edges"]] == ["PRACTITIONER", "ELIGIBILITIES"]


async def test_my_disclosures_pages_newest_first(client: Client) -> None:
    institution = client.token("institution", institution="H52020100001")
    for at in ("2025-01-01T00:00:00+08:00", "2025-02-01T00:00:00+08:00", "2025-03-01T00:00:00+08:00"):
        await client.op("Eligibility", {"practitionerCode": P, "at": at}, token=institution)
    first = await mine(client, P, first=2)
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"] is True
    rest = await mine(client, P, first=2, after=first["pageInfo"]["endCursor"])
    assert len(rest["edges"]) == 1 and rest["pageInfo"]["hasNextPage"] is False
    moments = [e["node"]["at"] for e in first["edges"] + rest["edges"]]
    assert moments == sorted(moments, reverse=True)


async def test_only_practitioners_ask_and_refused_reads_disclose_nothing(client: Client, db: Database) -> None:
    for role, scope in (("national", {}), ("bureau", {"region": "520000"}), ("regulator", {})):
        body = (await client.post(MINE, token=client.token(role, **scope))).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A practitioner may neither read another's record nor check eligibility: nothing was disclosed.
    other = client.token("practitioner", practitioner=Q)
    for read in (
        "query($c: String!) { practitioner(code: $c) { name } }",
        "query($c: String!) { eligibility(practitionerCode: $c) { eligible } }",
    ):
        body = (await client.post(read, {"c": P}, token=other)).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    assert await rows(db) == []
    assert (await mine(client, P))["edges"] == []


async def test_who_looked_me_up_is_answered_by_the_gin_index(db: Database) -> None:
    async with db.reader() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))  # the table is tiny here: ask for the index
        plan = (
            await conn.execute(
                text("EXPLAIN SELECT id FROM disclosures WHERE practitioner_codes @> ARRAY[:c] ORDER BY id DESC"),
                {"c": P},
            )
        ).scalars()
        assert "ix_disclosures_practitioner_codes" in "\n".join(plan)


async def test_buffered_reads_are_written_by_the_background_task_or_on_flush(db: Database) -> None:
    actor = Actor(Role.REGULATOR, token_id="t1")
    log = DisclosureLog(db, flush_ms=200)
    await log.record(actor, DisclosureKind.ELIGIBILITY, [P])
    assert await rows(db) == []  # only buffered
    await log.flush()
    assert [r.practitioner_codes for r in await rows(db)] == [[P]]

    at_once = DisclosureLog(db, flush_ms=0)  # written before the read is answered
    await at_once.record(actor, DisclosureKind.ELIGIBILITY, [Q])
    assert [r.practitioner_codes for r in await rows(db)] == [[P], [Q]]


async def test_reads_are_kept_while_the_database_is_away(db: Database) -> None:
    away = Database(make_engine("postgresql://nobody@127.0.0.1:1/registry?connect_timeout=1"))  # refused
    log = DisclosureLog(away, flush_ms=200)
    await log.record(Actor(Role.NATIONAL), DisclosureKind.PRACTITIONER, [P])
    try:
        await log.flush()
    except Exception:
        pass
    else:
        raise AssertionError("an unreachable database accepted the reads")
    finally:
        await away.dispose()
    log.db = db  # the database is back
    await log.flush()
    async with db.reader() as conn:
        assert await conn.scalar(select(func.count()).select_from(Disclosure)) == 1


async def test_the_background_task_writes_the_buffer_every_interval(db: Database) -> None:
    log = DisclosureLog(db, flush_ms=20)
    writer = asyncio.create_task(log.run())
    try:
        await log.record(Actor(Role.NATIONAL, token_id="t2"), DisclosureKind.PRACTITIONER, [P])
        for _ in range(200):  # at most 10 s; it takes one interval
            if await rows(db):
                break
            await asyncio.sleep(0.05)
        assert [(r.kind, r.token_id) for r in await rows(db)] == [(DisclosureKind.PRACTITIONER, "t2")]
    finally:
        writer.cancel()
