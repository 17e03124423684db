"""Facts (decisions, point records, objections, reviews, restorations) and the sanctions derived from them.

Facts are append-only: a correction is a new row that points at the old one. Sanctions are derived rows that
`points/sanctions.py` rewrites whenever a person's year is recomputed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, EnumText, Recorded, one_of
from registry.points.enums import (
    DecisionBasis,
    Responsibility,
    ReviewOutcome,
    SanctionChangeKind,
    SanctionKind,
    SanctionState,
)


class Decision(Recorded, Base):
    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("region_code", "case_number", name="uq_decisions_case"),
        one_of("basis", DecisionBasis),
        Index("ix_decisions_institution", "institution_code", "decided_on"),
        Index("ix_decisions_region_date", "region_code", "decided_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6))
    case_number: Mapped[str] = mapped_column(String(64))
    # No foreign keys to people or institutions: a replica may arrive before them; its origin checked them.
    institution_code: Mapped[str] = mapped_column(String(12))
    basis: Mapped[DecisionBasis] = mapped_column(EnumText(DecisionBasis, 32))
    decided_on: Mapped[date]
    conduct_from: Mapped[date | None]
    conduct_to: Mapped[date | None]
    behaviour: Mapped[str] = mapped_column(Text)
    amount_involved: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    # A digest of the decision as sent, so that a resend is recognised as the same decision.
    content_hash: Mapped[str] = mapped_column(String(64))


class PointRecord(Base):
    """One person's points in one decision; `id` is the order of recording."""

    __tablename__ = "point_records"
    __table_args__ = (
        UniqueConstraint("decision_id", "practitioner_code", name="uq_point_records_entry"),
        CheckConstraint("points BETWEEN 1 AND 12", name="points"),
        CheckConstraint("suspension_months BETWEEN 1 AND 6", name="months"),
        one_of("responsibility", Responsibility),
        Index("ix_point_records_person_date", "practitioner_code", "decided_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    practitioner_code: Mapped[str] = mapped_column(String(20))
    # Copied from the decision (immutable there too) so a person's year is one index range.
    decided_on: Mapped[date]
    points: Mapped[int] = mapped_column(SmallInteger)
    responsibility: Mapped[Responsibility] = mapped_column(EnumText(Responsibility, 16))
    suspension_months: Mapped[int | None] = mapped_column(SmallInteger)


class Objection(Recorded, Base):
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    point_record_id: Mapped[int] = mapped_column(ForeignKey("point_records.id"), index=True)
    statement: Mapped[str] = mapped_column(Text)


class Review(Recorded, Base):
    __tablename__ = "reviews"
    __table_args__ = (
        one_of("outcome", ReviewOutcome),
        CheckConstraint("points BETWEEN 1 AND 12", name="points"),
        CheckConstraint("suspension_months BETWEEN 1 AND 6", name="months"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    point_record_id: Mapped[int] = mapped_column(ForeignKey("point_records.id"), index=True)
    outcome: Mapped[ReviewOutcome] = mapped_column(EnumText(ReviewOutcome, 16))
    points: Mapped[int | None] = mapped_column(SmallInteger)
    suspension_months: Mapped[int | None] = mapped_column(SmallInteger)
    reviewed_on: Mapped[date]
    reason: Mapped[str] = mapped_column(Text)


class Restoration(Recorded, Base):
    __tablename__ = "restorations"
    __table_args__ = (
        CheckConstraint("points > 0", name="points"),
        Index("ix_restorations_person_date", "practitioner_code", "restored_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_code: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str] = mapped_column(String(6))
    activity: Mapped[str] = mapped_column(Text)
    restored_on: Mapped[date]
    points: Mapped[int] = mapped_column(SmallInteger)


class Sanction(Base):
    """Derived from the facts by the rules engine, and nothing else: a function of the facts, identified by its cause
    and kind. LIFTED rows are the sanctions the decisions as made would bring and their reviews took away."""

    __tablename__ = "sanctions"
    __table_args__ = (
        UniqueConstraint("cause_point_record_id", "kind", name="uq_sanctions_cause"),
        one_of("kind", SanctionKind),
        one_of("state", SanctionState),
        # The eligibility hot path: a person's sanctions that remove qualification on some day.
        Index(
            "ix_sanctions_in_force",
            "practitioner_code",
            "starts_on",
            postgresql_where="state <> 'LIFTED'",
        ),
        Index("ix_sanctions_region", "region_code", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_code: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[SanctionKind] = mapped_column(EnumText(SanctionKind, 16))
    state: Mapped[SanctionState] = mapped_column(EnumText(SanctionState, 16))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    # The last day it actually removes qualification (earlier than ends_on when superseded); NULL is open-ended.
    in_force_to: Mapped[date | None]
    months: Mapped[int | None] = mapped_column(SmallInteger)
    reregistration_allowed_from: Mapped[date | None]
    single_decision: Mapped[bool]
    cause_point_record_id: Mapped[int] = mapped_column(ForeignKey("point_records.id"))
    case_number: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(6))
    policy_version: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SanctionChangeRow(Base):
    """The history of the derived sanctions on this node: each change a recomputation made (and notified)."""

    __tablename__ = "sanction_changes"
    __table_args__ = (
        one_of("kind", SanctionKind),
        one_of("state", SanctionState),
        one_of("change", SanctionChangeKind),
        Index("ix_sanction_changes_person", "practitioner_code", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_code: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[SanctionKind] = mapped_column(EnumText(SanctionKind, 16))
    case_number: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(6))
    change: Mapped[SanctionChangeKind] = mapped_column(EnumText(SanctionChangeKind, 16))
    state: Mapped[SanctionState] = mapped_column(EnumText(SanctionState, 16))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    reregistration_allowed_from: Mapped[date | None]
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
