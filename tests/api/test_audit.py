"""Every mutation leaves one row in the hash-chained audit trail: who, when, which operation, the digest of its
input, and how it ended; a committed change and its row commit together."""

from __future__ import annotations

import hashlib
from typing import Any

import jwt
import pytest
import rfc8785
from sqlalchemy import func, select

from registry import audit
from registry.db import Database
from registry.practitioners.models import Institution
from tests import factories as f
from tests.conftest import Client
from tests.helpers import codes
from tests.ops import DOCUMENTS


async def newest(db: Database, n: int = 1) -> list[audit.AuditRow]:
    async with db.transaction() as session:
        rows = (await session.scalars(select(audit.AuditRow).order_by(audit.AuditRow.seq.desc()).limit(n))).all()
    return list(reversed(rows))


async def head(db: Database) -> int:
    async with db.reader() as conn:
        return int((await conn.execute(select(audit.AuditHead.seq))).scalar_one())


async def register(client: Client, token: str, **changes: Any) -> dict[str, Any]:
    body = {
        "query": DOCUMENTS["RegisterInstitution"],
        "operationName": "RegisterInstitution",
        "variables": {"input": f.institution(**changes)},
    }
    response = await client.http.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
    return response.json()


async def test_a_committed_mutation_is_recorded_with_its_actor_token_and_input_digest(
    client: Client, db: Database
) -> None:
    token = client.token("bureau", region="520000")
    before = await head(db)
    body = await register(client, token)
    assert body["data"]["registerInstitution"]["userErrors"] == []
    [row] = await newest(db)
    assert row.seq == before + 1 and await head(db) == row.seq
    assert (row.actor, row.token_id, row.operation) == (
        "bureau:520000",
        jwt.decode(token, options={"verify_signature": False})["jti"],
        "registerInstitution",
    )
    assert (row.outcome, row.error_codes) == (audit.Outcome.OK, [])
    # The digest of the input as the client sent it (every field given), in RFC 8785 form.
    sent = {"input": f.institution()}
    assert row.input_digest == hashlib.sha256(rfc8785.dumps(sent)).hexdigest()
    assert row.hash == audit.row_hash({c.key: getattr(row, c.key) for c in audit.AuditRow.__table__.columns})


async def test_refused_mutations_are_recorded_with_their_codes(client: Client, db: Database) -> None:
    before = await head(db)
    outsider = client.token("bureau", region="530000")
    assert codes((await register(client, outsider))["data"]["registerInstitution"]) == ["FORBIDDEN"]
    bad = await register(client, client.token("national"), code="X1")
    assert codes(bad["data"]["registerInstitution"]) == ["INVALID_CODE"]
    rows = await newest(db, 2)
    assert [r.seq for r in rows] == [before + 1, before + 2]
    assert [(r.actor, r.outcome) for r in rows] == [("bureau:530000", "refused"), ("national", "refused")]
    assert [r.error_codes for r in rows] == [["FORBIDDEN"], ["INVALID_CODE"]]
    async with db.reader() as conn:
        assert await conn.scalar(select(func.count()).select_from(Institution)) == 0  # nothing else was written


async def test_a_failing_mutation_is_recorded_as_an_error(
    client: Client, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.practitioners import institutions

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(institutions, "register_institution", broken)
    body = await register(client, client.token("national"))
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL"
    [row] = await newest(db)
    assert (row.operation, row.outcome, row.error_codes) == ("registerInstitution", "error", ["INTERNAL"])


async def test_no_change_commits_without_its_audit_row(
    client: Client, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is written inside the mutation's transaction: when writing it fails, the change is undone too."""
    before = await head(db)

    def failing(*args: object) -> int:
        raise RuntimeError("the audit trail is unwritable")

    monkeypatch.setattr(audit, "append", failing)
    body = await register(client, client.token("national"))
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL"
    async with db.reader() as conn:
        assert await conn.scalar(select(func.count()).select_from(Institution)) == 0
    assert await head(db) == before


async def test_the_chain_verifies_after_mutations(client: Client, db: Database) -> None:
    national = client.token("national")
    await register(client, national)
    await register(client, national)  # a duplicate: refused
    report = await audit.verify(db)
    assert report.intact, report.findings
    assert report.head[0] == await head(db) and report.rows == report.head[0]
