"""The access matrix (`registry.access.MATRIX`, the README's table), every cell sent over HTTP to the app.

The scenario is set up once for the module; each cell runs in a savepoint rolled back afterwards, so a mutation one
principal may make does not change what the next one meets. An allowed cell must really answer: a read gives the
same record national gets, a listing shows exactly what the caller's scope holds, a mutation has no user errors
(or the one non-authorisation error the row names). A refused cell is FORBIDDEN: the mutation's user error (and
nothing written), or the query's GraphQL error. A request without a valid token is HTTP 401.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from graphql import GraphQLObjectType, build_schema
from jwt.utils import base64url_encode
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry import access, tokens
from registry.access import CASE, MATRIX, NO_VALID_TOKEN, PRINCIPALS, UNKNOWN, H, P, Q, Row, Y
from registry.app import create_app
from registry.auth import Actor, Role
from registry.config import Settings
from registry.db import Database
from registry.models import (
    Affiliation,
    Decision,
    FeedEvent,
    Institution,
    Objection,
    PointRecord,
    Practitioner,
    Registration,
    Restoration,
    Review,
    Sanction,
)
from tests import factories as f
from tests.conftest import Client
from tests.helpers import World, codes, counts
from tests.ops import DOCUMENTS

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql").read_text("utf-8"))
MUTATIONS = set(SCHEMA.mutation_type.fields) if SCHEMA.mutation_type else set()
YEAR = 2025
# The listings' content, for a caller allowed to list: the case, or nothing within their scope.
SEES_THE_CASE = {"national", "bureau 520000", "institution H", "regulator"}
FACTS = (Institution, Practitioner, Registration, Affiliation, Decision, PointRecord, Objection, Review, Restoration)
FACTS += (Sanction, FeedEvent)


@dataclass
class Scene:
    conn: AsyncConnection
    db: Database
    client: Client

    @asynccontextmanager
    async def rolled_back(self) -> AsyncIterator[None]:
        """Whatever happens inside is undone: the next cell meets the scenario as it was set up."""
        savepoint = await self.conn.begin_nested()
        try:
            yield
        finally:
            await savepoint.rollback()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scene(engine: AsyncEngine, settings: Settings) -> AsyncIterator[Scene]:
    """The scenario of `registry.access.SCENARIO`, in a transaction rolled back when the module ends."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        db = Database.bound(conn)
        key = await tokens.rotate_key(db)
        app = create_app(settings, db)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.test") as http:
            client = Client(http, key)
            world = World(client)
            await world.institution(H, "520201")
            await world.institution(Y, "530101")
            await world.people(H, "520201", P)
            await world.people(Y, "530101", Q)
            at_y = {"practitionerCode": P, "institutionCode": Y}
            await client.op("AddAffiliation", {"input": at_y | {"startsOn": "2024-07-01"}}, token=world.national)
            await client.op("EndAffiliation", {"input": at_y | {"endsOn": "2024-12-31"}}, token=world.national)
            decided = await world.decide(case=CASE, entries=[(P, 10), (Q, 3)], decided_on="2025-03-10", region="520000")
            assert decided["userErrors"] == [] and len(decided["sanctions"]) == 1
            yield Scene(conn, db, client)
        await outer.rollback()


# ---- one request per row -----------------------------------------------------------------------------------------


@dataclass
class Call:
    document: str
    variables: dict[str, Any]
    root: str  # the field of Query or Mutation asked for
    operation_name: str | None = None
    # What an allowed caller gets: a mutation's user error codes (none, unless a rule other than access refuses),
    # a query's answer as `check` sees it, or (`check` None) the very answer national gets.
    expect_codes: list[str] = field(default_factory=list)
    check: Callable[[str, Any], None] | None = None

    @property
    def mutation(self) -> bool:
        return self.root in MUTATIONS


def _stated(actor: Actor, region: str) -> str:
    """The region a caller states for itself as the deciding or granting bureau: a bureau its own."""
    return actor.region if actor.role is Role.BUREAU and actor.region else region


def _documented(name: str, variables: dict[str, Any], root: str, **kw: Any) -> Call:
    return Call(DOCUMENTS[name], variables, root, operation_name=name, **kw)


def _record(selection: str, code: str = P) -> Callable[[Actor], Call]:
    """A read of a person's record: an allowed reader sees what national sees."""
    document = f"query($code: String!) {{ practitioner(code: $code) {{ {selection} }} }}"
    return lambda actor: Call(document, {"code": code}, "practitioner")


def _unknown_is_null(principal: str, answer: Any) -> None:
    assert answer is None


def _listing(principal: str, answer: Any) -> None:
    cases = [edge["node"]["caseNumber"] for edge in answer["edges"]]
    assert cases == ([CASE] if principal in SEES_THE_CASE else []), (principal, cases)


def _answered(principal: str, answer: Any) -> None:
    assert answer is not None


LISTING = "query($filter: ListFilter) {{ {root}(filter: $filter) {{ edges {{ node {{ caseNumber }} }} }} }}"
RECORD = "code name category regionCode status affiliations { institutionCode startsOn endsOn }"
OBJECTION_KEY = {"caseNumber": CASE, "regionCode": "520000", "practitionerCode": P}

REQUESTS: dict[tuple[str, str], Callable[[Actor], Call]] = {
    ("practitioner { code name category regionCode status affiliations }", "P"): _record(RECORD),
    ("practitioner { idNumberMasked }", "P"): _record("idNumberMasked"),
    ("practitioner { points }", "P"): _record(f"points(year: {YEAR})"),
    ("practitioner { interviewRequired }", "P"): _record(f"interviewRequired(year: {YEAR})"),
    ("practitioner { pointRecords }", "P"): _record(f"pointRecords(year: {YEAR}) {{ caseNumber points state }}"),
    ("practitioner { sanctions }", "P"): _record("sanctions { kind state startsOn endsOn caseNumber }"),
    ("practitioner { code name category regionCode status affiliations }", "Q: scored by 520000"): _record(RECORD, Q),
    ("practitioner { code }", f"{UNKNOWN}, unknown: null if allowed"): lambda actor: Call(
        "query($code: String!) { practitioner(code: $code) { code } }",
        {"code": UNKNOWN},
        "practitioner",
        check=_unknown_is_null,
    ),
    ("institution", "H"): lambda actor: Call(
        "query($code: String!) { institution(code: $code) { code regionCode } }",
        {"code": H},
        "institution",
        check=lambda principal, answer: _equal(answer, {"code": H, "regionCode": "520201"}),
    ),
    ("eligibility", "P at H"): lambda actor: _documented(
        "Eligibility",
        {"practitionerCode": P, "institutionCode": H, "at": "2025-04-01T09:00:00+08:00"},
        "eligibility",
        check=lambda principal, answer: _equal((answer["eligible"], answer["status"]), (False, "SUSPENDED")),
    ),
    ("eligibilities", "P at H, Q at Y"): lambda actor: _documented(
        "Eligibilities",
        {
            "checks": [
                {"practitionerCode": P, "institutionCode": H, "at": "2025-04-01T09:00:00+08:00"},
                {"practitionerCode": Q, "institutionCode": Y, "at": "2025-04-01T09:00:00+08:00"},
            ]
        },
        "eligibilities",
        check=lambda principal, answer: _equal([a["eligible"] for a in answer], [False, True]),
    ),
    ("policy", "520201"): lambda actor: _documented(
        "Policy", {"regionCode": "520201", "on": "2025-04-01"}, "policy", check=_answered
    ),
    ("federationStatus", "this node"): lambda actor: Call(
        "{ federationStatus { region publicKey peers { region state } regulators { name } } }",
        {},
        "federationStatus",
        check=lambda principal, answer: _equal(answer["region"], "000000"),
    ),
    ("myDisclosures", "the caller's own"): lambda actor: Call(
        "{ myDisclosures { edges { node { role } } } }",
        {},
        "myDisclosures",
        check=_answered,
    ),
    ("decisions", "regionCode 520000"): lambda actor: Call(
        LISTING.format(root="decisions"), {"filter": {"regionCode": "520000"}}, "decisions", check=_listing
    ),
    ("decisions", "institutionCode H"): lambda actor: Call(
        LISTING.format(root="decisions"), {"filter": {"institutionCode": H}}, "decisions", check=_listing
    ),
    ("sanctions", "regionCode 520000"): lambda actor: Call(
        LISTING.format(root="sanctions"), {"filter": {"regionCode": "520000"}}, "sanctions", check=_listing
    ),
    ("sanctions", "institutionCode H"): lambda actor: Call(
        LISTING.format(root="sanctions"), {"filter": {"institutionCode": H}}, "sanctions", check=_listing
    ),
    ("registerInstitution", "H52020100002 in 520201"): lambda actor: _documented(
        "RegisterInstitution", {"input": f.institution("H52020100002", "520201")}, "registerInstitution"
    ),
    ("registerInstitution", "H itself (a resend)"): lambda actor: _documented(
        "RegisterInstitution", {"input": f.institution(H, "520201")}, "registerInstitution"
    ),
    ("registerPractitioner", "a new person of 520201 at H"): lambda actor: _documented(
        "RegisterPractitioner",
        {"input": f.practitioner("D520201000002", (H,), "520201", registered_on="2025-01-02", serial="777")},
        "registerPractitioner",
    ),
    ("addAffiliation", "Q at H"): lambda actor: _documented(
        "AddAffiliation",
        {"input": {"practitionerCode": Q, "institutionCode": H, "startsOn": "2025-01-02"}},
        "addAffiliation",
    ),
    ("endAffiliation", "P at H"): lambda actor: _documented(
        "EndAffiliation",
        {"input": {"practitionerCode": P, "institutionCode": H, "endsOn": "2025-06-30"}},
        "endAffiliation",
    ),
    ("deregisterPractitioner", "P"): lambda actor: _documented(
        "DeregisterPractitioner",
        {"input": {"practitionerCode": P, "endsOn": "2025-06-30", "reason": "left"}},
        "deregisterPractitioner",
    ),
    ("recordDecision", "conduct at H; P and Q (others state 520000)"): lambda actor: _documented(
        "RecordDecision",
        {"input": f.decision("C-H", [(P, 1), (Q, 1)], "2025-04-01", region=_stated(actor, "520000"), institution=H)},
        "recordDecision",
    ),
    ("recordDecision", "conduct at Y; P (others state 530000)"): lambda actor: _documented(
        "RecordDecision",
        {"input": f.decision("C-Y", [(P, 1)], "2025-04-01", region=_stated(actor, "530000"), institution=Y)},
        "recordDecision",
    ),
    ("fileObjection", f"P's record in {CASE}"): lambda actor: _documented(
        "FileObjection", {"input": {**OBJECTION_KEY, "statement": "不是我"}}, "fileObjection"
    ),
    ("reviewPoints", f"P's record in {CASE}"): lambda actor: _documented(
        "ReviewPoints",
        {"input": {**OBJECTION_KEY, "outcome": "UPHELD", "reviewedOn": "2025-04-01", "reason": "复核维持"}},
        "reviewPoints",
    ),
    ("recordRestoration", "P (others state 520201): RESTORATION_NOT_ALLOWED if allowed"): lambda actor: _documented(
        "RecordRestoration",
        {
            "input": {
                "practitionerCode": P,
                "regionCode": _stated(actor, "520201"),
                "activity": "培训",
                "restoredOn": "2025-05-01",
            }
        },
        "recordRestoration",
        expect_codes=["RESTORATION_NOT_ALLOWED"],
    ),
}


def _equal(actual: Any, expected: Any) -> None:
    assert actual == expected


# ---- tokens --------------------------------------------------------------------------------------------------


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def _resigned(token: str, key: bytes, **changes: Any) -> str:
    """The token's header and claims (with `changes`), signed again with `key` by its own algorithm."""
    header, claims = _parts(token)
    return jwt.encode(claims | changes, key, algorithm=header["alg"], headers=header)


def invalid_token(kind: str, client: Client) -> str | None:
    """A national token broken in one way only (see `registry.access.NO_VALID_TOKEN`)."""
    national = client.token("national")
    header, claims = _parts(national)
    if kind == "no token":
        return None
    if kind == "expired":
        then = int((datetime.now(UTC) - timedelta(hours=2)).timestamp())
        return _resigned(national, client.key.secret, iat=then, exp=then + 3600)
    if kind == "other key":
        return _resigned(national, secrets.token_bytes(32))
    if kind == "alg none":
        return jwt.encode(claims, None, algorithm="none", headers={k: v for k, v in header.items() if k != "alg"})
    if kind == "tampered":
        own = client.token("practitioner", practitioner=P)
        head, _, signature = own.split(".")
        _, own_claims = _parts(own)
        forged = {k: v for k, v in own_claims.items() if k != "practitioner"} | {"role": "national"}
        payload = base64url_encode(json.dumps(forged, separators=(",", ":")).encode()).decode()
        return f"{head}.{payload}.{signature}"
    raise AssertionError(kind)


def token_of(principal: str, client: Client) -> str:
    """A valid token of one of the matrix's principals."""
    actor = PRINCIPALS[principal]
    scope = {k: v for k in ("region", "institution", "practitioner") if (v := getattr(actor, k))}
    return client.token(str(actor.role), **scope)


def token_for(principal: str, client: Client) -> str | None:
    return invalid_token(principal, client) if principal in NO_VALID_TOKEN else token_of(principal, client)


async def send(client: Client, call: Call, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = {"query": call.document, "variables": call.variables}
    if call.operation_name:
        body["operationName"] = call.operation_name
    return await client.http.post("/graphql", json=body, headers=headers)


# ---- the cells -------------------------------------------------------------------------------------------------

CELLS = [(row, principal) for row in MATRIX for principal in (*PRINCIPALS, *NO_VALID_TOKEN)]


@pytest.mark.parametrize(
    ("row", "principal"), CELLS, ids=[f"{row.operation} | {row.on} | {principal}" for row, principal in CELLS]
)
async def test_cell(scene: Scene, row: Row, principal: str) -> None:
    actor = PRINCIPALS.get(principal, Actor(Role.NATIONAL))
    call = REQUESTS[(row.operation, row.on)](actor)
    reference: Any = None
    async with scene.rolled_back():
        before = await counts(scene.db, FACTS)
        response = await send(scene.client, call, token_for(principal, scene.client))
        written = await counts(scene.db, FACTS) != before
        if not call.mutation and call.check is None:  # a read of a record: what national sees
            reference = (await send(scene.client, call, scene.client.token("national"))).json()["data"][call.root]
    if principal in NO_VALID_TOKEN:
        assert response.status_code == 401, response.text
        assert not response.json().get("data") and not written
        return
    assert response.status_code == 200, response.text
    body = response.json()
    allowed = principal in row.allowed
    if call.mutation:
        assert "errors" not in body, body["errors"]
        payload = body["data"][call.root]
        errors = [(e["code"], e["field"]) for e in payload["userErrors"]]
        if allowed:
            assert errors == [(code, ["input", "practitionerCode"]) for code in call.expect_codes], payload
            answered = [value for key, value in payload.items() if key != "userErrors" and value not in (None, [])]
            assert answered or call.expect_codes, payload
        else:
            assert errors == [("FORBIDDEN", None)], payload
            assert all(value in (None, []) for key, value in payload.items() if key != "userErrors"), payload
            assert not written
    elif allowed:
        assert "errors" not in body, body["errors"]
        answer = body["data"][call.root]
        if call.check is not None:
            call.check(principal, answer)
        else:
            assert answer is not None and answer == reference, answer
    else:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
        assert body["data"] is None or body["data"][call.root] is None


# ---- the matrix is whole -----------------------------------------------------------------------------------------


def test_every_row_has_its_request() -> None:
    assert {(row.operation, row.on) for row in MATRIX} == set(REQUESTS)
    assert len(MATRIX) == len(REQUESTS)


def test_the_matrix_has_every_query_mutation_and_field_of_a_record() -> None:
    schema = SCHEMA
    roots = {row.operation.split()[0] for row in MATRIX}
    for name in ("Query", "Mutation"):
        root_type = schema.get_type(name)
        assert isinstance(root_type, GraphQLObjectType)
        assert set(root_type.fields) <= roots, f"{name} fields missing from registry.access.MATRIX"
    record_type = schema.get_type("Practitioner")
    assert isinstance(record_type, GraphQLObjectType)
    asked = {word for row in MATRIX if row.operation.startswith("practitioner ") for word in row.operation.split()}
    assert set(record_type.fields) <= asked


def test_every_principal_of_the_issue_is_a_column() -> None:
    kinds = {(a.role, a.region, a.institution, a.practitioner) for a in PRINCIPALS.values()}
    assert len(kinds) == len(PRINCIPALS) == 10
    assert set(NO_VALID_TOKEN) == {"no token", "expired", "other key", "alg none", "tampered"}
    assert not access.within("520201", "500000") and access.within("520201", "520000")  # the prefix trap


async def test_the_crafted_tokens_differ_from_a_valid_one_only_where_they_say(scene: Scene) -> None:
    """Signed again unchanged with the node's key, a token is accepted: each broken token fails for its one flaw."""
    client = scene.client
    call = REQUESTS[("institution", "H")](Actor(Role.NATIONAL))
    national = client.token("national")
    assert (await send(client, call, _resigned(national, client.key.secret))).status_code == 200
    fresh = int(datetime.now(UTC).timestamp())
    assert (
        await send(client, call, _resigned(national, client.key.secret, iat=fresh, exp=fresh + 600))
    ).status_code == 200
    own = client.token("practitioner", practitioner=P)
    assert (await send(client, call, own)).status_code == 200


# ---- the rules the scenario's table does not show ----------------------------------------------------------------


async def read(scene: Scene, code: str, principal: str) -> dict[str, Any]:
    """The JSON answer to a read of `code`'s record by the principal."""
    call = _record("code points(year: 2025)", code)(PRINCIPALS[principal])
    response = await send(scene.client, call, token_of(principal, scene.client))
    assert response.status_code == 200
    return response.json()


async def test_a_refused_read_does_not_tell_whether_the_code_exists(scene: Scene) -> None:
    for principal in ("bureau 530000", "bureau 500000", "institution Y", "practitioner Q"):
        known, unknown = await read(scene, P, principal), await read(scene, UNKNOWN, principal)
        assert known["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert known == unknown
    assert (await read(scene, UNKNOWN, "national")) == {"data": {"practitioner": None}}


async def test_a_bureau_reads_the_people_a_decision_of_its_jurisdiction_scored(scene: Scene) -> None:
    """Yunnan may not read P, a Guizhou doctor, until it scores P for conduct at Y (多点执业)."""
    async with scene.rolled_back():
        assert "errors" in await read(scene, P, "bureau 530000")
        yunnan = token_of("bureau 530000", scene.client)
        decision = f.decision("滇医保罚〔2025〕7号", [(P, 2)], "2025-04-01", region="530000", institution=Y)
        recorded = await scene.client.op("RecordDecision", {"input": decision}, token=yunnan)
        assert codes(recorded["recordDecision"]) == []
        assert (await read(scene, P, "bureau 530000"))["data"]["practitioner"] == {"code": P, "points": 12}
        assert "errors" in await read(scene, P, "bureau 500000")


async def test_an_institution_reads_its_current_staff_only(scene: Scene) -> None:
    """An affiliation that ended (P at Y) gives no read; one that starts gives it, one that ends takes it away."""
    national = scene.client.token("national")
    async with scene.rolled_back():
        assert "errors" in await read(scene, P, "institution Y")
        assert "errors" in await read(scene, Q, "institution H")
        added = {"practitionerCode": Q, "institutionCode": H, "startsOn": "2025-01-02"}
        assert (
            codes((await scene.client.op("AddAffiliation", {"input": added}, token=national))["addAffiliation"]) == []
        )
        assert (await read(scene, Q, "institution H"))["data"]["practitioner"]["code"] == Q
        ended = {"practitionerCode": P, "institutionCode": H, "endsOn": "2025-06-30"}
        assert (
            codes((await scene.client.op("EndAffiliation", {"input": ended}, token=national))["endAffiliation"]) == []
        )
        assert (await read(scene, P, "institution H"))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_institution_registers_itself_only_in_the_region_its_code_names(scene: Scene) -> None:
    itself = scene.client.token("institution", institution="H52020100002")
    async with scene.rolled_back():
        elsewhere = f.institution("H52020100002", "530101")
        data = await scene.client.op("RegisterInstitution", {"input": elsewhere}, token=itself)
        assert codes(data["registerInstitution"]) == ["FORBIDDEN"]
        own = f.institution("H52020100002", "520201")
        assert (
            codes((await scene.client.op("RegisterInstitution", {"input": own}, token=itself))["registerInstitution"])
            == []
        )


@pytest.mark.parametrize(
    ("principal", "region", "code"),
    [
        ("bureau 520000", "530101", "FORBIDDEN"),  # a Guizhou bureau may not place a person in Yunnan's care
        ("institution H", "520200", "FORBIDDEN"),  # an institution registers its staff in its own region
        ("bureau 520200", "520201", None),
        ("national", "530101", None),
    ],
)
async def test_a_person_is_registered_in_the_registrars_own_region(
    scene: Scene, principal: str, region: str, code: str | None
) -> None:
    person = f.practitioner("D520201000002", (H,), region, registered_on="2025-01-02", serial="777")
    async with scene.rolled_back():
        data = await scene.client.op("RegisterPractitioner", {"input": person}, token=token_of(principal, scene.client))
        assert codes(data["registerPractitioner"]) == ([code] if code else [])


async def test_a_second_registration_of_a_person_does_not_name_their_code(scene: Scene) -> None:
    """Whoever knows a resident ID learns that it is registered, never under which code."""
    again = f.practitioner("D520201000002", (H,), "520201", registered_on="2025-01-02", serial="000")
    assert again["idNumber"] == f.resident_id("520201", serial="000")  # P's, as the scenario registered P
    token = token_of("institution H", scene.client)
    async with scene.rolled_back():
        payload = (await scene.client.op("RegisterPractitioner", {"input": again}, token=token))["registerPractitioner"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("ALREADY_REGISTERED", ["input", "idNumber"])]
    assert P not in payload["userErrors"][0]["message"] and "D52" not in payload["userErrors"][0]["message"]


@pytest.mark.parametrize(
    ("operation", "variables", "unknown"),
    [
        (
            "DeregisterPractitioner",
            {"input": {"practitionerCode": UNKNOWN, "endsOn": "2025-06-30", "reason": "left"}},
            "UNKNOWN_PRACTITIONER",
        ),
        (
            "RecordRestoration",
            {
                "input": {
                    "practitionerCode": UNKNOWN,
                    "regionCode": "520201",
                    "activity": "培训",
                    "restoredOn": "2025-05-01",
                }
            },
            "UNKNOWN_PRACTITIONER",
        ),
        (
            "RecordDecision",
            {"input": f.decision("C-1", [(P, 1)], "2025-04-01", region="520201", institution="H52020199999")},
            "UNKNOWN_INSTITUTION",
        ),
    ],
)
async def test_who_may_not_act_learns_nothing_from_an_unknown_code(
    scene: Scene, operation: str, variables: dict[str, Any], unknown: str
) -> None:
    root = operation[0].lower() + operation[1:]
    async with scene.rolled_back():
        for principal in ("institution H", "practitioner P", "regulator", "national"):
            token = token_of(principal, scene.client)
            payload = (await scene.client.op(operation, {**variables}, token=token))[root]
            assert codes(payload) == [unknown if principal == "national" else "FORBIDDEN"], (principal, payload)
