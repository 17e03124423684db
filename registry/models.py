"""Every table, gathered so that Alembic sees the whole schema."""

from registry.audit import AuditHead, AuditRow
from registry.db import Base
from registry.disclosures import Disclosure
from registry.eventlog import Event, EventCounter
from registry.federation.regulators import Regulator
from registry.federation.webhooks import WebhookDelivery
from registry.points.models import Decision, Objection, PointRecord, Restoration, Review, Sanction
from registry.practitioners.models import Affiliation, Institution, Practitioner, Registration
from registry.tokens import IssuedToken, KeyRow

metadata = Base.metadata

__all__ = [
    "Affiliation",
    "AuditHead",
    "AuditRow",
    "Decision",
    "Disclosure",
    "Event",
    "EventCounter",
    "Institution",
    "IssuedToken",
    "KeyRow",
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
