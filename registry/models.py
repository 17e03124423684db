"""Every table, gathered so that Alembic sees the whole schema."""

from registry.audit import AuditHead, AuditRow
from registry.db import Base
from registry.disclosures import Disclosure
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
from registry.tokens import IssuedToken, KeyRow

metadata = Base.metadata

__all__ = [
    "Affiliation",
    "AuditHead",
    "AuditRow",
    "Checkpoint",
    "Decision",
    "Deregistration",
    "Disclosure",
    "FeedEvent",
    "FeedHead",
    "Institution",
    "IssuedToken",
    "KeyRow",
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
