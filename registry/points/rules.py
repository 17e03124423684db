"""The points engine: facts and policy in, sanctions out. Pure: no I/O, no clock, no framework.

A person's calendar year (China Standard Time) is replayed from its point records in order (decision date, then
order of recording). The same facts always give the same sanctions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta

from registry.points.policy import Policy


class RecordState(StrEnum):
    VALID = "VALID"
    DISPUTED = "DISPUTED"
    REVOKED = "REVOKED"


class SanctionKind(StrEnum):
    SUSPENSION = "SUSPENSION"
    TERMINATION = "TERMINATION"


class SanctionState(StrEnum):
    VALID = "VALID"
    LIFTED = "LIFTED"
    SUPERSEDED = "SUPERSEDED"


class ReviewOutcome(StrEnum):
    UPHELD = "UPHELD"
    AMENDED = "AMENDED"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class PointEntry:
    key: str  # stable identity of the point record
    decided_on: date
    sequence: int  # order of recording: the tie-break between decisions of one day
    points: int  # after any amendment
    state: RecordState
    suspension_months: int | None  # the bureau's choice, when this entry brings or lengthens a suspension


@dataclass(frozen=True)
class Restoration:
    restored_on: date
    points: int


@dataclass(frozen=True)
class DerivedSanction:
    kind: SanctionKind
    state: SanctionState  # VALID or SUPERSEDED; the caller lifts stored sanctions that no longer derive
    starts_on: date
    ends_on: date | None  # inclusive; None for a termination
    months: int | None
    reregistration_allowed_from: date | None
    in_force_to: date | None  # the last day it removes qualification; None is open-ended
    cause: str  # key of the entry that brought it
    single_decision: bool  # that entry alone reached the threshold


@dataclass(frozen=True)
class YearOutcome:
    year: int
    total: int
    interview_required: bool
    sanctions: tuple[DerivedSanction, ...]


@dataclass(frozen=True)
class ObjectionFiled:
    sequence: int


@dataclass(frozen=True)
class Reviewed:
    sequence: int
    outcome: ReviewOutcome
    points: int | None = None
    suspension_months: int | None = None


RecordEvent = ObjectionFiled | Reviewed


def add_months(start: date, months: int) -> date:
    """The last day of N calendar months from `start`: 2025-03-10 + 4 → 2025-07-09.

    The same day N months later is the first free day (clamped to the month's end: 01-31 + 1 → 02-28), so the
    last day is the day before it.
    """
    return start + relativedelta(months=months) - timedelta(days=1)


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February."""
    return day + relativedelta(years=years)


def current_record(
    original_points: int, original_months: int | None, events: Sequence[RecordEvent]
) -> tuple[RecordState, int, int | None]:
    """A point record as it stands after its objections and reviews, applied in order. Revocation is final."""
    state, points, months = RecordState.VALID, original_points, original_months
    for event in sorted(events, key=lambda e: e.sequence):
        if state is RecordState.REVOKED:
            break
        if isinstance(event, ObjectionFiled):
            state = RecordState.DISPUTED
        elif event.outcome is ReviewOutcome.REVOKED:
            state = RecordState.REVOKED
        else:
            state = RecordState.VALID
            if event.outcome is ReviewOutcome.AMENDED and event.points is not None:
                points = event.points
                months = event.suspension_months if event.suspension_months is not None else months
    return state, points, months


@dataclass
class _Suspension:
    cause: str
    starts_on: date
    months: int
    single: bool
    superseded_on: date | None = None

    @property
    def ends_on(self) -> date:
        return add_months(self.starts_on, self.months)


def derive_year(
    entries: Sequence[PointEntry], restorations: Sequence[Restoration], policy_on: Callable[[date], Policy]
) -> YearOutcome:
    """Replay one person's year and derive its suspension and termination."""
    years = {e.decided_on.year for e in entries} | {r.restored_on.year for r in restorations}
    if len(years) > 1:
        raise ValueError(f"facts of several years given: {sorted(years)}")
    year = years.pop() if years else 0
    counted = sorted(
        (e for e in entries if e.state is not RecordState.REVOKED), key=lambda e: (e.decided_on, e.sequence)
    )
    pending = sorted(restorations, key=lambda r: r.restored_on)
    total = 0
    suspension: _Suspension | None = None
    termination: DerivedSanction | None = None
    for entry in counted:
        while pending and pending[0].restored_on <= entry.decided_on:
            total = max(0, total - pending.pop(0).points)
        total += entry.points
        if termination is not None:
            continue  # nothing further changes a terminated year
        policy = policy_on(entry.decided_on)
        if total >= policy.termination_threshold:
            single = entry.points >= policy.termination_threshold
            termination = DerivedSanction(
                kind=SanctionKind.TERMINATION,
                state=SanctionState.VALID,
                starts_on=entry.decided_on,
                ends_on=None,
                months=None,
                reregistration_allowed_from=add_years(
                    entry.decided_on, policy.bar_years_single if single else policy.bar_years_accumulated
                ),
                in_force_to=None,
                cause=entry.key,
                single_decision=single,
            )
            if suspension is not None and suspension.ends_on >= entry.decided_on:
                suspension.superseded_on = entry.decided_on
        elif total >= policy.suspension_threshold:
            wanted = policy.clamp_months(
                entry.suspension_months
                if entry.suspension_months is not None
                else policy.default_months(total, entry.points if suspension is None else 0)
            )
            if suspension is None:
                suspension = _Suspension(
                    entry.key, entry.decided_on, wanted, entry.points >= policy.suspension_threshold
                )
            elif suspension.ends_on >= entry.decided_on:
                suspension.months = max(suspension.months, wanted)  # lengthen, never shorten
    for restoration in pending:
        total = max(0, total - restoration.points)

    sanctions: list[DerivedSanction] = []
    if suspension is not None:
        superseded = suspension.superseded_on is not None
        sanctions.append(
            DerivedSanction(
                kind=SanctionKind.SUSPENSION,
                state=SanctionState.SUPERSEDED if superseded else SanctionState.VALID,
                starts_on=suspension.starts_on,
                ends_on=suspension.ends_on,
                months=suspension.months,
                reregistration_allowed_from=None,
                in_force_to=suspension.superseded_on - timedelta(days=1)
                if suspension.superseded_on
                else suspension.ends_on,
                cause=suspension.cause,
                single_decision=suspension.single,
            )
        )
    if termination is not None:
        sanctions.append(termination)
    sanctions.sort(key=lambda s: (s.starts_on, s.kind))
    interview = policy_on(date(year, 12, 31) if year else date.min).interview_threshold
    return YearOutcome(
        year=year,
        total=total,
        interview_required=interview is not None and total >= interview,
        sanctions=tuple(sanctions),
    )


def restoration_refusal(policy: Policy, already_restored: int, points: int, terminated: bool) -> str | None:
    """Why a restoration cannot be accepted (a stable error code), or None."""
    if policy.restoration_points_per_activity <= 0 or policy.restoration_cap_per_year <= 0:
        return "RESTORATION_NOT_ALLOWED"
    if terminated and not policy.restoration_after_termination:
        return "RESTORATION_AFTER_TERMINATION"
    if already_restored + points > policy.restoration_cap_per_year:
        return "RESTORATION_CAP_EXCEEDED"
    return None
