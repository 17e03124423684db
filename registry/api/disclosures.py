"""`myDisclosures`: a practitioner asks who read their record or eligibility, and when."""

from __future__ import annotations

from datetime import datetime

import strawberry

from registry import access, disclosures

from . import mapping
from .common import allow, refuse
from .context import Info
from .enums import DisclosureKind, Role
from .points import After, First, PageInfo


@strawberry.type(description="One read of a practitioner's record or eligibility.")
class Disclosure:
    at: datetime = strawberry.field(description="When the read was answered.")
    kind: DisclosureKind = strawberry.field(
        description="PRACTITIONER: the record (name, masked ID, points, sanctions); ELIGIBILITY: one check; "
        "ELIGIBILITIES: a batch of checks that named the practitioner."
    )
    role: Role = strawberry.field(description="The reader's role.")
    scope: str | None = strawberry.field(
        description="The region, institution or practitioner the reader acts for; null for national and regulators."
    )
    token_id: str | None = strawberry.field(
        description="The id of the token used (what `registry token revoke` takes), to ask the node's operator."
    )


@strawberry.type(description="A disclosure and its place in the listing.")
class DisclosureEdge:
    cursor: str = strawberry.field(
        description="This item's place in the listing: send it as `after` to read on from here."
    )
    node: Disclosure = strawberry.field(description="The disclosure.")


@strawberry.type(description="A page of disclosures, newest first.")
class DisclosureConnection:
    edges: list[DisclosureEdge] = strawberry.field(description="The page's disclosures.")
    page_info: PageInfo = strawberry.field(description="Whether another page follows, and from where.")


@strawberry.type
class DisclosureQuery:
    @strawberry.field(
        description="Who read your record or eligibility, newest first (for the practitioner role; others get "
        "FORBIDDEN). Reads answered by other server processes appear within a second."
    )
    async def my_disclosures(self, info: Info, first: First = 50, after: After = None) -> DisclosureConnection:
        c = info.context
        allow(access.read_own_disclosures(c.actor))
        refuse(mapping.page_size(first, "first"), mapping.after(after, "after"))
        assert c.actor.practitioner is not None
        await c.services.disclosures.flush()  # this process's own reads, up to now
        page = await disclosures.disclosures_of(
            c.db, c.actor.practitioner, first=first, before=mapping.cursor_id(after)
        )
        edges = [
            DisclosureEdge(
                cursor=mapping.cursor(d.id),
                node=Disclosure(at=d.at, kind=d.kind, role=Role(d.role), scope=d.scope, token_id=d.token_id),
            )
            for d in page.items
        ]
        last = page.items[-1].id if page.items else None
        return DisclosureConnection(edges=edges, page_info=PageInfo.of(page.has_next, last))
