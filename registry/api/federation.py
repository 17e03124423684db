"""How this node stands in the network (operators and peers, national role)."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from registry import access, clock
from registry.federation import status
from registry.federation.status import PeerState as PeerStateEnum
from registry.federation.webhooks import regulator_status

from .common import allow
from .context import Info
from .enums import expose
from .mapping import output

PeerState = expose(
    PeerStateEnum,
    "PeerState",
    "How a peer stands, the most serious first.",
    {
        PeerStateEnum.OK: "Heard from within REGISTRY_PEER_STALE_SECONDS (300 by default), and its pages verify.",
        PeerStateEnum.STALE: "Not heard from for longer than REGISTRY_PEER_STALE_SECONDS.",
        PeerStateEnum.UNREACHABLE: "The last attempts to reach it failed.",
        PeerStateEnum.HALTED: "Its newest page failed verification and was not applied (see `rejectedCount`).",
    },
)


@strawberry.type(description="A node this one follows and answers. Sequence numbers are positions in a feed.")
class PeerStatus:
    region: str = strawberry.field(description="The region the peer speaks for (000000: the national node).")
    url: str = strawberry.field(description="Where this node reaches it.")
    last_heard_at: datetime | None = strawberry.field(
        description="When it last sent a page (verified or not); null: never."
    )
    last_seq: int = strawberry.field(description="The newest position of the peer's feed it has announced.")
    applied_seq: int = strawberry.field(description="The newest position of the peer's feed applied here.")
    acknowledged_seq: int = strawberry.field(description="The newest position of this node's feed the peer applied.")
    state: PeerState = strawberry.field(  # type: ignore[valid-type]
        description="OK, or the most serious problem to act on."
    )
    rejected_count: int = strawberry.field(description="Pages from this peer refused by verification.")


@strawberry.type(description="A regulator's webhook receiver and its delivery backlog.")
class RegulatorStatus:
    name: str = strawberry.field(description="The regulator's name, as the operator configured it.")
    url: str = strawberry.field(description="Where its webhooks are delivered.")
    pending: int = strawberry.field(description="Deliveries neither made nor given up yet.")
    failed: int = strawberry.field(description="Deliveries given up after 3 days of retries.")
    last_delivered_at: datetime | None = strawberry.field(description="The last delivery made; null: none yet.")


@strawberry.type(description="A chain of facts this node holds: its own, or another origin's replicated here.")
class OriginStatus:
    region: str = strawberry.field(description="The node that issued the facts.")
    seq: int = strawberry.field(description="Its last fact held here.")
    checkpoint_seq: int = strawberry.field(description="Its last signed checkpoint verified here (signed, if ours).")


@strawberry.type(description="How this node stands in the network of province nodes.")
class FederationStatus:
    region: str = strawberry.field(description="The region this node speaks for (000000: the national node).")
    public_key: str = strawberry.field(description="This node's Ed25519 public key (base64).")
    peers: list[PeerStatus] = strawberry.field(description="The nodes this one follows, by region.")
    regulators: list[RegulatorStatus] = strawberry.field(
        description="The regulators told of suspensions and terminations, by name."
    )
    origins: list[OriginStatus] = strawberry.field(description="Every chain of facts held here.")


@strawberry.type
class FederationQuery:
    @strawberry.field(
        description="This node, its peers and its regulators: for the national role (the node's operators); others "
        "get FORBIDDEN."
    )
    async def federation_status(self, info: Info) -> FederationStatus:
        services = info.context.services
        allow(access.read_federation_status(info.context.actor))
        peers = await status.peers(services.db, clock.now(), timedelta(seconds=services.peer_stale_seconds))
        return FederationStatus(
            region=services.node.region,
            public_key=services.public_key,
            peers=[output(PeerStatus, p) for p in peers],
            regulators=[output(RegulatorStatus, r) for r in await regulator_status(services.db)],
            origins=[output(OriginStatus, o) for o in await status.origins(services.db)],
        )
