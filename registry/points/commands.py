"""What a caller asks of the points domain: one frozen command per use case, with its pure input checks.

`problems(today)` lists every mistake in the command itself, each at its domain field path; the services run it
before they touch the database. Whatever needs the database (is the person known? is the case number free?) is
the service's to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from registry import checks
from registry.errors import Problem, found
from registry.points.enums import DecisionBasis, Responsibility, ReviewOutcome, SanctionKind


@dataclass(frozen=True)
class DecisionEntry:
    """One person's points in a decision."""

    practitioner_code: str
    points: int
    responsibility: Responsibility
    suspension_months: int | None = None  # the bureau's choice of months, when these points bring a suspension

    def problems(self, *at: str | int) -> list[Problem]:
        return found(
            checks.practitioner_code(self.practitioner_code, *at, "practitioner_code"),
            checks.points(self.points, *at, "points"),
            checks.months(self.suspension_months, *at, "suspension_months"),
        )


@dataclass(frozen=True)
class RecordDecision:
    case_number: str
    region_code: str  # the deciding bureau
    institution_code: str  # the institution sanctioned for the conduct
    basis: DecisionBasis
    decided_on: date
    behaviour: str
    entries: tuple[DecisionEntry, ...]
    conduct_from: date | None = None
    conduct_to: date | None = None
    amount_involved: Decimal | None = None

    def problems(self, today: date) -> list[Problem]:
        conduct_from, conduct_to = self.conduct_from, self.conduct_to
        at_fault = found(
            checks.text(self.case_number, 64, "case_number"),
            checks.region(self.region_code, "region_code"),
            checks.institution_code(self.institution_code, "institution_code"),
            checks.text(self.behaviour, 4000, "behaviour", lines=True),
            checks.not_future(self.decided_on, today, "decided_on"),
            checks.not_future(conduct_from, today, "conduct_from"),
            checks.not_future(conduct_to, today, "conduct_to"),
            checks.that(
                conduct_from is None or conduct_to is None or conduct_from <= conduct_to,
                "the conduct starts after it ends",
                "conduct_from",
            ),
            checks.that(
                conduct_to is None or conduct_to <= self.decided_on, "the conduct ends after the decision", "conduct_to"
            ),
            checks.amount(self.amount_involved, "amount_involved"),
            checks.that(bool(self.entries), "a decision scores at least one person", "entries"),
            checks.distinct(
                [e.practitioner_code for e in self.entries], "a person appears twice in one decision", "entries"
            ),
        )
        for i, entry in enumerate(self.entries):
            at_fault += entry.problems("entries", i)
        return at_fault


@dataclass(frozen=True)
class PointRecordKey:
    """A point record, named as on every node: the deciding bureau's case and the person scored."""

    case_number: str
    region_code: str
    practitioner_code: str

    def key_problems(self) -> list[Problem]:
        return found(
            checks.text(self.case_number, 64, "case_number"),
            checks.region(self.region_code, "region_code"),
            checks.practitioner_code(self.practitioner_code, "practitioner_code"),
        )


@dataclass(frozen=True)
class FileObjection(PointRecordKey):
    statement: str

    def problems(self) -> list[Problem]:
        return [*self.key_problems(), *found(checks.text(self.statement, 4000, "statement", lines=True))]


@dataclass(frozen=True)
class ReviewPoints(PointRecordKey):
    outcome: ReviewOutcome
    reviewed_on: date
    reason: str
    points: int | None = None  # AMENDED: the new points
    suspension_months: int | None = None  # AMENDED: the new choice of months, if any

    def problems(self, today: date) -> list[Problem]:
        amended = self.outcome is ReviewOutcome.AMENDED
        return self.key_problems() + found(
            checks.that(not amended or self.points is not None, "an amendment gives the new points", "points"),
            checks.that(
                amended or (self.points is None and self.suspension_months is None),
                "only an amendment changes points or months",
                "points",
            ),
            checks.points(self.points, "points"),
            checks.months(self.suspension_months, "suspension_months"),
            checks.text(self.reason, 4000, "reason", lines=True),
            checks.not_future(self.reviewed_on, today, "reviewed_on"),
        )


@dataclass(frozen=True)
class RecordRestoration:
    practitioner_code: str
    region_code: str  # the bureau that accepts the activity
    activity: str
    restored_on: date

    def problems(self, today: date) -> list[Problem]:
        return found(
            checks.practitioner_code(self.practitioner_code, "practitioner_code"),
            checks.text(self.activity, 2000, "activity", lines=True),
            checks.region(self.region_code, "region_code"),
            checks.not_future(self.restored_on, today, "restored_on"),
        )


# ---- query criteria ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCriteria:
    """A page of a listing, newest first; `after` is the id of the last row of the previous page."""

    region_code: str | None = None
    institution_code: str | None = None
    from_date: date | None = None
    to_date: date | None = None
    kind: SanctionKind | None = None  # sanctions only
    first: int = 50
    after: int | None = None

    def problems(self) -> list[Problem]:
        return found(
            None if self.region_code is None else checks.region(self.region_code, "region_code"),
            None
            if self.institution_code is None
            else checks.institution_code(self.institution_code, "institution_code"),
            checks.day(self.from_date, "from_date"),
            checks.day(self.to_date, "to_date"),
        )
