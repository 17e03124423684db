"""Institutions, practitioners, their registration periods and their affiliations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, EnumText, Recorded, one_of
from registry.practitioners.enums import InstitutionKind, PractitionerCategory


class Institution(Base):
    __tablename__ = "institutions"
    __table_args__ = (one_of("kind", InstitutionKind),)

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[InstitutionKind] = mapped_column(EnumText(InstitutionKind, 32))
    region_code: Mapped[str] = mapped_column(String(6))
    registered_at: Mapped[datetime] = mapped_column(server_default=func.now())
    registered_by: Mapped[str] = mapped_column(String(64))
    # The registration fact that stands (two nodes registering one code: the lowest origin and seq win).
    origin: Mapped[str] = mapped_column(String(6))
    origin_seq: Mapped[int] = mapped_column(BigInteger)


class Practitioner(Base):
    __tablename__ = "practitioners"
    __table_args__ = (one_of("category", PractitionerCategory),)

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[PractitionerCategory] = mapped_column(EnumText(PractitionerCategory, 32))
    region_code: Mapped[str] = mapped_column(String(6))
    # The resident ID is never kept in clear: a keyed hash to find the person again, a masked form to show.
    id_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_masked: Mapped[str] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The registration these fields come from: the latest by (registered_on, origin, origin_seq).
    registered_on: Mapped[date]
    origin: Mapped[str] = mapped_column(String(6))
    origin_seq: Mapped[int] = mapped_column(BigInteger)


class Registration(Recorded, Base):
    """A period of 登记备案. A person registered again after a bar gets a new period and a clean status.

    `ends_on` is derived from the facts (see `periods.py`): the first deregistration on or after the start, or the
    day before the next registration.
    """

    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period"),
        Index("ix_registrations_practitioner_period", "practitioner_code", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_code: Mapped[str] = mapped_column(ForeignKey("practitioners.code"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]


class Affiliation(Recorded, Base):
    """`ended_on` is what an `affiliation.ended` fact said; `ends_on` is derived: the earlier of that and the end of
    the registration period the affiliation started in (see `periods.py`)."""

    __tablename__ = "affiliations"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period"),
        Index("ix_affiliations_lookup", "practitioner_code", "institution_code", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys: an affiliation issued by the institution's node may arrive before the person's registration.
    practitioner_code: Mapped[str] = mapped_column(String(20))
    institution_code: Mapped[str] = mapped_column(String(12))
    starts_on: Mapped[date]
    ended_on: Mapped[date | None]
    ends_on: Mapped[date | None]


class Deregistration(Recorded, Base):
    __tablename__ = "deregistrations"
    __table_args__ = (Index("ix_deregistrations_practitioner", "practitioner_code", "ends_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_code: Mapped[str] = mapped_column(String(20))
    ends_on: Mapped[date]  # the last day of the registration it ends
    reason: Mapped[str] = mapped_column(Text)
