"""Registration over GraphQL: institutions, practitioners, affiliations, and every bad input."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from registry.db import Database
from registry.models import Affiliation, FeedEvent, Institution, Practitioner, Registration
from tests import factories as f
from tests.conftest import Client
from tests.helpers import codes, counts

TABLES = (Institution, Practitioner, Registration, Affiliation, FeedEvent)


@pytest.fixture
def bureau(client: Client) -> str:
    return client.token("bureau", region="520000")


async def register_institution(client: Client, token: str, **kw: Any) -> dict[str, Any]:
    data = await client.op("RegisterInstitution", {"input": f.institution(**kw)}, token=token)
    return data["registerInstitution"]


async def register_practitioner(client: Client, token: str, **kw: Any) -> dict[str, Any]:
    data = await client.op("RegisterPractitioner", {"input": f.practitioner(**kw)}, token=token)
    return data["registerPractitioner"]


async def test_bureau_registers_institution_and_resend_is_idempotent(client: Client, bureau: str, db: Database) -> None:
    first = await register_institution(client, bureau)
    assert first == {
        "institution": {
            "code": "H52020100001",
            "name": "Institution H52020100001",
            "kind": "MEDICAL_INSTITUTION",
            "regionCode": "520201",
        },
        "userErrors": [],
    }
    before = await counts(db, TABLES)
    assert await register_institution(client, bureau) == first
    assert await counts(db, TABLES) == before
    other = await register_institution(client, bureau, name="Another name")
    assert codes(other) == ["ALREADY_REGISTERED"]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"code": "H5202010000"}, "INVALID_CODE", ["input", "code"]),
        ({"code": "X52020100001"}, "INVALID_CODE", ["input", "code"]),
        ({"code": "P52020100001", "kind": "MEDICAL_INSTITUTION"}, "INVALID_CODE", ["input", "code"]),
        ({"regionCode": "52020"}, "INVALID_CODE", ["input", "regionCode"]),
        ({"regionCode": "990101"}, "INVALID_CODE", ["input", "regionCode"]),
        ({"name": "  "}, "INVALID_INPUT", ["input", "name"]),
        ({"regionCode": "530101"}, "FORBIDDEN", None),
    ],
)
async def test_bad_institution_input_is_refused_and_writes_nothing(
    client: Client, bureau: str, db: Database, change: dict[str, Any], code: str, field: list[str] | None
) -> None:
    before = await counts(db, TABLES)
    data = await client.op("RegisterInstitution", {"input": {**f.institution(), **change}}, token=bureau)
    payload = data["registerInstitution"]
    assert payload["institution"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert await counts(db, TABLES) == before


async def test_institution_registers_itself_but_not_another(client: Client) -> None:
    own = client.token("institution", institution="H52020100001")
    assert codes(await register_institution(client, own)) == []
    assert codes(await register_institution(client, own, code="H52020100002")) == ["FORBIDDEN"]


async def test_city_bureau_scope(client: Client) -> None:
    city = client.token("bureau", region="520200")
    assert codes(await register_institution(client, city, code="H52020100001", region="520201")) == []
    assert codes(await register_institution(client, city, code="H52030100001", region="520301")) == ["FORBIDDEN"]


async def test_register_practitioner_at_several_institutions(client: Client, bureau: str) -> None:
    await register_institution(client, bureau)
    await register_institution(client, bureau, code="P52020100002")
    payload = await register_practitioner(client, bureau, institutions=("H52020100001", "P52020100002"))
    assert payload["userErrors"] == []
    assert payload["practitioner"] == {
        "code": "D520201000001",
        "name": "张医生",
        "category": "PHYSICIAN",
        "regionCode": "520201",
        "status": "NORMAL",
        "affiliations": [
            {"institutionCode": "H52020100001", "startsOn": "2024-06-01", "endsOn": None},
            {"institutionCode": "P52020100002", "startsOn": "2024-06-01", "endsOn": None},
        ],
    }


async def test_resident_id_is_never_stored_in_clear(client: Client, bureau: str, db: Database) -> None:
    await register_institution(client, bureau)
    number = f.resident_id("520201", serial="456")
    await register_practitioner(client, bureau, serial="456")
    async with db.reader() as conn:
        dump = (
            await conn.execute(
                text(
                    "SELECT string_agg(t::text, ' ') FROM (SELECT p::text AS t FROM practitioners p "
                    "UNION ALL SELECT e::text FROM events e) x"
                )
            )
        ).scalar_one()
    assert number not in dump and number[:17] not in dump
    assert "5202**********456" in dump


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"code": "D-520201"}, "INVALID_CODE", ["input", "code"]),
        ({"code": "D" * 21}, "INVALID_CODE", ["input", "code"]),
        ({"idNumber": "52020119800101123"}, "INVALID_ID_NUMBER", ["input", "idNumber"]),
        (
            {"idNumber": f.resident_id()[:17] + ("0" if f.resident_id()[17] != "0" else "1")},
            "INVALID_ID_NUMBER",
            ["input", "idNumber"],
        ),
        ({"idNumber": f.resident_id(birth="19801301")}, "INVALID_ID_NUMBER", ["input", "idNumber"]),
        ({"regionCode": "5202"}, "INVALID_CODE", ["input", "regionCode"]),
        ({"institutionCodes": []}, "INVALID_INPUT", ["input", "institutionCodes"]),
        ({"institutionCodes": ["H1"]}, "INVALID_CODE", ["input", "institutionCodes", "0"]),
        ({"institutionCodes": ["H52020199999"]}, "UNKNOWN_INSTITUTION", ["input", "institutionCodes", "0"]),
        ({"registeredOn": "2099-01-01"}, "DATE_IN_FUTURE", ["input", "registeredOn"]),
        ({"name": ""}, "INVALID_INPUT", ["input", "name"]),
    ],
)
async def test_bad_practitioner_input_is_refused_and_writes_nothing(
    client: Client, bureau: str, db: Database, change: dict[str, Any], code: str, field: list[str]
) -> None:
    await register_institution(client, bureau)
    before = await counts(db, TABLES)
    data = await client.op("RegisterPractitioner", {"input": {**f.practitioner(), **change}}, token=bureau)
    payload = data["registerPractitioner"]
    assert payload["practitioner"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert await counts(db, TABLES) == before


async def test_several_problems_are_reported_together(client: Client, bureau: str) -> None:
    bad = {**f.practitioner(), "code": "?", "idNumber": "1", "registeredOn": "2099-01-01"}
    payload = (await client.op("RegisterPractitioner", {"input": bad}, token=bureau))["registerPractitioner"]
    assert sorted(codes(payload)) == ["DATE_IN_FUTURE", "INVALID_CODE", "INVALID_ID_NUMBER"]


async def test_registering_twice_is_refused(client: Client, bureau: str, db: Database) -> None:
    await register_institution(client, bureau)
    await register_practitioner(client, bureau)
    before = await counts(db, TABLES)
    assert codes(await register_practitioner(client, bureau)) == ["ALREADY_REGISTERED"]
    assert codes(await register_practitioner(client, bureau, serial="999")) == ["ALREADY_REGISTERED"]
    # The same person under a second code would split their points.
    second = await register_practitioner(client, bureau, code="D520201000777")
    assert [(e["code"], e["field"]) for e in second["userErrors"]] == [("ALREADY_REGISTERED", ["input", "idNumber"])]
    assert await counts(db, TABLES) == before


async def test_institution_registers_only_its_own_staff(client: Client, bureau: str) -> None:
    await register_institution(client, bureau)
    await register_institution(client, bureau, code="H52020100002")
    own = client.token("institution", institution="H52020100001")
    assert codes(await register_practitioner(client, own, institutions=("H52020100002",))) == ["FORBIDDEN"]
    assert codes(await register_practitioner(client, own)) == []


@pytest.mark.parametrize("role", [("practitioner", {"practitioner": "D520201000001"}), ("regulator", {})])
async def test_readers_cannot_register(client: Client, bureau: str, role: tuple[str, dict[str, str]]) -> None:
    await register_institution(client, bureau)
    token = client.token(role[0], **role[1])
    assert codes(await register_practitioner(client, token)) == ["FORBIDDEN"]
    assert codes(await register_institution(client, token, code="H52020100009")) == ["FORBIDDEN"]


async def affiliation(
    client: Client, token: str, operation: str, day: str, practitioner: str = "D520201000001"
) -> dict[str, Any]:
    """AddAffiliation (day: startsOn) or EndAffiliation (day: endsOn) with H52010100003."""
    day_field = "startsOn" if operation == "AddAffiliation" else "endsOn"
    variables = {"input": {"practitionerCode": practitioner, "institutionCode": "H52010100003", day_field: day}}
    data = await client.op(operation, variables, token=token)
    return data[operation[0].lower() + operation[1:]]


async def test_affiliations_can_be_added_and_ended(client: Client, bureau: str) -> None:
    await register_institution(client, bureau)
    await register_institution(client, bureau, code="H52010100003", region="520101")
    await register_practitioner(client, bureau)
    added = await affiliation(client, bureau, "AddAffiliation", "2025-01-01")
    assert added == {
        "affiliation": {"institutionCode": "H52010100003", "startsOn": "2025-01-01", "endsOn": None},
        "userErrors": [],
    }
    again = await affiliation(client, bureau, "AddAffiliation", "2025-02-01")
    assert codes(again) == ["ALREADY_REGISTERED"]
    ended = await affiliation(client, bureau, "EndAffiliation", "2025-03-31")
    assert ended["affiliation"]["endsOn"] == "2025-03-31"
    unknown = await affiliation(client, bureau, "AddAffiliation", "2025-01-01", practitioner="D520201009999")
    assert codes(unknown) == ["UNKNOWN_PRACTITIONER"]
    other_inst = client.token("institution", institution="H52020100001")
    foreign = await affiliation(client, other_inst, "EndAffiliation", "2025-03-31")
    assert codes(foreign) == ["FORBIDDEN"]


async def test_deregistration_ends_registration_and_affiliations(client: Client, bureau: str) -> None:
    await register_institution(client, bureau)
    await register_practitioner(client, bureau)
    data = await client.op(
        "DeregisterPractitioner",
        {
            "input": {
                "practitionerCode": "D520201000001",
                "endsOn": "2025-05-31",
                "reason": "left the institution",
            }
        },
        token=bureau,
    )
    assert data["deregisterPractitioner"] == {
        "practitioner": {"code": "D520201000001", "status": "NOT_REGISTERED"},
        "userErrors": [],
    }
    record = await client.op("Practitioner", {"code": "D520201000001", "year": 2025}, token=bureau)
    assert record["practitioner"]["status"] == "NOT_REGISTERED"
    # Registered again later, the person is back with a fresh period.
    again = await register_practitioner(client, bureau, registered_on="2025-07-01")
    assert again["userErrors"] == [] and again["practitioner"]["status"] == "NORMAL"
