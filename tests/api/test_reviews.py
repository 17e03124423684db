"""Objections, reviews, duplicates, restorations, policies, listings and the event log."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, select

from registry.db import Database
from registry.federation import envelope
from registry.models import (
    Decision,
    FeedEvent,
    Objection,
    PointRecord,
    Restoration,
    Review,
    Sanction,
    SanctionChangeRow,
)
from registry.points.facts import DecisionRecorded
from tests import factories as f
from tests.conftest import Client
from tests.helpers import World, brief, codes, counts, sanction

P, Q = "D520201000001", "D520201000002"
H = "H52020100001"
FACTS = (Decision, PointRecord, Objection, Review, Restoration, Sanction, FeedEvent)


@pytest.fixture
async def world(client: Client) -> World:
    w = World(client)
    await w.institution(H, "520201")
    await w.people(H, "520201", P, Q)
    return w


def key(case: str = "C-1", code: str = P) -> dict[str, str]:
    return {"caseNumber": case, "regionCode": "520201", "practitionerCode": code}


async def test_revoking_lifts_the_termination_at_once(world: World) -> None:
    await world.decide(case="C-1", entries=[(P, 12)], decided_on="2025-03-10")
    result = await world.review(**key(), outcome="REVOKED", reviewedOn="2025-04-01", reason="复核撤销")
    assert result["pointRecord"] == {**key(), "points": 12, "state": "REVOKED"}
    assert brief(result["sanctions"]) == [sanction(P, "TERMINATION", "LIFTED", "2025-03-10", None, "2028-03-10", "C-1")]
    record = await world.record(P, 2025)
    assert (record["points"], record["status"]) == (0, "NORMAL")
    answer = await world.eligibility(P, "2025-03-20T10:00:00+08:00", institutionCode=H)
    assert answer["eligible"] is True


async def test_amending_converts_termination_into_suspension(world: World) -> None:
    await world.decide(case="C-1", entries=[(P, 12)], decided_on="2025-03-10")
    result = await world.review(
        **key(), outcome="AMENDED", points=10, suspensionMonths=2, reviewedOn="2025-04-01", reason="责任程度调整"
    )
    assert result["pointRecord"]["points"] == 10 and result["pointRecord"]["state"] == "VALID"
    assert brief(result["sanctions"]) == [
        sanction(P, "SUSPENSION", "VALID", "2025-03-10", "2025-05-09", None, "C-1"),
        sanction(P, "TERMINATION", "LIFTED", "2025-03-10", None, "2028-03-10", "C-1"),
    ]
    assert (await world.record(P, 2025))["points"] == 10


async def test_revoking_the_later_decision_restores_the_suspension(world: World) -> None:
    await world.decide(case="C-1", entries=[(P, 10)], decided_on="2025-02-15")
    await world.decide(case="C-2", entries=[(P, 4)], decided_on="2025-05-20")
    result = await world.review(**key("C-2"), outcome="REVOKED", reviewedOn="2025-06-01", reason="证据不足")
    assert brief(result["sanctions"]) == [
        sanction(P, "SUSPENSION", "VALID", "2025-02-15", "2025-06-14", None, "C-1"),
        sanction(P, "TERMINATION", "LIFTED", "2025-05-20", None, "2026-05-20", "C-2"),
    ]


async def test_a_later_decision_lengthens_a_running_suspension(world: World) -> None:
    await world.decide(case="C-1", entries=[(P, 5)], decided_on="2025-01-10")
    first = await world.decide(case="C-2", entries=[(P, 4)], decided_on="2025-03-01")
    # 9 accumulated: 1 month by default.
    assert brief(first["sanctions"]) == [sanction(P, "SUSPENSION", "VALID", "2025-03-01", "2025-03-31", None, "C-2")]
    second = await world.decide(case="C-3", entries=[(P, 2)], decided_on="2025-03-20")
    # 11 accumulated: 3 months, still from the original start.
    assert brief(second["sanctions"]) == [sanction(P, "SUSPENSION", "VALID", "2025-03-01", "2025-05-31", None, "C-2")]


async def test_a_sanction_runs_across_the_new_year_while_points_reset(world: World) -> None:
    await world.decide(case="C-1", entries=[(P, 11)], decided_on="2025-11-20")
    january = await world.eligibility(P, "2026-01-15T10:00:00+08:00")
    assert (january["status"], january["eligibleAgainOn"]) == ("SUSPENDED", "2026-05-20")
    assert (await world.record(P, 2026))["points"] == 0
    assert (await world.record(P, 2025))["points"] == 11


async def test_objection_marks_the_record_disputed_and_points_still_count(world: World, client: Client) -> None:
    await world.decide(case="C-1", entries=[(P, 9)], decided_on="2025-03-10")
    own = client.token("practitioner", practitioner=P)
    data = await client.op("FileObjection", {"input": {**key(), "statement": "我没有参与"}}, token=own)
    assert data["fileObjection"] == {"pointRecord": {**key(), "points": 9, "state": "DISPUTED"}, "userErrors": []}
    record = await world.record(P, 2025)
    assert record["points"] == 9 and record["status"] in ("SUSPENDED", "NORMAL")
    assert record["pointRecords"][0]["state"] == "DISPUTED"
    upheld = await world.review(**key(), outcome="UPHELD", reviewedOn="2025-04-01", reason="维持")
    assert upheld["pointRecord"]["state"] == "VALID" and upheld["sanctions"] == []
    other = client.token("practitioner", practitioner=Q)
    refused = await client.op("FileObjection", {"input": {**key(), "statement": "x"}}, token=other)
    assert codes(refused["fileObjection"]) == ["FORBIDDEN"]


async def test_resending_a_decision_changes_nothing_and_other_content_is_a_duplicate(
    world: World, db: Database
) -> None:
    first = await world.decide(case="C-1", entries=[(P, 10)], decided_on="2025-03-10")
    before = await counts(db, FACTS)
    again = await world.decide(case="C-1", entries=[(P, 10)], decided_on="2025-03-10")
    assert again["decision"] == first["decision"] and again["userErrors"] == [] and again["sanctions"] == []
    assert await counts(db, FACTS) == before
    other = await world.decide(case="C-1", entries=[(P, 11)], decided_on="2025-03-10")
    assert codes(other) == ["DUPLICATE_CASE_NUMBER"] and other["decision"] is None
    # The same number in another bureau's region is another case.
    await world.institution("H52010100001", "520101")
    elsewhere = await world.decide(
        case="C-1", entries=[(P, 1)], decided_on="2025-03-10", region="520101", institution="H52010100001"
    )
    assert elsewhere["userErrors"] == []
    assert await counts(db, FACTS) != before


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"entries": [{"practitionerCode": P, "points": 13, "responsibility": "MAIN"}]}, "POINTS_OUT_OF_RANGE"),
        ({"entries": [{"practitionerCode": P, "points": 0, "responsibility": "MAIN"}]}, "POINTS_OUT_OF_RANGE"),
        (
            {"entries": [{"practitionerCode": P, "points": 10, "responsibility": "MAIN", "suspensionMonths": 7}]},
            "SUSPENSION_MONTHS_OUT_OF_RANGE",
        ),
        (
            {"entries": [{"practitionerCode": P, "points": 10, "responsibility": "MAIN", "suspensionMonths": 0}]},
            "SUSPENSION_MONTHS_OUT_OF_RANGE",
        ),
        (
            {"entries": [{"practitionerCode": "D520201999999", "points": 3, "responsibility": "MAIN"}]},
            "UNKNOWN_PRACTITIONER",
        ),
        ({"entries": []}, "INVALID_INPUT"),
        ({"institutionCode": "H52020199999"}, "UNKNOWN_INSTITUTION"),
        ({"institutionCode": "H999"}, "INVALID_CODE"),
        ({"decidedOn": "2099-01-01"}, "DATE_IN_FUTURE"),
        ({"regionCode": "5202"}, "INVALID_CODE"),
        ({"caseNumber": " "}, "INVALID_INPUT"),
        ({"conductFrom": "2025-02-01", "conductTo": "2025-01-01"}, "INVALID_INPUT"),
        ({"amountInvolved": "-1.00"}, "INVALID_INPUT"),
    ],
)
async def test_bad_decisions_are_refused_and_write_nothing(
    world: World, db: Database, change: dict[str, Any], code: str
) -> None:
    # A valid first entry makes sure nothing of a partly good decision is kept.
    await world.decide(case="C-0", entries=[(Q, 3)], decided_on="2025-01-05")
    before = await counts(db, FACTS)
    body = {**f.decision("C-1", [(Q, 5)], "2025-03-10"), **change}
    if change.get("entries"):
        body["entries"] = [{"practitionerCode": Q, "points": 5, "responsibility": "MAIN"}, *change["entries"]]
    data = await world.client.op("RecordDecision", {"input": body}, token=world.national)
    assert codes(data["recordDecision"]) == [code]
    assert await counts(db, FACTS) == before


async def test_bureau_decides_only_in_its_region(world: World, client: Client, db: Database) -> None:
    before = await counts(db, FACTS)
    other = client.token("bureau", region="530000")
    result = await world.decide(other, case="C-1", entries=[(P, 3)], decided_on="2025-03-10")
    assert codes(result) == ["FORBIDDEN"]
    institution = client.token("institution", institution=H)
    assert codes(await world.decide(institution, case="C-1", entries=[(P, 3)], decided_on="2025-03-10")) == [
        "FORBIDDEN"
    ]
    assert await counts(db, FACTS) == before
    own = client.token("bureau", region="520000")
    assert codes(await world.decide(own, case="C-1", entries=[(P, 3)], decided_on="2025-03-10")) == []


async def test_review_errors(world: World, db: Database) -> None:
    await world.decide(case="C-1", entries=[(P, 5)], decided_on="2025-03-10")
    before = await counts(db, FACTS)
    cases = [
        ({**key("C-9"), "outcome": "UPHELD"}, "UNKNOWN_POINT_RECORD"),
        ({**key(), "outcome": "AMENDED"}, "INVALID_INPUT"),
        ({**key(), "outcome": "AMENDED", "points": 13}, "POINTS_OUT_OF_RANGE"),
        ({**key(), "outcome": "AMENDED", "points": 10, "suspensionMonths": 9}, "SUSPENSION_MONTHS_OUT_OF_RANGE"),
        ({**key(), "outcome": "UPHELD", "reviewedOn": "2099-01-01"}, "DATE_IN_FUTURE"),
    ]
    for change, code in cases:
        body = {"reviewedOn": "2025-04-01", "reason": "r", **change}
        assert codes(await world.review(**body)) == [code], change
    assert await counts(db, FACTS) == before
    await world.review(**key(), outcome="REVOKED", reviewedOn="2025-04-01", reason="r")
    assert codes(await world.review(**key(), outcome="UPHELD", reviewedOn="2025-04-02", reason="r")) == [
        "POINT_RECORD_REVOKED"
    ]


async def test_restoration_follows_the_policy(world: World) -> None:
    assert codes(await world.restore("520201", "2025-05-01")) == ["RESTORATION_NOT_ALLOWED"]  # P, nationally
    await world.local_person("120101")
    await world.decide_local("120101", "津-1", 8, "2025-03-01")
    totals = []
    for day in range(1, 6):
        payload = await world.restore("120101", f"2025-06-0{day}")
        totals.append(payload["points"] or codes(payload))
    assert totals == [7, 6, 5, 4, ["RESTORATION_CAP_EXCEEDED"]]
    # With 4 points left, 4 more make 8: no sanction (without the restorations they would have made 12).
    later = await world.decide_local("120101", "津-2", 4, "2025-07-01")
    assert later["sanctions"] == []
    assert (await world.record("D120101000001", 2025))["points"] == 8


async def test_no_restoration_after_termination(world: World) -> None:
    await world.local_person("120101")
    await world.decide_local("120101", "津-1", 12, "2025-03-01")
    assert codes(await world.restore("120101", "2025-06-01")) == ["RESTORATION_AFTER_TERMINATION"]


async def test_beijing_exempts_emergencies_during_termination(world: World) -> None:
    await world.local_person("110101")
    await world.decide_local("110101", "京-1", 12, "2025-03-01")
    routine = await world.eligibility("D110101000001", "2025-04-01T10:00:00+08:00", institutionCode="H11010100001")
    rescue = await world.eligibility(
        "D110101000001", "2025-04-01T10:00:00+08:00", institutionCode="H11010100001", emergency=True
    )
    assert (routine["eligible"], rescue["eligible"], rescue["status"]) == (False, True, "TERMINATED")


async def test_policy_query_shows_the_policy_in_force(client: Client, world: World) -> None:
    tianjin = (await client.op("Policy", {"regionCode": "120101", "on": "2025-06-01"}, token=world.national))["policy"]
    national = (await client.op("Policy", {"regionCode": "520201", "on": "2025-06-01"}, token=world.national))["policy"]
    assert tianjin["jurisdiction"] == "12" and national["jurisdiction"] == "national"
    assert tianjin["rules"]["restoration_cap_per_year"] == 4
    assert national["rules"]["restoration_cap_per_year"] == 0
    assert national["rules"]["max_suspension_months"] == 6


async def test_listings_are_paginated_filtered_and_scoped(client: Client, world: World) -> None:
    for i in range(5):
        await world.decide(case=f"C-{i}", entries=[(P, 1)], decided_on=f"2025-0{i + 1}-10")
    bureau = client.token("bureau", region="520000")
    seen: list[str] = []
    after = None
    while True:
        page = (await client.op("Decisions", {"first": 2, "after": after}, token=bureau))["decisions"]
        seen += [e["node"]["caseNumber"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["C-4", "C-3", "C-2", "C-1", "C-0"]
    ranged = await client.op("Decisions", {"filter": {"fromDate": "2025-02-01", "toDate": "2025-03-31"}}, token=bureau)
    assert [e["node"]["caseNumber"] for e in ranged["decisions"]["edges"]] == ["C-2", "C-1"]
    bad = await client.post('{ decisions(after: "nonsense") { edges { cursor } } }', token=bureau)
    assert bad.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    elsewhere = client.token("bureau", region="530000")
    assert (await client.op("Decisions", {}, token=elsewhere))["decisions"]["edges"] == []
    await world.decide(case="C-9", entries=[(Q, 12)], decided_on="2025-06-10")
    sanctions = await client.op("Sanctions", {"filter": {"kind": "TERMINATION"}}, token=bureau)
    assert [e["node"]["practitionerCode"] for e in sanctions["sanctions"]["edges"]] == [Q]


async def test_every_fact_is_logged_gaplessly_and_every_sanction_change_kept(world: World, db: Database) -> None:
    await world.decide(case="C-1", entries=[(P, 10)], decided_on="2025-02-15")
    await world.decide(case="C-bad", entries=[(P, 99)], decided_on="2025-02-15")  # refused: no event
    await world.decide(case="C-2", entries=[(P, 4)], decided_on="2025-05-20")
    async with db.reader() as conn:
        rows = (
            await conn.execute(select(FeedEvent.seq, FeedEvent.type, FeedEvent.actor).order_by(FeedEvent.seq))
        ).all()
        changes = (
            await conn.execute(select(SanctionChangeRow.change, SanctionChangeRow.kind).order_by(SanctionChangeRow.id))
        ).all()
    assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + len(rows)))
    assert [r.type for r in rows][-2:] == ["decision.recorded", "decision.recorded"]
    assert all(r.actor == "national" for r in rows)
    assert [(c.change, c.kind) for c in changes][-3:] == [
        ("imposed", "SUSPENSION"),
        ("superseded", "SUSPENSION"),
        ("imposed", "TERMINATION"),
    ]


async def test_objection_to_an_unknown_or_revoked_record(world: World, client: Client, db: Database) -> None:
    own = client.token("practitioner", practitioner=P)
    unknown = await client.op("FileObjection", {"input": {**key("C-404"), "statement": "?"}}, token=own)
    assert codes(unknown["fileObjection"]) == ["UNKNOWN_POINT_RECORD"]
    await world.decide(case="C-1", entries=[(P, 3)], decided_on="2025-03-10")
    await world.review(**key(), outcome="REVOKED", reviewedOn="2025-04-01", reason="r")
    before = await counts(db, FACTS)
    revoked = await client.op("FileObjection", {"input": {**key(), "statement": "?"}}, token=own)
    assert codes(revoked["fileObjection"]) == ["POINT_RECORD_REVOKED"]
    assert await counts(db, FACTS) == before


async def test_practitioner_and_regulator_read_what_their_role_allows(world: World, client: Client) -> None:
    await world.decide(case="C-1", entries=[(P, 12)], decided_on="2025-03-10")
    own = client.token("practitioner", practitioner=P)
    record = (await client.op("Practitioner", {"code": P, "year": 2025}, token=own))["practitioner"]
    assert (record["points"], record["status"], record["sanctions"][0]["kind"]) == (12, "TERMINATED", "TERMINATION")
    regulator = client.token("regulator")
    listed = await client.op("Sanctions", {"filter": {"kind": "TERMINATION"}}, token=regulator)
    assert [e["node"]["practitionerCode"] for e in listed["sanctions"]["edges"]] == [P]
    refused = await client.post("{ sanctions { edges { cursor } } }", token=own)
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_deregistering_does_not_escape_a_running_suspension(world: World, client: Client) -> None:
    await world.decide(case="C-1", entries=[(P, 11)], decided_on="2025-03-10")
    await client.op(
        "DeregisterPractitioner",
        {"input": {"practitionerCode": P, "endsOn": "2025-04-01", "reason": "left"}},
        token=world.national,
    )
    again = f.practitioner(P, (H,), "520201", registered_on="2025-04-02", serial="000")
    data = await client.op("RegisterPractitioner", {"input": again}, token=world.national)
    assert data["registerPractitioner"]["userErrors"] == []
    answer = await world.eligibility(P, "2025-05-01T10:00:00+08:00", institutionCode=H)
    assert (answer["eligible"], answer["status"], answer["eligibleAgainOn"]) == (False, "SUSPENDED", "2025-09-10")


async def test_tianjin_flags_an_interview_from_six_points(world: World, client: Client) -> None:
    await world.local_person("120101")
    query = "query($c: String!) { practitioner(code: $c) { points(year: 2025) interviewRequired(year: 2025) } }"
    await world.decide_local("120101", "津-1", 5, "2025-03-01")
    assert (await client.gql(query, {"c": "D120101000001"}, token=world.national))["practitioner"] == {
        "points": 5,
        "interviewRequired": False,
    }
    await world.decide_local("120101", "津-2", 1, "2025-04-01")
    assert (await client.gql(query, {"c": "D120101000001"}, token=world.national))["practitioner"] == {
        "points": 6,
        "interviewRequired": True,
    }
    await world.decide(case="C-6", entries=[(P, 6)], decided_on="2025-04-01")
    national = (await client.gql(query, {"c": P}, token=world.national))["practitioner"]
    assert national == {"points": 6, "interviewRequired": False}


async def test_answers_name_the_policy_they_used(world: World, client: Client) -> None:
    await world.local_person("110101")
    await world.decide_local("110101", "京-1", 10, "2025-03-01")
    query = """query($c: String!, $at: DateTime) { eligibility(practitionerCode: $c, at: $at) {
        policyVersion sanction { policyVersion } } }"""
    beijing = await client.gql(query, {"c": "D110101000001", "at": "2025-04-01T10:00:00+08:00"}, token=world.national)
    assert beijing["eligibility"] == {
        "policyVersion": "beijing-2025.1",
        "sanction": {"policyVersion": "beijing-2025.1"},
    }
    national = await client.gql(query, {"c": P, "at": "2025-04-01T10:00:00+08:00"}, token=world.national)
    assert national["eligibility"] == {"policyVersion": "national-2025.1", "sanction": None}
    nobody = await client.gql(query, {"c": "NOBODY"}, token=world.national)
    assert nobody["eligibility"] == {"policyVersion": None, "sanction": None}


async def test_one_request_replays_a_person_year_once(world: World, client: Client, engine: Any) -> None:
    await world.decide(case="C-1", entries=[(P, 5)], decided_on="2025-03-10")
    await world.decide(case="C-2", entries=[(P, 1)], decided_on="2024-03-10")
    query = """query($c: String!) { practitioner(code: $c) {
        points(year: 2025) interviewRequired(year: 2025) pointRecords(year: 2025) { points }
        last: points(year: 2024) } }"""
    replays: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM restorations" in statement:  # read once by each replay of a person-year
            replays.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        data = await client.gql(query, {"c": P}, token=world.national)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert data["practitioner"] == {
        "points": 5,
        "interviewRequired": False,
        "pointRecords": [{"points": 5}],
        "last": 1,
    }
    assert len(replays) == 2  # 2025 once for its three fields, 2024 once


async def test_user_errors_name_the_graphql_field(world: World) -> None:
    body = f.decision("C-1", [(P, 5), (Q, 13, 7)], "2025-03-10")
    data = await world.client.op("RecordDecision", {"input": body}, token=world.national)
    assert [(e["code"], e["field"]) for e in data["recordDecision"]["userErrors"]] == [
        ("POINTS_OUT_OF_RANGE", ["input", "entries", "1", "points"]),
        ("SUSPENSION_MONTHS_OUT_OF_RANGE", ["input", "entries", "1", "suspensionMonths"]),
    ]
    unknown = await world.decide(case="C-1", entries=[(P, 5), ("D520201999999", 1)], decided_on="2025-03-10")
    assert [(e["code"], e["field"]) for e in unknown["userErrors"]] == [
        ("UNKNOWN_PRACTITIONER", ["input", "entries", "1", "practitionerCode"])
    ]


async def test_the_log_holds_each_fact_in_its_wire_form(world: World, db: Database) -> None:
    case = "黔医保罚〔2025〕" + "9" * 53 + "号"  # the longest case number: 64 characters
    assert len(case) == 64
    result = await world.decide(case=case, entries=[(Q, 9), (P, 12)], decided_on="2025-03-10", amountInvolved="12.5")
    assert result["userErrors"] == []
    async with db.reader() as conn:
        query = select(FeedEvent.type, FeedEvent.envelope).order_by(FeedEvent.position.desc()).limit(1)
        decision = (await conn.execute(query)).one()
        columns = (SanctionChangeRow.practitioner_code, SanctionChangeRow.change, SanctionChangeRow.kind)
        query = select(*columns, SanctionChangeRow.reregistration_allowed_from).order_by(SanctionChangeRow.id.desc())
        changes = (await conn.execute(query.limit(2))).all()
    sealed = envelope.parse_event(decision.envelope)
    assert (decision.type, sealed.v, sealed.type) == ("decision.recorded", 1, "decision.recorded")
    assert sealed.fact == {
        "case_number": case,
        "region_code": "520201",
        "institution_code": H,
        "basis": "ADMINISTRATIVE_PENALTY",
        "decided_on": "2025-03-10",
        "conduct_from": None,
        "conduct_to": None,
        "behaviour": "虚构医疗服务",
        "amount_involved": "12.50",
        "entries": [
            {"practitioner_code": P, "points": 12, "responsibility": "MAIN", "suspension_months": None},
            {"practitioner_code": Q, "points": 9, "responsibility": "MAIN", "suspension_months": None},
        ],
    }
    assert DecisionRecorded.from_wire(sealed.fact).wire() == sealed.fact
    assert sorted((c.practitioner_code, c.change, c.kind, c.reregistration_allowed_from) for c in changes) == [
        (P, "imposed", "TERMINATION", date(2028, 3, 10)),
        (Q, "imposed", "SUSPENSION", None),
    ]
