"""Requests without valid credentials are refused; scopes are enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from registry.api.schema import build_schema
from registry.auth import Actor, Role, issue_token
from tests.conftest import Client

QUERY = '{ eligibility(practitionerCode: "D520201000001") { eligible } }'


async def test_missing_token_is_refused(client: Client) -> None:
    response = await client.post(QUERY, token=None)
    assert response.status_code == 401


async def test_forged_token_is_refused(client: Client) -> None:
    forged = issue_token(b"not the node key" * 2, Actor(Role.NATIONAL), ttl=timedelta(hours=1))
    assert (await client.post(QUERY, token=forged)).status_code == 401


async def test_expired_token_is_refused(client: Client) -> None:
    old = issue_token(
        client.key, Actor(Role.NATIONAL), ttl=timedelta(hours=1), now=datetime.now(UTC) - timedelta(hours=2)
    )
    assert (await client.post(QUERY, token=old)).status_code == 401


async def test_valid_token_is_accepted(client: Client) -> None:
    response = await client.post(QUERY, token=client.token("national"))
    assert response.status_code == 200
    assert response.json()["data"] == {"eligibility": {"eligible": False}}


async def test_graphiql_page_is_served_without_a_token(client: Client) -> None:
    response = await client.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_practitioner_reads_only_their_own_record(client: Client) -> None:
    token = client.token("practitioner", practitioner="D520201000001")
    query = "query($c: String!) { practitioner(code: $c) { code } }"
    own = (await client.post(query, {"c": "D520201000001"}, token=token)).json()
    other = (await client.post(query, {"c": "D520201000002"}, token=token)).json()
    assert own == {"data": {"practitioner": None}}
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_oversized_queries_are_refused(client: Client) -> None:
    huge = "{ " + "__typename " * 20_001 + "}"
    body = (await client.post(huge, token=client.token("national"))).json()
    assert "token" in body["errors"][0]["message"].lower()


async def test_depth_limit_is_enforced() -> None:
    shallow = build_schema(max_depth=1)
    result = await shallow.execute('{ practitioner(code: "D1") { affiliations { institutionCode } } }')
    assert result.errors and "depth" in result.errors[0].message


async def test_a_bug_is_reported_without_its_details(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from registry.eligibility import service

    async def broken(*args: object) -> None:
        raise RuntimeError("password=hunter2 at db.internal")

    monkeypatch.setattr(service, "check", broken)
    body = (await client.post(QUERY, token=client.token("national"))).json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in str(body)
    forbidden = await client.post(QUERY, token=client.token("practitioner", practitioner="D1"))
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
