"""Registering a designated institution (定点医药机构)."""

from __future__ import annotations

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.practitioners import lookups, store
from registry.practitioners.commands import RegisterInstitution
from registry.practitioners.facts import InstitutionRegistered
from registry.practitioners.models import Institution


async def register_institution(db: Database, cmd: RegisterInstitution, *, actor: Actor, node: Node) -> Institution:
    """A bureau registers an institution of its region, or the institution itself; a resend changes nothing."""
    raise_if(cmd.problems())
    access.enforce(access.register_institution(actor, code=cmd.code, region_code=cmd.region_code))
    async with db.transaction() as session:
        existing = await session.get(Institution, cmd.code, with_for_update=True)
        if existing is not None:
            if (existing.name, existing.kind, existing.region_code) == (cmd.name, cmd.kind, cmd.region_code):
                return existing
            raise fail(Code.ALREADY_REGISTERED, f"institution {cmd.code} is already registered", "code")
        fact = InstitutionRegistered.of(cmd)
        await store.institution(
            session, fact, await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        )
        return await lookups.institution(session, cmd.code)
