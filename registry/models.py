"""Every table, gathered so that Alembic sees the whole schema."""

from registry.db import Base
from registry.eventlog import Event, EventCounter
from registry.federation.regulators import Regulator
from registry.federation.webhooks import WebhookDelivery
from registry.points.models import Decision, Objection, PointRecord, Restoration, Review, Sanction
from registry.practitioners.models import Affiliation, Institution, Practitioner, Registration

metadata = Base.metadata

__all__ = [
    "Affiliation",
    "Decision",
    "Event",
    "EventCounter",
    "Institution",
    "Objection",
    "PointRecord",
    "Practitioner",
    "Registration",
    "Regulator",
    "Restoration",
    "Review",
    "Sanction",
    "WebhookDelivery",
    "metadata",
]
