"""Eligibility over GraphQL: registration, affiliation, dates, batches, and the one-query guarantee."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event

from registry.db import Database
from registry.points import queries as points_queries
from registry.practitioners import queries as practitioner_queries
from tests import factories as f
from tests.conftest import Client

P = "D520201000001"
H1, H2 = "H52020100001", "H52020100002"


@pytest.fixture
async def world(client: Client) -> str:
    bureau = client.token("bureau", region="520000")
    for code in (H1, H2):
        await client.op("RegisterInstitution", {"input": f.institution(code)}, token=bureau)
    await client.op(
        "RegisterPractitioner", {"input": f.practitioner(P, (H1,), registered_on="2025-01-10")}, token=bureau
    )
    return bureau


async def eligibility(client: Client, token: str, **variables: Any) -> dict[str, Any]:
    return (await client.op("Eligibility", variables, token=token))["eligibility"]


async def test_registered_and_affiliated_is_eligible(client: Client, world: str) -> None:
    inst = client.token("institution", institution=H1)
    answer = await eligibility(client, inst, practitionerCode=P, institutionCode=H1, at="2025-06-03T10:00:00+08:00")
    assert answer == {
        "practitionerCode": P,
        "institutionCode": H1,
        "at": "2025-06-03T10:00:00+08:00",
        "eligible": True,
        "status": "NORMAL",
        "affiliated": True,
        "eligibleAgainOn": None,
        "sanction": None,
    }


async def test_not_affiliated_is_not_eligible(client: Client, world: str) -> None:
    answer = await eligibility(client, world, practitionerCode=P, institutionCode=H2, at="2025-06-03T10:00:00+08:00")
    assert (answer["eligible"], answer["status"], answer["affiliated"]) == (False, "NORMAL", False)


async def test_without_institution_affiliated_is_null(client: Client, world: str) -> None:
    answer = await eligibility(client, world, practitionerCode=P, at="2025-06-03T10:00:00+08:00")
    assert (answer["eligible"], answer["affiliated"]) == (True, None)


async def test_unknown_code_is_an_answer_not_an_error(client: Client, world: str) -> None:
    answer = await eligibility(client, world, practitionerCode="D999999999999", institutionCode=H1)
    assert (answer["eligible"], answer["status"], answer["affiliated"]) == (False, "NOT_REGISTERED", False)


async def test_before_registration_the_day_counts_in_china_time(client: Client, world: str) -> None:
    # 2025-01-09T17:00Z is 01:00 on 10 January in Beijing: the first registered day.
    before = await eligibility(client, world, practitionerCode=P, at="2025-01-09T15:59:00Z")
    after = await eligibility(client, world, practitionerCode=P, at="2025-01-09T17:00:00Z")
    assert (before["status"], before["eligible"]) == ("NOT_REGISTERED", False)
    assert (after["status"], after["eligible"]) == ("NORMAL", True)


async def test_default_moment_is_now(client: Client, world: str) -> None:
    answer = await eligibility(client, world, practitionerCode=P, institutionCode=H1)
    assert answer["eligible"] is True and answer["at"].endswith("+08:00")


async def test_ended_affiliation_counts_only_until_its_last_day(client: Client, world: str) -> None:
    await client.op(
        "EndAffiliation",
        {"input": {"practitionerCode": P, "institutionCode": H1, "endsOn": "2025-03-31"}},
        token=world,
    )
    last = await eligibility(client, world, practitionerCode=P, institutionCode=H1, at="2025-03-31T23:00:00+08:00")
    gone = await eligibility(client, world, practitionerCode=P, institutionCode=H1, at="2025-04-01T00:00:00+08:00")
    assert (last["affiliated"], last["eligible"]) == (True, True)
    assert (gone["affiliated"], gone["eligible"]) == (False, False)


async def test_batch_answers_in_order_with_one_query(
    client: Client, world: str, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = [
        {"practitionerCode": P, "institutionCode": H1, "at": "2025-06-03T10:00:00+08:00"},
        {"practitionerCode": P, "institutionCode": H2, "at": "2025-06-03T10:00:00+08:00"},
        {"practitionerCode": "NOBODY", "at": "2025-06-03T10:00:00+08:00"},
        {"practitionerCode": P, "at": "2024-12-31T10:00:00+08:00"},
    ] * 250
    # Every statement goes through SQLAlchemy (its event sees it) or through the read path, `Database.fetch`.
    statements: list[str] = []
    fetch = Database.fetch

    async def counted_fetch(self: Database, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        statements.append(sql)
        return await fetch(self, sql, params)

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    monkeypatch.setattr(Database, "fetch", counted_fetch)
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        data = await client.op("Eligibilities", {"checks": checks}, token=world)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    answers = data["eligibilities"]
    assert len(answers) == 1000
    assert [(a["eligible"], a["status"], a["affiliated"]) for a in answers[:4]] == [
        (True, "NORMAL", True),
        (False, "NORMAL", False),
        (False, "NOT_REGISTERED", None),
        (False, "NOT_REGISTERED", None),
    ]
    assert answers[4:8] == answers[:4]
    assert len([s for s in statements if "json_to_recordset" in s]) == 1
    assert len(statements) == 1


async def test_batch_over_the_limit_is_a_clear_error(client: Client, world: str) -> None:
    checks = [{"practitionerCode": P}] * 10_001
    response = await client.post(
        "query($c: [EligibilityCheckInput!]!) { eligibilities(checks: $c) { eligible } }",
        {"c": checks},
        token=world,
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_CHECKS"
    assert "at most 10000" in body["errors"][0]["message"]


async def test_practitioner_cannot_check_eligibility(client: Client, world: str) -> None:
    response = await client.post(
        '{ eligibility(practitionerCode: "D520201000001") { eligible } }',
        token=client.token("practitioner", practitioner=P),
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_checks_asked_field_by_field_are_one_statement(
    client: Client, world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[list[str]] = []
    fetch = Database.fetch

    async def counted_fetch(self: Database, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        asked.append([check["code"] for check in json.loads(params["checks"])])
        return await fetch(self, sql, params)

    monkeypatch.setattr(Database, "fetch", counted_fetch)
    data = await client.gql(
        """query($p: String!) {
          a: eligibility(practitionerCode: $p, institutionCode: "H52020100001", at: "2025-06-03T10:00:00+08:00") {
            eligible at }
          b: eligibility(practitionerCode: $p, institutionCode: "H52020100001", at: "2025-06-03T02:00:00Z") { at }
          c: eligibility(practitionerCode: $p, institutionCode: "H52020100001", at: "2025-06-03T10:00:00+08:00") {
            affiliated }
        }""",
        {"p": P},
        token=world,
    )
    # One statement: the same check (a, c) once, the same instant at another offset (b) apart.
    assert asked == [[P, P]]
    assert (data["a"]["at"], data["b"]["at"], data["c"]["affiliated"]) == (
        "2025-06-03T10:00:00+08:00",
        "2025-06-03T02:00:00+00:00",
        True,
    )


async def test_a_persons_sanctions_and_affiliations_asked_twice_are_read_once(
    client: Client, world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    for module, name in ((points_queries, "sanctions_of"), (practitioner_queries, "affiliations_of")):
        read = getattr(module, name)

        async def counted(db: Database, codes: list[str], read: Any = read, name: str = name) -> Any:
            reads.append(name)
            return await read(db, codes)

        monkeypatch.setattr(module, name, counted)
    data = await client.gql(
        """query($p: String!) { practitioner(code: $p) {
          s1: sanctions { kind } s2: sanctions { kind state }
          a1: affiliations { institutionCode } a2: affiliations { institutionCode startsOn } } }""",
        {"p": P},
        token=world,
    )
    assert sorted(reads) == ["affiliations_of", "sanctions_of"]
    record = data["practitioner"]
    assert record["a1"] == [{"institutionCode": H1}] and record["s1"] == record["s2"] == []
