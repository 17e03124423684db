"""Requests without valid credentials are refused (401); scopes are enforced. Tokens are JWTs with a key id and a
token id, signed with HS256 by a key the node holds; anything else is refused."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from registry import tokens
from registry.api.schema import build_schema
from registry.auth import Actor, Role, SigningKey, issue_token
from registry.db import Database
from tests.conftest import Client

QUERY = '{ eligibility(practitionerCode: "D520201000001") { eligible } }'
HOUR = timedelta(hours=1)


def claims(**changes: object) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    base: dict[str, object] = {"iss": "registry", "jti": "t1", "role": "national", "iat": now, "exp": now + 3600}
    return {k: v for k, v in (base | changes).items() if v is not None}


def segment(value: object) -> str:
    """One base64url part of a JWT, made by hand: PyJWT will not make some of the tokens tested here."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


async def refused(client: Client, token: str) -> str:
    """The reason a token is refused (401), as the response says it."""
    response = await client.post(QUERY, token=token)
    assert response.status_code == 401, response.text
    return response.text


async def test_missing_token_is_refused(client: Client) -> None:
    response = await client.post(QUERY, token=None)
    assert response.status_code == 401


async def test_forged_token_is_refused(client: Client) -> None:
    # Signed with another secret under the node's own key id.
    forged = issue_token(SigningKey(client.key.kid, b"not the node key" * 2), Actor(Role.NATIONAL), ttl=HOUR)
    assert "signature" in (await refused(client, forged.token)).lower()


async def test_expired_token_is_refused(client: Client) -> None:
    old = issue_token(client.key, Actor(Role.NATIONAL), ttl=HOUR, now=datetime.now(UTC) - timedelta(hours=2))
    assert "expired" in (await refused(client, old.token)).lower()


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda key: jwt.encode(claims(), None, algorithm="none", headers={"kid": key.kid}), "algorithm 'none'"),
        (lambda key: jwt.encode(claims(), key.secret, algorithm="HS512", headers={"kid": key.kid}), "'HS512'"),
        (lambda key: jwt.encode(claims(), key.secret, algorithm="HS256"), "no signing key"),
        (lambda key: jwt.encode(claims(), key.secret, algorithm="HS256", headers={"kid": "20260101-00"}), "unknown"),
        (lambda key: f"{segment({'alg': 'HS256', 'kid': 7})}.{segment(claims())}.AAAA", "Key ID"),
        (lambda key: jwt.encode(claims(jti=None), key.secret, algorithm="HS256", headers={"kid": key.kid}), "jti"),
        (lambda key: jwt.encode(claims(exp=None), key.secret, algorithm="HS256", headers={"kid": key.kid}), "exp"),
        (lambda key: jwt.encode(claims(jti=12), key.secret, algorithm="HS256", headers={"kid": key.kid}), "JWT ID"),
        (lambda key: jwt.encode(claims(jti="x" * 65), key.secret, algorithm="HS256", headers={"kid": key.kid}), "jti"),
        (
            lambda key: jwt.encode(claims(iss="elsewhere"), key.secret, algorithm="HS256", headers={"kid": key.kid}),
            "iss",
        ),
        (lambda key: "not.a.token", "invalid token"),
    ],
    ids=[
        "alg-none",
        "hs512",
        "no-kid",
        "unknown-kid",
        "kid-not-a-string",
        "no-jti",
        "no-exp",
        "jti-not-a-string",
        "jti-too-long",
        "other-issuer",
        "garbage",
    ],
)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 with the node's 32-byte key
async def test_tokens_outside_the_rules_are_refused(client: Client, make: Any, says: str) -> None:
    assert says in await refused(client, make(client.key))


async def test_a_tampered_token_is_refused(client: Client) -> None:
    header, payload, signature = client.token("bureau", region="520000").split(".")
    widened = segment(json.loads(base64.urlsafe_b64decode(payload + "==")) | {"role": "national"})
    assert "signature" in (await refused(client, f"{header}.{widened}.{signature}")).lower()


async def test_revoked_and_retired_tokens_are_refused_once_the_process_reloads(client: Client, db: Database) -> None:
    tokens_module = tokens  # the fixture-free name `tokens` reads better as a module here
    keyring = client.http._transport.app.state.services.tokens  # type: ignore[attr-defined]
    bureau = Actor(Role.BUREAU, region="520000")
    issued = await tokens_module.issue(db, bureau, ttl=HOUR)
    kept = await tokens_module.issue(db, bureau, ttl=HOUR)
    assert (await client.post(QUERY, token=issued.token)).status_code == 200
    await tokens_module.revoke(db, issued.jti)
    await keyring.refresh()  # what a notification (or the periodic refresh) makes every process do
    assert "revoked" in await refused(client, issued.token)
    assert (await client.post(QUERY, token=kept.token)).status_code == 200

    # A new key: tokens of the old one stay valid until it is retired; new tokens name the new key.
    new_key = await tokens_module.rotate_key(db)
    newer = await tokens_module.issue(db, bureau, ttl=HOUR)
    assert jwt.get_unverified_header(newer.token)["kid"] == new_key.kid != jwt.get_unverified_header(kept.token)["kid"]
    # This process has not reloaded yet: the unknown key id makes it reload, once, and the token is accepted.
    assert (await client.post(QUERY, token=newer.token)).status_code == 200
    assert (await client.post(QUERY, token=kept.token)).status_code == 200
    with pytest.raises(tokens_module.Refused, match="signs new tokens"):
        await tokens_module.retire_key(db, new_key.kid)
    await tokens_module.retire_key(db, client.key.kid)
    await keyring.refresh()
    assert "unknown signing key" in await refused(client, kept.token)
    assert (await client.post(QUERY, token=newer.token)).status_code == 200
    with pytest.raises(tokens_module.Refused, match="no token"):
        await tokens_module.revoke(db, "never-issued")


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


async def test_a_token_accepted_before_is_refused_once_it_expires(client: Client) -> None:
    """Each process remembers the tokens it has checked, but never past their expiry."""
    soon = issue_token(client.key, Actor(Role.NATIONAL), ttl=HOUR, now=datetime.now(UTC) - HOUR + timedelta(seconds=2))
    assert (await client.post(QUERY, token=soon.token)).status_code == 200
    await asyncio.sleep(max(0.0, soon.expires_at.timestamp() - datetime.now(UTC).timestamp()) + 0.1)
    assert "expired" in (await refused(client, soon.token)).lower()
