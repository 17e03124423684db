"""An objection (异议申诉): the person scored contests a point record, which is DISPUTED until reviewed."""

from __future__ import annotations

from registry import access, eventlog
from registry.auth import Actor
from registry.db import Database
from registry.errors import Code, fail, raise_if
from registry.node import Node
from registry.points import records, store
from registry.points.commands import FileObjection
from registry.points.enums import RecordState
from registry.points.facts import ObjectionFiled
from registry.practitioners import lookups


async def file_objection(db: Database, cmd: FileObjection, *, actor: Actor, node: Node) -> records.RecordView:
    """The points still count while disputed, so nothing is recomputed."""
    raise_if(cmd.problems())
    access.enforce(access.file_objection(actor, region_code=cmd.region_code, practitioner_code=cmd.practitioner_code))
    async with db.transaction() as session:
        await lookups.lock_codes(session, [cmd.practitioner_code])
        record, _ = await records.find_record(session, cmd, node)
        if (await records.view(session, record.id)).state is RecordState.REVOKED:
            raise fail(Code.POINT_RECORD_REVOKED, "this point record was revoked", "case_number")
        fact = ObjectionFiled.of(cmd)
        await store.objection(
            session, fact, await eventlog.append(session, fact, node=node.region, actor=actor.subject)
        )
        return await records.view(session, record.id)
