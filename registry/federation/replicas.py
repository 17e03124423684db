"""Applying other origins' verified facts to this node's tables, as replicas."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from registry.federation.inbox import Rejected, Replica

# Facts the inbox itself takes care of (keys), or that carry nothing to store.
HANDLED_BY_INBOX = frozenset({"node.key"})


async def apply(session: AsyncSession, replicas: Sequence[Replica]) -> None:
    for replica in replicas:
        if replica.type not in HANDLED_BY_INBOX:
            raise Rejected(f"{replica.origin}#{replica.seq}: no way to apply a {replica.type} fact here yet")
