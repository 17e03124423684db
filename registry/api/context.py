"""Per-request context: the authenticated actor, the node's services, and the request's data loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import HTTPException, Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from registry import clock
from registry.auth import Actor, InvalidToken
from registry.db import Database
from registry.disclosures import DisclosureLog
from registry.eligibility import service as eligibility
from registry.federation import status
from registry.node import Node
from registry.points import queries as points
from registry.points.models import Sanction
from registry.points.policy import PolicyBook
from registry.points.records import PersonYear
from registry.practitioners import queries as practitioners
from registry.practitioners.models import Affiliation
from registry.tokens import Keyring

from .limits import RateLimiter


@dataclass
class Services:
    db: Database
    node: Node
    tokens: Keyring
    disclosures: DisclosureLog
    policies: PolicyBook
    max_batch_checks: int  # eligibility checks per request, summed over the document
    rate_limiter: RateLimiter
    public_key: str = ""  # this node's Ed25519 public key, base64
    peer_stale_seconds: float = 300.0


class Context(BaseContext):
    def __init__(self, services: Services, actor: Actor | None) -> None:
        super().__init__()
        self.services = services
        self.db, self.node, self.policies = services.db, services.node, services.policies
        self._actor = actor
        # A person's year, replayed once per request however many of its fields are asked for.
        self.person_years = DataLoader[tuple[str, int], PersonYear](
            load_fn=lambda keys: points.person_years(services.db, services.policies, keys)
        )
        # A person's affiliations or sanctions asked for twice are read once; several people's in one read.
        self.affiliations = DataLoader[str, list[Affiliation]](
            load_fn=lambda codes: practitioners.affiliations_of(services.db, codes)
        )
        self.sanctions = DataLoader[str, list[Sanction]](load_fn=lambda codes: points.sanctions_of(services.db, codes))
        # Every check a request makes field by field (`eligibility`, a practitioner's `status`), answered by one
        # statement per round of resolvers; the same check asked twice is answered once.
        self.eligibility = DataLoader[eligibility.Check, eligibility.Answer](
            load_fn=lambda checks: eligibility.check(services.db, services.policies, checks),
            cache_key_fn=eligibility.Check.key,
        )
        self._degraded: asyncio.Task[bool] | None = None

    def degraded(self) -> Awaitable[bool]:
        """Whether a peer is STALE, UNREACHABLE or HALTED: read once per request, however many answers ask."""
        if self._degraded is None:
            stale = timedelta(seconds=self.services.peer_stale_seconds)
            self._degraded = asyncio.ensure_future(status.degraded(self.db, clock.now(), stale))
        return self._degraded

    @property
    def actor(self) -> Actor:
        # Only the GraphiQL page is served without a token, and it resolves nothing.
        assert self._actor is not None
        return self._actor


Info = StrawberryInfo[Context, None]


async def authenticate(request: Request) -> Actor:
    """The actor that the request's bearer token names, or a 401. The fast path asks the same."""
    services: Services = request.app.state.services
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "send Authorization: Bearer TOKEN (see `registry token`)")
    try:
        return await services.tokens.authenticate(token.strip())
    except InvalidToken as exc:
        raise HTTPException(401, f"invalid token: {exc}") from exc


async def get_context(request: Request) -> Context:
    services: Services = request.app.state.services
    if request.method == "GET":
        return Context(services, None)
    return Context(services, await authenticate(request))
