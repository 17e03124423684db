"""Applying other nodes' verified facts to this node's tables, as replicas, through the same store functions the
local use cases use; then recomputing each person-year the page touched, once."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.facts import Fact, Issued
from registry.federation.inbox import Rejected, Replica
from registry.points import sanctions
from registry.points import store as points
from registry.points.facts import DecisionRecorded, ObjectionFiled, PointsReviewed, RestorationRecorded
from registry.points.policy import PolicyBook
from registry.practitioners import lookups
from registry.practitioners import store as practitioners
from registry.practitioners.facts import (
    AffiliationAdded,
    AffiliationEnded,
    InstitutionRegistered,
    PractitionerDeregistered,
    PractitionerRegistered,
)

PersonYears = list[tuple[str, int]]
Store = Callable[[AsyncSession, Any, Issued], Awaitable[Any]]


def _registration(store: Store) -> Callable[[AsyncSession, Any, Issued], Awaitable[PersonYears]]:
    """Registration facts touch no person-year: sanctions do not depend on them."""

    async def apply(session: AsyncSession, fact: Any, at: Issued) -> PersonYears:
        await store(session, fact, at)
        return []

    return apply


# Each type: how to read it, and how to store it. `node.key` is taken care of by the inbox (it teaches keys).
APPLY: dict[str, tuple[type[Fact], Callable[[AsyncSession, Any, Issued], Awaitable[PersonYears]]]] = {
    InstitutionRegistered.TYPE: (InstitutionRegistered, _registration(practitioners.institution)),
    PractitionerRegistered.TYPE: (PractitionerRegistered, _registration(practitioners.registration)),
    PractitionerDeregistered.TYPE: (PractitionerDeregistered, _registration(practitioners.deregistration)),
    AffiliationAdded.TYPE: (AffiliationAdded, _registration(practitioners.affiliation_added)),
    AffiliationEnded.TYPE: (AffiliationEnded, _registration(practitioners.affiliation_ended)),
    DecisionRecorded.TYPE: (DecisionRecorded, points.decision),
    ObjectionFiled.TYPE: (ObjectionFiled, points.objection),
    PointsReviewed.TYPE: (PointsReviewed, points.review),
    RestorationRecorded.TYPE: (RestorationRecorded, points.restoration),
}
INBOX_TYPES = frozenset({"node.key"})
# Types stored many at a time when they come in runs (a new node catching up is mostly registrations).
BULK: dict[str, Callable[[AsyncSession, Any], Awaitable[None]]] = {
    InstitutionRegistered.TYPE: practitioners.institutions,
    PractitionerRegistered.TYPE: practitioners.registrations,
}


def _people(fact: Fact) -> list[str]:
    """The practitioners a fact is about, locked before it is stored."""
    if isinstance(fact, DecisionRecorded):
        return [e.practitioner_code for e in fact.entries]
    code = getattr(fact, "practitioner_code", None) or (fact.code if isinstance(fact, PractitionerRegistered) else None)
    return [code] if code else []


class Applier:
    def __init__(self, policies: PolicyBook) -> None:
        self.policies = policies

    async def __call__(self, session: AsyncSession, replicas: Sequence[Replica]) -> None:
        facts: list[tuple[Fact, Issued]] = []
        for replica in replicas:
            if replica.type in INBOX_TYPES:
                continue
            kind = APPLY.get(replica.type)
            if kind is None:
                raise Rejected(f"{replica.origin}#{replica.seq}: unknown fact type {replica.type}")
            try:
                facts.append((kind[0].from_wire(replica.fact), Issued(replica.origin, replica.seq, "replica")))
            except ValueError as exc:
                raise Rejected(f"{replica.origin}#{replica.seq}: {exc}") from None
        await lookups.lock_codes(session, [code for fact, _ in facts for code in _people(fact)])
        touched: PersonYears = []
        for type_, run in itertools.groupby(facts, key=lambda item: item[0].TYPE):
            items = list(run)
            if type_ in BULK:
                await BULK[type_](session, items)
                continue
            for fact, at in items:
                touched += await APPLY[type_][1](session, fact, at)
        await sanctions.recompute(session, self.policies, touched)
