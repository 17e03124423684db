"""The registration facts a node issues, in their stable wire form (see `registry.facts`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from registry.facts import Fact
from registry.practitioners.enums import InstitutionKind, PractitionerCategory


@dataclass(frozen=True)
class InstitutionRegistered(Fact):
    TYPE: ClassVar[str] = "institution.registered"
    SUBJECT: ClassVar[tuple[str, ...]] = ("code",)

    code: str
    name: str
    kind: InstitutionKind
    region_code: str


@dataclass(frozen=True)
class PractitionerRegistered(Fact):
    TYPE: ClassVar[str] = "practitioner.registered"
    SUBJECT: ClassVar[tuple[str, ...]] = ("code",)

    code: str
    name: str
    category: PractitionerCategory
    region_code: str
    id_digest: str  # hex HMAC-SHA256 of the upper-cased resident ID
    id_masked: str
    institution_codes: tuple[str, ...]  # as given
    registered_on: date


@dataclass(frozen=True)
class PractitionerDeregistered(Fact):
    TYPE: ClassVar[str] = "practitioner.deregistered"
    SUBJECT: ClassVar[tuple[str, ...]] = ("practitioner_code",)

    practitioner_code: str
    region_code: str  # the person's
    ends_on: date
    reason: str


@dataclass(frozen=True)
class _AffiliationFact(Fact):
    SUBJECT: ClassVar[tuple[str, ...]] = ("practitioner_code",)

    practitioner_code: str
    institution_code: str
    region_code: str  # the institution's


@dataclass(frozen=True)
class AffiliationAdded(_AffiliationFact):
    TYPE: ClassVar[str] = "affiliation.added"

    starts_on: date


@dataclass(frozen=True)
class AffiliationEnded(_AffiliationFact):
    TYPE: ClassVar[str] = "affiliation.ended"

    ends_on: date
