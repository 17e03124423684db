"""The points facts a node issues, in their stable wire form.

`region_code` is the region whose node is responsible for the fact: the deciding bureau for a decision and what
follows from it, the granting bureau for a restoration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar

from registry.facts import Fact
from registry.points.commands import DecisionEntry, PointRecordKey
from registry.points.enums import DecisionBasis, ReviewOutcome

CASE: tuple[str, ...] = ("region_code", "case_number")


@dataclass(frozen=True)
class DecisionRecorded(Fact):
    TYPE: ClassVar[str] = "decision.recorded"
    SUBJECT: ClassVar[tuple[str, ...]] = CASE

    case_number: str
    region_code: str
    institution_code: str
    basis: DecisionBasis
    decided_on: date
    conduct_from: date | None
    conduct_to: date | None
    behaviour: str
    amount_involved: Decimal | None
    entries: tuple[DecisionEntry, ...]  # sorted by practitioner code: the same entries in any order, one fact

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(sorted(self.entries, key=lambda e: e.practitioner_code)))


@dataclass(frozen=True)
class ObjectionFiled(PointRecordKey, Fact):
    TYPE: ClassVar[str] = "objection.filed"
    SUBJECT: ClassVar[tuple[str, ...]] = CASE

    statement: str


@dataclass(frozen=True)
class PointsReviewed(PointRecordKey, Fact):
    TYPE: ClassVar[str] = "points.reviewed"
    SUBJECT: ClassVar[tuple[str, ...]] = CASE

    outcome: ReviewOutcome
    points: int | None
    suspension_months: int | None
    reviewed_on: date
    reason: str


@dataclass(frozen=True)
class RestorationRecorded(Fact):
    TYPE: ClassVar[str] = "restoration.recorded"
    SUBJECT: ClassVar[tuple[str, ...]] = ("practitioner_code",)

    practitioner_code: str
    region_code: str
    activity: str
    restored_on: date
    points: int
