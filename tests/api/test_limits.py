"""Limits on what one request may cost: eligibility checks summed over the document, aliases, depth (introspection
included), a rate per token, the switch that turns introspection off; and the validation cache, which the limits
must not defeat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from graphql import get_introspection_query
from strawberry.extensions.validation_cache import _get_validate_cache

from registry.api.limits import RateLimiter
from registry.config import Settings
from registry.db import Database
from tests.conftest import Client, app_client

BATCH = "query($c: [EligibilityCheckInput!]!) { a: eligibilities(checks: $c) { eligible } b: eligibilities(checks: $c) { eligible } }"


@pytest_asyncio.fixture(loop_scope="session")
async def node(db: Database, settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    """A node with the settings the test's `limits` mark gives."""
    marker = request.node.get_closest_marker("limits")
    async with app_client(db, settings.model_copy(update=marker.kwargs if marker else {})) as client:
        yield client


def code_of(response: httpx.Response) -> str:
    [error] = response.json()["errors"]
    return str(error["extensions"]["code"])


def checks(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [{"practitionerCode": f"D{offset + i:012d}"} for i in range(n)]


# ---- eligibility checks per request -------------------------------------------------------------------------------


@pytest.mark.limits(max_batch_checks=10)
async def test_checks_are_counted_over_the_whole_document(node: Client) -> None:
    token = node.token("national")
    # Two aliases of 6 checks each: 12 in one request, though each field asks fewer than 10.
    refused = await node.post(BATCH, {"c": checks(6)}, token=token)
    assert refused.status_code == 200 and code_of(refused) == "TOO_MANY_CHECKS"
    assert refused.json()["data"] is None
    # Inline, through a fragment and with single checks beside the batch.
    inline = (
        'query { ...Roster single: eligibility(practitionerCode: "D1") { eligible } }'
        " fragment Roster on Query { eligibilities(checks: ["
        + ", ".join(f'{{practitionerCode: "D{i}"}}' for i in range(10))
        + "]) { eligible } }"
    )
    assert code_of(await node.post(inline, token=token)) == "TOO_MANY_CHECKS"
    # 2 × 5 = 10 is allowed, answered in order.
    allowed = (await node.post(BATCH, {"c": checks(5)}, token=token)).json()
    assert len(allowed["data"]["a"]) == len(allowed["data"]["b"]) == 5 and "errors" not in allowed


async def test_twenty_aliases_of_a_full_batch_are_refused_before_any_check_runs(node: Client) -> None:
    token = node.token("national")
    query = (
        "query($c: [EligibilityCheckInput!]!) { "
        + " ".join(f"a{i}: eligibilities(checks: $c) {{ eligible }}" for i in range(20))
        + " }"
    )
    response = await node.post(query, {"c": checks(10_000)}, token=token)
    assert code_of(response) == "TOO_MANY_CHECKS"
    assert "200000 eligibility checks" in response.json()["errors"][0]["message"]


# ---- the shape of the document -------------------------------------------------------------------------------------


async def test_aliases_are_capped(node: Client) -> None:
    token = node.token("national")
    thirty = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
    assert "errors" not in (await node.post(thirty, token=token)).json()
    thirty_one = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
    response = await node.post(thirty_one, token=token)
    assert code_of(response) == "INVALID_QUERY" and "aliases" in response.json()["errors"][0]["message"]
    schemas = "{ " + " ".join(f"s{i}: __schema {{ types {{ name }} }}" for i in range(1000)) + " }"
    assert code_of(await node.post(schemas, token=token)) == "INVALID_QUERY"


def nested_type_ref(depth: int) -> str:
    return "{ __schema { types { fields { type " + "{ ofType " * depth + "{ name }" + " }" * depth + " } } } }"


async def test_the_depth_limit_applies_to_introspection_too(node: Client) -> None:
    token = node.token("national")
    deep = (await node.post(nested_type_ref(100), token=token)).json()
    assert deep["data"] is None and any("maximum depth exceeded" in e["message"] for e in deep["errors"])
    assert {e["extensions"]["code"] for e in deep["errors"]} == {"INVALID_QUERY"}
    # The standard introspection query (GraphiQL's, schemathesis', code generators') still runs.
    standard = (await node.post(get_introspection_query(descriptions=True), token=token)).json()
    assert "errors" not in standard and standard["data"]["__schema"]["queryType"]["name"] == "Query"
    # Data queries keep REGISTRY_MAX_QUERY_DEPTH (10).
    eleven = '{ practitioner(code: "D1") { ' + "affiliations { " * 10 + "startsOn" + " }" * 10 + " } }"
    refused = (await node.post(eleven, token=token)).json()
    assert any(
        e["message"] == "maximum depth exceeded: the document nests more than 10 fields" for e in refused["errors"]
    )


async def test_a_fragment_bomb_is_refused(node: Client) -> None:
    """Each fragment spreads the next twice: walked naively, 2^40 fields."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    query = (
        "query { ...F0 } " + fragments + ' fragment F40 on Query { eligibility(practitionerCode: "D1") { eligible } }'
    )
    response = await node.post(query, token=node.token("national"))
    assert code_of(response) in ("INVALID_QUERY", "TOO_MANY_CHECKS")


@pytest.mark.limits(introspection=False)
async def test_introspection_can_be_turned_off(node: Client) -> None:
    token = node.token("national")
    for query in ("{ __schema { types { name } } }", '{ __type(name: "Query") { name } }'):
        refused = (await node.post(query, token=token)).json()
        assert refused["data"] is None and "introspection has been disabled" in refused["errors"][0]["message"]
        assert {e["extensions"]["code"] for e in refused["errors"]} == {"INVALID_QUERY"}
    assert (await node.post("{ __typename }", token=token)).json() == {"data": {"__typename": "Query"}}
    # GraphiQL still opens, without the schema in the page.
    page = await node.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and '"schema": null' in page.text


@pytest.mark.limits(graphiql=False)
async def test_graphiql_can_be_turned_off(node: Client) -> None:
    page = await node.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 400 and code_of(page) == "BAD_REQUEST" and "graphiql" not in page.text.lower()
    assert (await node.post("{ __typename }", token=node.token("national"))).status_code == 200


async def test_the_validation_cache_still_hits(node: Client) -> None:
    """The limits' rules are built once: a rule class built per request would change the cache's key."""
    cache = _get_validate_cache(512)
    token = node.token("national")
    query = '{ eligibility(practitionerCode: "cache-probe") { eligible } }'
    await node.post(query, token=token)
    before = cache.cache_info()
    for _ in range(3):
        assert "errors" not in (await node.post(query, token=token)).json()
    after = cache.cache_info()
    assert after.hits == before.hits + 3 and after.misses == before.misses


# ---- a rate per token -------------------------------------------------------------------------------------------------


@pytest.mark.limits(rate_per_second=1, rate_burst=20)
async def test_enumerating_guessed_codes_hits_the_rate_limit(node: Client) -> None:
    institution = node.token("institution", institution="H52020100001")
    query = "query($c: String!) { eligibility(practitionerCode: $c) { status } }"
    answers = [await node.post(query, {"c": f"D5202010{i:05d}"}, token=institution) for i in range(40)]
    limited = [r for r in answers if r.status_code == 429]
    assert len(limited) >= 15  # 20 at once, then about one a second
    first = limited[0]
    [error] = first.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["retryAfter"] >= 1
    assert int(first.headers["retry-after"]) == error["extensions"]["retryAfter"]
    assert first.json()["data"] is None
    # Another token has its own bucket.
    other = node.token("institution", institution="H52020100002")
    assert (await node.post(query, {"c": "D1"}, token=other)).status_code == 200


@pytest.mark.limits(rate_per_second=1, rate_burst=20)
async def test_a_batch_spends_one_unit_a_check(node: Client) -> None:
    token = node.token("regulator")
    big = "query($c: [EligibilityCheckInput!]!) { eligibilities(checks: $c) { eligible } }"
    # Larger than the burst: let in from a full bucket, and the bucket is left in debt.
    assert len((await node.post(big, {"c": checks(50)}, token=token)).json()["data"]["eligibilities"]) == 50
    response = await node.post('{ eligibility(practitionerCode: "D1") { eligible } }', token=token)
    assert response.status_code == 429 and code_of(response) == "RATE_LIMITED"
    assert int(response.headers["retry-after"]) >= 30  # the debt of 30 checks, paid back at 1 a second


def test_the_token_bucket() -> None:
    now = [0.0]
    bucket = RateLimiter(rate=2, burst=4, clock=lambda: now[0])
    assert [bucket.spend("a", 1) for _ in range(4)] == [0, 0, 0, 0]
    assert bucket.spend("a", 1) == pytest.approx(0.5)
    assert bucket.spend("b", 1) == 0  # another key
    now[0] += 0.5
    assert bucket.spend("a", 1) == 0
    now[0] += 10
    assert bucket.spend("a", 10) == 0  # a full bucket lets a larger request in…
    assert bucket.spend("a", 1) == pytest.approx(3.5)  # …and is 6 in debt: 7 units to wait for at 2 a second
