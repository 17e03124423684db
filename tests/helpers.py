"""Helpers that several test modules share: a world of institutions and people driven over GraphQL, row counts,
and short forms of the answers."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.db import Base, Database
from registry.federation.runtime import Federation
from tests import factories as f
from tests.conftest import Client


def node_database(engine: AsyncEngine, region: str = "000000") -> Database:
    """A database as a node's use cases see it: every fact they log is sealed at commit (with a throwaway key)."""
    return Federation(region, Ed25519PrivateKey.generate()).seal(Database(engine))


async def counts(db: Database, tables: tuple[type[Base], ...]) -> dict[str, int]:
    """Rows in each table: equal before and after a refused mutation."""
    async with db.reader() as conn:
        return {t.__tablename__: (await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in tables}


def codes(payload: dict[str, Any]) -> list[str]:
    """The codes of a mutation payload's user errors."""
    return [e["code"] for e in payload["userErrors"]]


SANCTION_KEYS = ("practitionerCode", "kind", "state", "startsOn", "endsOn", "reregistrationAllowedFrom", "caseNumber")


def sanction(code: str, kind: str, state: str, starts: str, ends: str | None, rereg: str | None, case: str) -> dict:
    return dict(zip(SANCTION_KEYS, (code, kind, state, starts, ends, rereg, case), strict=True))


def brief(sanctions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({k: s[k] for k in SANCTION_KEYS} for s in sanctions), key=lambda s: (s["practitionerCode"], s["kind"])
    )


class World:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.national = client.token("national")

    async def institution(self, code: str, region: str) -> None:
        data = await self.client.op("RegisterInstitution", {"input": f.institution(code, region)}, token=self.national)
        assert data["registerInstitution"]["userErrors"] == []

    async def people(self, institution: str, region: str, *codes: str, category: str = "PHYSICIAN") -> None:
        for i, code in enumerate(codes):
            person = f.practitioner(code, (institution,), region, serial=f"{i:03d}", category=category)
            data = await self.client.op("RegisterPractitioner", {"input": person}, token=self.national)
            assert data["registerPractitioner"]["userErrors"] == [], data

    async def decide(self, token: str | None = None, **kw: Any) -> dict[str, Any]:
        data = await self.client.op("RecordDecision", {"input": f.decision(**kw)}, token=token or self.national)
        return data["recordDecision"]

    async def local_person(self, region: str) -> tuple[str, str]:
        """An institution and one practitioner registered in `region` (for the provinces' own policies)."""
        institution, person = f"H{region}00001", f"D{region}000001"
        await self.institution(institution, region)
        await self.people(institution, region, person)
        return institution, person

    async def decide_local(self, region: str, case: str, points: int, decided_on: str) -> dict[str, Any]:
        """A decision of `region`'s bureau for its `local_person`."""
        return await self.decide(
            case=case,
            entries=[(f"D{region}000001", points)],
            decided_on=decided_on,
            region=region,
            institution=f"H{region}00001",
        )

    async def restore(self, region: str, day: str) -> dict[str, Any]:
        variables = {
            "practitionerCode": f"D{region}000001",
            "regionCode": region,
            "activity": "培训",
            "restoredOn": day,
        }
        data = await self.client.op("RecordRestoration", {"input": variables}, token=self.national)
        return data["recordRestoration"]

    async def review(self, token: str | None = None, **kw: Any) -> dict[str, Any]:
        data = await self.client.op("ReviewPoints", {"input": kw}, token=token or self.national)
        return data["reviewPoints"]

    async def record(self, code: str, year: int) -> dict[str, Any]:
        return (await self.client.op("Practitioner", {"code": code, "year": year}, token=self.national))["practitioner"]

    async def eligibility(self, code: str, at: str, **kw: Any) -> dict[str, Any]:
        variables = {"practitionerCode": code, "at": at, **kw}
        return (await self.client.op("Eligibility", variables, token=self.national))["eligibility"]
