"""The fast path answers the contract's eligibility operations with the very bytes the general path writes.

Every request is sent twice: as the contract's document (which the fast path recognises by its hash) and as the
same document with one more space at its end (which only strawberry answers). Status, headers and body must be equal
byte for byte, and the fast path's counter tells which path answered.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import dateutil.parser
import httpx
import pytest
import pytest_asyncio
from graphql import parse, print_ast
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from registry import clock
from registry.api import mapping
from registry.config import Settings
from registry.db import Database
from registry.eligibility import documents
from registry.eligibility.moments import _COMMON, parse_common
from tests import factories as f
from tests.conftest import Client, app_client

H1, H2, HB = "H52020100001", "H52020100002", "H11010100001"
NORMAL, SUSPENDED, TERMINATED, DEREGISTERED = "D520201000001", "D520201000002", "D520201000003", "D520201000004"
BEIJING, NOBODY = "D110101000001", "D520201999999"
NOW = datetime(2025, 6, 3, 10, 0, 0, 123456, tzinfo=clock.CST)
CONTRACT = documents.CONTRACT_FILE.read_text(encoding="utf-8")

# (the text sent, its operationName) for each way a client sends the contract's operations.
FORMS = {
    "Eligibility": [
        (documents.ELIGIBILITY, None),
        (documents.ELIGIBILITY, "Eligibility"),
        (documents.ELIGIBILITY + "\n", None),
        (print_ast(parse(documents.ELIGIBILITY)), None),
        (CONTRACT, "Eligibility"),
    ],
    "Eligibilities": [
        (documents.ELIGIBILITIES, None),
        (documents.ELIGIBILITIES + "\n", "Eligibilities"),
        (print_ast(parse(documents.ELIGIBILITIES)), None),
        (CONTRACT, "Eligibilities"),
    ],
}

MOMENTS = [
    "2025-06-03T10:00:00+08:00",
    "2025-06-03T02:00:00Z",
    "2025-06-02T21:00:00-05:00",
    "2025-06-03T10:00:00",  # no offset: taken as China time
    "2025-06-03T10:00:00.5+08:00",
    "2025-06-03T10:00:00.123456+05:45",
    "2025-01-09T15:59:00Z",  # 23:59 on 9 January in Beijing: the day before NORMAL's registration
    "2025-07-09T23:59:59+08:00",  # the suspension's last day
    "2025-07-10T00:00:00+08:00",  # the day after
    "2025-06-03T10:00:00+0800",  # dateutil's alone: the fast path leaves it to strawberry
    None,  # now
]
PEOPLE = [NORMAL, SUSPENDED, TERMINATED, DEREGISTERED, BEIJING, NOBODY, "医生", "a\x7fb", 'tab\tand"quote', ""]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def fast_answers(operation: str) -> float:
    return sample("registry_graphql_fast_path_requests_total", operation=operation)


@pytest.fixture
async def world(client: Client) -> str:
    """Registered, suspended, terminated (in Guizhou and in Beijing, whose policy exempts emergencies during a
    termination) and deregistered people; a national token."""
    national = client.token("national")
    for code, region in ((H1, "520201"), (H2, "520201"), (HB, "110101")):
        await client.op("RegisterInstitution", {"input": f.institution(code, region)}, token=national)
    for serial, (code, institution, region) in enumerate(
        (
            (NORMAL, H1, "520201"),
            (SUSPENDED, H1, "520201"),
            (TERMINATED, H1, "520201"),
            (DEREGISTERED, H1, "520201"),
            (BEIJING, HB, "110101"),
        )
    ):
        person = f.practitioner(code, (institution,), region, registered_on="2025-01-10", serial=f"{serial:03d}")
        data = await client.op("RegisterPractitioner", {"input": person}, token=national)
        assert data["registerPractitioner"]["userErrors"] == []
    for case, entries, region, institution in (
        ("黔医保罚〔2025〕9号", [(SUSPENDED, 10)], "520201", H1),  # 4 months: 10 March to 9 July
        ("GZ-2025-12", [(TERMINATED, 12)], "520201", H1),
        ("京-1", [(BEIJING, 12)], "110101", HB),
    ):
        decision = f.decision(case, entries, "2025-03-10", region=region, institution=institution)
        assert (await client.op("RecordDecision", {"input": decision}, token=national))["recordDecision"][
            "userErrors"
        ] == []
    ended = {"practitionerCode": DEREGISTERED, "endsOn": "2025-04-30", "reason": "left"}
    data = await client.op("DeregisterPractitioner", {"input": ended}, token=national)
    assert data["deregisterPractitioner"]["userErrors"] == []
    return national


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks without `at` are asked at `now`: both paths must see the same moment."""
    monkeypatch.setattr(clock, "now", lambda: NOW)


async def post(
    client: Client, text: str | None, variables: Any, operation: str | None, token: str | None, **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"query": text, "variables": variables, **extra}
    if operation is not None:
        body["operationName"] = operation
    headers = {"X-Request-ID": "same-id-for-both"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.http.post("/graphql", json=body, headers=headers)


async def both(
    client: Client, name: str, variables: Any, token: str | None, form: int = 0, *, fast: bool = True
) -> httpx.Response:
    """Send the request by both paths; assert the same status, content type and bytes, and which path answered."""
    text, operation = FORMS[name][form]
    before = fast_answers(name)
    response = await alike(client, text, operation, variables, token)
    assert fast_answers(name) - before == (1 if fast else 0), (name, variables)
    return response


async def alike(client: Client, text: str, operation: str | None, variables: Any, token: str | None) -> httpx.Response:
    """The answer to `text`, which strawberry gives the same when one space is added to the text."""
    answered = await post(client, text, variables, operation, token)
    general = await post(client, text + " ", variables, operation, token)
    assert answered.status_code == general.status_code
    assert answered.headers.raw == general.headers.raw  # content type and length, request id, in the same order
    assert answered.content == general.content, (answered.content, general.content)
    return answered


def single_checks() -> Iterator[dict[str, Any]]:
    for code in PEOPLE:
        for institution in (H1, H2, HB, None):
            for at in MOMENTS[::3] if code in (NORMAL, SUSPENDED) else MOMENTS[:1]:
                yield {"practitionerCode": code, "institutionCode": institution, "at": at}
    for code in (SUSPENDED, TERMINATED, BEIJING):
        for emergency in (True, False, None):
            yield {"practitionerCode": code, "at": "2025-06-03T10:00:00+08:00", "emergency": emergency}
    for at in MOMENTS:
        yield {"practitionerCode": SUSPENDED, "institutionCode": H1, "at": at}
    yield {"practitionerCode": NORMAL}  # only the required variable: no institution, now, no emergency


def usual(check: dict[str, Any]) -> bool:
    """Whether the fast path answers this check itself: an unusual date form, or a code the general path refuses
    (a control character), goes to strawberry."""
    moment = None if check.get("at") is None else parse_common(check["at"])
    return (check.get("at") is None or moment is not None) and not (
        mapping.code(check["practitionerCode"])
        or (check.get("institutionCode") is not None and mapping.code(check["institutionCode"]))
        or mapping.moment(moment)
    )


@pytest.mark.usefixtures("frozen_clock")
async def test_single_checks_are_answered_alike(client: Client, world: str) -> None:
    statuses = set()
    for check in single_checks():
        response = await both(client, "Eligibility", check, world, fast=usual(check))
        if not usual(check) and "errors" in response.json():
            assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
            continue
        answer = response.json()["data"]["eligibility"]
        statuses.add((answer["status"], answer["eligible"], answer["sanction"] is not None))
    # The data set covers every answer there is.
    assert statuses >= {
        ("NORMAL", True, False),
        ("NORMAL", False, False),
        ("NOT_REGISTERED", False, False),
        ("SUSPENDED", False, True),
        ("SUSPENDED", True, True),
        ("TERMINATED", False, True),
        ("TERMINATED", True, True),
    }


@pytest.mark.usefixtures("frozen_clock")
async def test_every_form_of_the_documents_is_recognised(client: Client, world: str) -> None:
    checks = [c for c in single_checks() if usual(c)]
    for form in range(len(FORMS["Eligibility"])):
        for check in checks[:: len(checks) // 6]:
            await both(client, "Eligibility", check, world, form)
    for form in range(len(FORMS["Eligibilities"])):
        await both(client, "Eligibilities", {"checks": checks}, world, form)


@pytest.mark.usefixtures("frozen_clock")
async def test_batches_are_answered_alike(client: Client, world: str) -> None:
    checks = [{k: v for k, v in c.items() if v is not None} for c in single_checks() if usual(c)]
    repeated = checks * 3 + checks[:7]
    response = await both(client, "Eligibilities", {"checks": repeated}, world)
    answers = response.json()["data"]["eligibilities"]
    assert len(answers) == len(repeated) and answers[: len(checks)] == answers[len(checks) : 2 * len(checks)]
    await both(client, "Eligibilities", {"checks": []}, world)
    # Explicit nulls are the defaults; an unusual date form anywhere sends the whole batch to strawberry.
    nulls = [{"practitionerCode": NORMAL, "institutionCode": None, "at": None, "emergency": None}]
    await both(client, "Eligibilities", {"checks": nulls}, world)
    await both(
        client,
        "Eligibilities",
        {"checks": [*checks, {"practitionerCode": NORMAL, "at": MOMENTS[9]}]},
        world,
        fast=False,
    )


async def test_who_may_check_and_a_token_are_asked_alike(client: Client, world: str) -> None:
    variables = {"practitionerCode": NORMAL, "at": MOMENTS[0]}
    for role, scope in (("institution", {"institution": H1}), ("bureau", {"region": "110000"}), ("regulator", {})):
        await both(client, "Eligibility", variables, client.token(role, **scope))
    refused = [None, "not-a-token", client.token("practitioner", practitioner=NORMAL)]
    for token in refused:
        await both(client, "Eligibility", variables, token, fast=False)
        await both(client, "Eligibilities", {"checks": [variables]}, token, fast=False)


async def test_bad_variables_are_strawberrys_to_answer(client: Client, world: str) -> None:
    for variables in (
        {},
        None,
        {"practitionerCode": None},
        {"practitionerCode": 5},
        {"practitionerCode": NORMAL, "institutionCode": 7},
        {"practitionerCode": NORMAL, "at": "x"},
        {"practitionerCode": NORMAL, "at": "2025-02-30T10:00:00+08:00"},
        {"practitionerCode": NORMAL, "at": 20250603},
        {"practitionerCode": NORMAL, "emergency": "yes"},
        {"practitionerCode": NORMAL, "emergency": 1},
    ):
        await both(client, "Eligibility", variables, world, fast=False)
    for variables in (
        {},
        {"checks": None},
        {"checks": {"practitionerCode": NORMAL, "at": MOMENTS[0]}},  # GraphQL makes one item a list of one
        {"checks": [None]},
        {"checks": [{"practitionerCode": NORMAL, "unknown": 1}]},
        {"checks": [{"practitionerCode": NORMAL, "at": MOMENTS[0]}, {"institutionCode": H1}]},
        {"checks": [{"practitionerCode": NORMAL, "at": "2025-13-01T00:00:00Z"}]},
    ):
        await both(client, "Eligibilities", variables, world, fast=False)


async def test_requests_that_are_not_the_contracts_go_on_unchanged(client: Client, world: str) -> None:
    variables = {"practitionerCode": NORMAL, "at": MOMENTS[0]}
    before = fast_answers("Eligibility") + fast_answers("Eligibilities")
    for text, operation in (
        (CONTRACT, None),  # several operations and none named
        (CONTRACT, "Practitioner"),
        (CONTRACT, "Nope"),
        (documents.ELIGIBILITY, "Eligibilities"),
    ):
        await alike(client, text, operation, variables, world)
    headers = {"Authorization": f"Bearer {world}"}
    for content, kind in ((b"{", "application/json"), (json.dumps({"query": CONTRACT}).encode(), "text/plain")):
        response = await client.http.post("/graphql", content=content, headers={**headers, "content-type": kind})
        assert response.status_code == 400
    assert fast_answers("Eligibility") + fast_answers("Eligibilities") == before


async def test_a_persisted_query_is_sent_by_its_hash(client: Client, world: str) -> None:
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": documents.sha256(documents.ELIGIBILITY)}}
    variables = {"practitionerCode": SUSPENDED, "institutionCode": H1, "at": MOMENTS[0]}
    before = fast_answers("Eligibility")
    by_hash = await post(client, None, variables, None, world, extensions=persisted)
    assert fast_answers("Eligibility") == before + 1
    by_text = await post(client, documents.ELIGIBILITY + " ", variables, None, world)
    assert by_hash.content == by_text.content
    # What the fast path leaves to strawberry gets the text the hash stands for.
    bad = {**variables, "at": "x"}
    by_hash = await post(client, None, bad, None, world, extensions=persisted)
    by_text = await post(client, documents.ELIGIBILITY + " ", bad, None, world)
    assert by_hash.content == by_text.content and by_hash.json()["errors"]
    # Another hash: Apollo's clients send the document next.
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": documents.sha256("{ __typename }")}}
    response = await post(client, None, {}, None, world, extensions=unknown)
    assert response.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }


@pytest_asyncio.fixture(loop_scope="session")
async def small_batches(db: Database, settings: Settings) -> AsyncIterator[Client]:
    """A node that takes at most 5 checks a request."""
    async with app_client(db, settings.model_copy(update={"max_batch_checks": 5})) as client:
        yield client


async def test_too_many_checks_is_the_same_error(small_batches: Client) -> None:
    national = small_batches.token("national")
    for count in (5, 6, 50):
        checks = [{"practitionerCode": NOBODY, "at": MOMENTS[0]}] * count
        for form in range(len(FORMS["Eligibilities"])):
            # Over the limit, the fast path leaves the request to the general path's count over the whole document.
            response = await both(small_batches, "Eligibilities", {"checks": checks}, national, form, fast=count <= 5)
            if count > 5:
                [error] = response.json()["errors"]
                assert error["extensions"] == {"code": "TOO_MANY_CHECKS"}
                assert error["message"] == f"{count} eligibility checks in one request; at most 5"
    refused = small_batches.token("practitioner", practitioner=NORMAL)
    checks = [{"practitionerCode": NOBODY}]
    response = await both(small_batches, "Eligibilities", {"checks": checks}, refused, fast=False)
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_failing_database_is_the_same_masked_error(
    client: Client, world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Database, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(Database, "fetch", broken)
    # The fast path leaves a failure to the general path, which meets it too and says so: the database is down.
    response = await both(client, "Eligibility", {"practitionerCode": NORMAL, "at": MOMENTS[0]}, world, fast=False)
    [error] = response.json()["errors"]
    assert (response.status_code, error["extensions"]["code"]) == (503, "UNAVAILABLE")
    await both(client, "Eligibilities", {"checks": [{"practitionerCode": NORMAL}]}, world, fast=False)


async def test_logs_and_metrics_see_both_paths_alike(client: Client, world: str, logs: io.StringIO) -> None:
    checks = [{"practitionerCode": NORMAL, "at": MOMENTS[0]}] * 3
    counted = []
    for suffix in ("", " "):
        requests = sample("registry_graphql_requests_total", operation="Eligibilities", outcome="ok")
        batched = sample("registry_eligibility_checks_total", kind="batch")
        await post(client, documents.ELIGIBILITIES + suffix, {"checks": checks}, None, world)
        counted.append(
            (
                sample("registry_graphql_requests_total", operation="Eligibilities", outcome="ok") - requests,
                sample("registry_eligibility_checks_total", kind="batch") - batched,
            )
        )
    assert counted == [(1, 3), (1, 3)]
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    fast, general = [
        {k: v for k, v in line.items() if k not in ("duration_ms", "timestamp")}
        for line in lines
        if line["event"] == "request"
    ]
    assert fast == general
    assert (fast["operation"], fast["outcome"], fast["checks"], fast["role"]) == ("Eligibilities", "ok", 3, "national")


def test_the_documents_are_the_contracts_as_written() -> None:
    for text in documents.OPERATIONS.values():
        assert text in CONTRACT


@given(st.from_regex(_COMMON, fullmatch=True) | st.text(max_size=40))
def test_the_standard_library_reads_the_common_moments_as_dateutil_does(value: str) -> None:
    ours = parse_common(value)
    if ours is None:
        return
    theirs = dateutil.parser.isoparse(value)
    assert (ours, ours.utcoffset(), ours.isoformat()) == (theirs, theirs.utcoffset(), theirs.isoformat())
