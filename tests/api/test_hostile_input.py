"""Hostile input over HTTP: each answer is a coded error naming the field, nothing is written, and nothing is
logged as a traceback. Control characters in every string of every mutation; amounts, moments, dates, years,
cursors, page sizes and regions at and past their edges; bodies that are not GraphQL requests; refused tokens."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from registry.config import Settings
from registry.db import Database
from registry.points import models as points
from registry.practitioners import models as people
from tests import factories as f
from tests.conftest import Client, app_client
from tests.helpers import World, counts
from tests.ops import DOCUMENTS

P, H = "D520201000001", "H52020100001"
TABLES = (people.Institution, people.Practitioner, people.Affiliation, points.Decision, points.PointRecord)
# What no string may hold: NUL, a lone surrogate, ESC, and NEL (a C1 control).
POISONS = ("\x00", "\ud800", "\x1b", "\x85")

# Each mutation with an input that passes every check of its command (the people and cases need not exist: the
# checks run first), so that the one poisoned field is the only problem.
MUTATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "RegisterInstitution": ("registerInstitution", f.institution()),
    "RegisterPractitioner": ("registerPractitioner", f.practitioner()),
    "RecordDecision": ("recordDecision", f.decision("C-1", [(P, 3)], "2025-03-10", amountInvolved="12.50")),
    "FileObjection": (
        "fileObjection",
        {"caseNumber": "C-1", "regionCode": "520201", "practitionerCode": P, "statement": "我没有参与"},
    ),
    "ReviewPoints": (
        "reviewPoints",
        {
            "caseNumber": "C-1",
            "regionCode": "520201",
            "practitionerCode": P,
            "outcome": "UPHELD",
            "reviewedOn": "2025-04-01",
            "reason": "复核维持",
        },
    ),
    "RecordRestoration": (
        "recordRestoration",
        {"practitionerCode": P, "regionCode": "520201", "activity": "培训", "restoredOn": "2025-05-01"},
    ),
    "AddAffiliation": ("addAffiliation", {"practitionerCode": P, "institutionCode": H, "startsOn": "2025-01-01"}),
    "EndAffiliation": ("endAffiliation", {"practitionerCode": P, "institutionCode": H, "endsOn": "2025-06-01"}),
    "DeregisterPractitioner": (
        "deregisterPractitioner",
        {"practitionerCode": P, "endsOn": "2025-06-01", "reason": "退休"},
    ),
}
# Strings whose values the schema itself checks (enums, dates, the Decimal): a poisoned one is INVALID_QUERY and
# never reaches a command.
SCHEMA_TYPED = {"kind", "category", "basis", "outcome", "responsibility", "amountInvolved"}
RECORD = """mutation($input: RecordDecisionInput!) {
  recordDecision(input: $input) { decision { behaviour amountInvolved } userErrors { field code } }
}"""


def string_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from string_paths(item, (*path, i))
    elif isinstance(value, str):
        yield path


def poisoned(value: Any, path: tuple[str | int, ...], poison: str) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = target[path[-1]][:2] + poison + target[path[-1]][2:]
    return copy


async def send(client: Client, body: dict[str, Any], token: str) -> httpx.Response:
    """As a client sends it: JSON with \\u escapes, so that a lone surrogate travels as it would."""
    content = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return await client.http.post("/graphql", content=content, headers=headers)


def no_traceback(logs: io.StringIO) -> None:
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert lines and all("exception" not in line and line["level"] != "error" for line in lines), lines


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    return error


# ---- strings ----------------------------------------------------------------------------------------------------


async def test_no_string_of_any_mutation_may_hold_a_control_character(
    client: Client, db: Database, logs: io.StringIO
) -> None:
    national = client.token("national")
    before = await counts(db, TABLES)
    tried = 0
    for name, (field, valid) in MUTATIONS.items():
        for path in string_paths(valid):
            if path[-1] in SCHEMA_TYPED or str(path[-1]).endswith("On"):
                continue
            for poison in POISONS:
                body = {
                    "query": DOCUMENTS[name],
                    "operationName": name,
                    "variables": {"input": poisoned(valid, path, poison)},
                }
                response = await send(client, body, national)
                assert response.status_code == 200, response.text
                payload = response.json()["data"][field]
                errors = [(e["field"], e["code"]) for e in payload["userErrors"]]
                expected = ["input", *(str(p) for p in path)]
                assert len(errors) == 1 and errors[0][0] == expected, (name, path, repr(poison), errors)
                assert errors[0][1] in ("INVALID_INPUT", "INVALID_CODE", "INVALID_ID_NUMBER"), errors
                tried += 1
    assert tried > 60  # every mutation's strings, four poisons each
    assert await counts(db, TABLES) == before
    no_traceback(logs)


async def test_free_texts_may_hold_tabs_and_line_breaks_and_names_may_not(client: Client, db: Database) -> None:
    world = World(client)
    await world.institution(H, "520201")
    await world.people(H, "520201", P)
    decision = f.decision("C-1", [(P, 3)], "2025-03-10", behaviour="第一行\r\n\t第二行")
    decided = (await client.gql(RECORD, {"input": decision}, token=world.national))["recordDecision"]
    assert decided == {"decision": {"behaviour": "第一行\r\n\t第二行", "amountInvolved": None}, "userErrors": []}

    named = f.institution("H52020100002", name="医院\n第二行")
    data = await client.op("RegisterInstitution", {"input": named}, token=world.national)
    [error] = data["registerInstitution"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "name"], "INVALID_INPUT")
    assert "U+000A" in error["message"]


async def test_query_arguments_may_not_hold_control_characters(client: Client, logs: io.StringIO) -> None:
    national = client.token("national")
    cases = [
        (
            "query($c: String!) { eligibility(practitionerCode: $c) { eligible } }",
            {"c": "D1\x00"},
            ["practitionerCode"],
        ),
        (
            'query($c: String!) { eligibility(practitionerCode: "D1", institutionCode: $c) { eligible } }',
            {"c": "H1\ud800"},
            ["institutionCode"],
        ),
        (
            "query($c: [EligibilityCheckInput!]!) { eligibilities(checks: $c) { eligible } }",
            {"c": [{"practitionerCode": "D1"}, {"practitionerCode": "D2\x1b"}]},
            ["checks", "1", "practitionerCode"],
        ),
        ("query($c: String!) { practitioner(code: $c) { code } }", {"c": "\x00"}, ["code"]),
        ("query($c: String!) { institution(code: $c) { code } }", {"c": "H\ud800"}, ["code"]),
        (
            "query($c: String!) { eligibility(practitionerCode: $c) { eligible } }",
            {"c": "D" * 65},
            ["practitionerCode"],
        ),
    ]
    for query, variables, field in cases:
        error = error_of(await send(client, {"query": query, "variables": variables}, national))
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": field}, (query, error)
    # A code that is merely not one is an answer, as before.
    answer = await client.gql('{ eligibility(practitionerCode: "not a code") { status } }', token=national)
    assert answer == {"eligibility": {"status": "NOT_REGISTERED"}}
    no_traceback(logs)


async def test_codes_are_ascii_digits_only(client: Client, db: Database) -> None:
    national = client.token("national")
    before = await counts(db, TABLES)
    arabic = await client.op("RegisterInstitution", {"input": f.institution(region="52٠٠٠٠")}, token=national)
    assert [(e["field"], e["code"]) for e in arabic["registerInstitution"]["userErrors"]] == [
        (["input", "regionCode"], "INVALID_CODE")
    ]
    # Superscript digits pass str.isdigit() but not int(): this was an internal error.
    person = f.practitioner(idNumber="52020119800101²²³X")
    data = await client.op("RegisterPractitioner", {"input": person}, token=national)
    assert [(e["field"], e["code"]) for e in data["registerPractitioner"]["userErrors"]] == [
        (["input", "idNumber"], "INVALID_ID_NUMBER")
    ]
    assert await counts(db, TABLES) == before


# ---- numbers, moments and dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["1e20", "NaN", "Infinity", "-Infinity", "1e999999", "-1", "-0.01", "1.234", "0.001", 1e20, 12.345]
)
async def test_amounts_that_no_column_holds_are_refused(client: Client, db: Database, amount: str | float) -> None:
    world = World(client)
    await world.institution(H, "520201")
    await world.people(H, "520201", P)
    before = await counts(db, TABLES)
    decision = f.decision("C-1", [(P, 3)], "2025-03-10", amountInvolved=amount)
    body = {"query": DOCUMENTS["RecordDecision"], "operationName": "RecordDecision", "variables": {"input": decision}}
    payload = (await send(client, body, world.national)).json()["data"]["recordDecision"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", "amountInvolved"], "INVALID_INPUT")]
    assert await counts(db, TABLES) == before


async def test_amounts_at_the_edges_are_kept(client: Client) -> None:
    world = World(client)
    await world.institution(H, "520201")
    await world.people(H, "520201", P)
    edges = (("C-1", "0", "0"), ("C-2", "99999999999999.99", "99999999999999.99"), ("C-3", 12.34, "12.34"))
    for case, amount, kept in edges:
        decision = f.decision(case, [(P, 1)], "2025-03-10", amountInvolved=amount)
        result = (await client.gql(RECORD, {"input": decision}, token=world.national))["recordDecision"]
        assert result["userErrors"] == [] and Decimal(result["decision"]["amountInvolved"]) == Decimal(kept)


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00+14:00",  # a day before Python's first once in China time
        "9999-12-31T23:59:59-14:00",  # a day after Python's last
        "1899-12-31T12:00:00+08:00",
        "2101-01-01T00:00:00+08:00",
        "2100-12-31T16:00:00Z",  # 1 January 2101 in China
    ],
)
async def test_moments_outside_the_calendar_are_refused(client: Client, at: str) -> None:
    national = client.token("national")
    single = 'query($at: DateTime) { eligibility(practitionerCode: "D1", at: $at) { eligible } }'
    error = error_of(await send(client, {"query": single, "variables": {"at": at}}, national))
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": ["at"]}
    batch = "query($c: [EligibilityCheckInput!]!) { eligibilities(checks: $c) { eligible } }"
    checks = [{"practitionerCode": "D1"}, {"practitionerCode": "D2", "at": at}]
    error = error_of(await send(client, {"query": batch, "variables": {"c": checks}}, national))
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": ["checks", "1", "at"]}


async def test_moments_at_the_edges_are_answered(client: Client) -> None:
    national = client.token("national")
    query = 'query($at: DateTime) { eligibility(practitionerCode: "D1", at: $at) { status } }'
    for at in ("1900-01-01T00:00:00+08:00", "2100-12-31T15:59:59Z", "2025-06-01T12:00:00"):
        response = await send(client, {"query": query, "variables": {"at": at}}, national)
        assert response.json() == {"data": {"eligibility": {"status": "NOT_REGISTERED"}}}, at


@pytest.mark.parametrize(
    ("name", "field", "day"),
    [
        ("RecordDecision", "decidedOn", "0001-01-01"),
        ("RecordDecision", "conductFrom", "1899-12-31"),
        ("RegisterPractitioner", "registeredOn", "1000-01-01"),
        ("EndAffiliation", "endsOn", "9999-12-31"),
        ("DeregisterPractitioner", "endsOn", "2101-01-01"),
    ],
)
async def test_dates_outside_the_calendar_are_refused(
    client: Client, db: Database, name: str, field: str, day: str
) -> None:
    mutation, valid = MUTATIONS[name]
    before = await counts(db, TABLES)
    variables = {"input": {**valid, field: day}}
    data = await client.op(name, variables, token=client.token("national"))
    assert [(e["field"], e["code"]) for e in data[mutation]["userErrors"]] == [(["input", field], "INVALID_INPUT")]
    assert await counts(db, TABLES) == before


@pytest.mark.parametrize("year", [0, -1, 1899, 2101, 10000])
async def test_years_outside_the_calendar_are_refused(client: Client, year: int) -> None:
    world = World(client)
    await world.institution(H, "520201")
    await world.people(H, "520201", P)
    for field in ("points(year: $y)", "interviewRequired(year: $y)", "pointRecords(year: $y) { caseNumber }"):
        query = f'query($y: Int!) {{ practitioner(code: "{P}") {{ {field} }} }}'
        error = error_of(await client.post(query, {"y": year}, token=world.national))
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": ["year"]}, field
    edges = await client.gql(
        f'{{ practitioner(code: "{P}") {{ a: points(year: 1900) b: points(year: 2100) }} }}', token=world.national
    )
    assert edges == {"practitioner": {"a": 0, "b": 0}}


async def test_policy_of_a_region_that_is_not_one_is_refused(client: Client) -> None:
    national = client.token("national")
    for region in ("abc", "990000", "5200001", "", "52٠٠٠٠"):
        response = await client.post(
            "query($r: String!) { policy(regionCode: $r) { version } }", {"r": region}, token=national
        )
        assert error_of(response)["extensions"] == {"code": "INVALID_CODE", "field": ["regionCode"]}, region
    day = await client.post('{ policy(regionCode: "520000", on: "0001-01-01") { version } }', token=national)
    assert error_of(day)["extensions"] == {"code": "INVALID_INPUT", "field": ["on"]}
    assert (await client.gql('{ policy(regionCode: "520000") { jurisdiction } }', token=national))["policy"]


# ---- listings: page sizes, cursors, filters ----------------------------------------------------------------------


@pytest.mark.parametrize("first", [-1, 0, 501, 1_000_000_000])
async def test_page_sizes_outside_1_to_500_are_refused(client: Client, first: int) -> None:
    national = client.token("national")
    for listing in ("decisions", "sanctions"):
        response = await client.post(
            f"query($n: Int!) {{ {listing}(first: $n) {{ edges {{ cursor }} }} }}", {"n": first}, token=national
        )
        assert error_of(response)["extensions"] == {"code": "INVALID_INPUT", "field": ["first"]}


async def test_page_sizes_of_1_and_500_are_served(client: Client) -> None:
    national = client.token("national")
    for first in (1, 500):
        data = await client.gql(f"{{ decisions(first: {first}) {{ edges {{ cursor }} }} }}", token=national)
        assert data == {"decisions": {"edges": []}}


@pytest.mark.parametrize(
    "cursor",
    [
        "A" * 10_000,  # oversized
        "!!!",  # not base64
        "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",  # 10^30: past bigint
        "MA==",  # 0
        "LTE=",  # -1
        "eA==",  # "x"
        "５",  # not ASCII
    ],
)
async def test_cursors_this_api_never_gave_are_refused(client: Client, cursor: str) -> None:
    national = client.token("national")
    response = await client.post(
        "query($a: String) { sanctions(after: $a) { edges { cursor } } }", {"a": cursor}, token=national
    )
    assert error_of(response)["extensions"] == {"code": "INVALID_INPUT", "field": ["after"]}


async def test_list_filters_are_checked(client: Client) -> None:
    national = client.token("national")
    cases = [
        ({"regionCode": "52\x00000"}, ["filter", "regionCode"], "INVALID_CODE"),
        ({"institutionCode": "H\ud800"}, ["filter", "institutionCode"], "INVALID_CODE"),
        ({"fromDate": "0001-01-01"}, ["filter", "fromDate"], "INVALID_INPUT"),
    ]
    for where, field, code in cases:
        body = {
            "query": "query($f: ListFilter) { decisions(filter: $f) { edges { cursor } } }",
            "variables": {"f": where},
        }
        assert error_of(await send(client, body, national))["extensions"] == {"code": code, "field": field}


# ---- HTTP ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"[]", b'"x"', b"1", b"null", b"true", b"{not json", b'[{"query": "{ __typename }"}]']
)
async def test_a_body_that_is_not_a_json_object_is_400_with_a_code(client: Client, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {client.token('national')}", "Content-Type": "application/json"}
    response = await client.http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST" and error["message"]


@pytest_asyncio.fixture(loop_scope="session")
async def small_node(db: Database, settings: Settings) -> AsyncIterator[Client]:
    """A node that takes bodies of at most 4 kB."""
    async with app_client(db, settings.model_copy(update={"max_body_bytes": 4096})) as client:
        yield client


async def test_a_body_over_the_limit_is_413_before_it_is_read(small_node: Client) -> None:
    token = small_node.token("national")
    checks = [{"practitionerCode": f"D{i:012d}"} for i in range(200)]  # about 6 kB
    query = "query($c: [EligibilityCheckInput!]!) { eligibilities(checks: $c) { eligible } }"
    declared = await small_node.post(query, {"c": checks}, token=token)
    assert declared.status_code == 413
    assert declared.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    # Without a Content-Length, the body is refused once 4 kB have arrived: the rest is never asked for.
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(1000):  # 1 MB, if it were all read
            sent.append(i)
            yield b" " * 1024

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    streamed = await small_node.http.post("/graphql", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and streamed.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert len(sent) < 10

    small = await small_node.post(query, {"c": checks[:10]}, token=token)
    assert small.status_code == 200 and len(small.json()["data"]["eligibilities"]) == 10


@pytest.mark.parametrize("token", [None, "not-a-jwt", "Bearer", "eyJhbGciOiJub25lIn0.eyJyb2xlIjoibmF0aW9uYWwifQ."])
async def test_a_refused_token_is_401_in_the_graphql_error_shape(
    client: Client, logs: io.StringIO, token: str | None
) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = await client.http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"} and error["message"]
    no_traceback(logs)
