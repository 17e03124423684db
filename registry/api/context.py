"""Per-request context: the authenticated actor, the node's services, and the request's data loaders."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from registry.auth import Actor, InvalidToken, read_token
from registry.db import Database
from registry.eligibility import service as eligibility
from registry.node import Node
from registry.points import queries as points
from registry.points.models import Sanction
from registry.points.policy import PolicyBook
from registry.points.records import PersonYear
from registry.practitioners import queries as practitioners
from registry.practitioners.models import Affiliation


@dataclass
class Services:
    db: Database
    node: Node
    token_key: bytes
    policies: PolicyBook
    max_batch_checks: int


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
        return read_token(services.token_key, token.strip())
    except InvalidToken as exc:
        raise HTTPException(401, f"invalid token: {exc}") from exc


async def get_context(request: Request) -> Context:
    services: Services = request.app.state.services
    if request.method == "GET":
        return Context(services, None)
    return Context(services, await authenticate(request))
