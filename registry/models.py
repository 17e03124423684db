"""Every table, gathered so that Alembic sees the whole schema."""

from registry.db import Base
from registry.eventlog import OriginHead
from registry.federation.models import (
    Checkpoint,
    FeedEvent,
    FeedHead,
    NodeKey,
    NodeSetting,
    Peer,
    PeerOrigin,
)
from registry.federation.regulators import Regulator
from registry.federation.webhooks import WebhookDelivery
from registry.points.models import Decision, Objection, PointRecord, Restoration, Review, Sanction, SanctionChangeRow
from registry.practitioners.models import Affiliation, Deregistration, Institution, Practitioner, Registration

metadata = Base.metadata

__all__ = [
    "Affiliation",
    "Checkpoint",
    "Decision",
    "Deregistration",
    "FeedEvent",
    "FeedHead",
    "Institution",
    "NodeKey",
    "NodeSetting",
    "Objection",
    "OriginHead",
    "Peer",
    "PeerOrigin",
    "PointRecord",
    "Practitioner",
    "Registration",
    "Regulator",
    "Restoration",
    "Review",
    "Sanction",
    "SanctionChangeRow",
    "WebhookDelivery",
    "metadata",
]
