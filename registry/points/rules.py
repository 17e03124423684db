"""The points engine: facts and policy in, sanctions out. Pure: no I/O, no clock, no framework.

A person's calendar year (China Standard Time) is replayed from its point records in order (decision date,
then order of recording). The same facts always give the same sanctions, whatever order they are passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from registry.points.enums import RecordState, ReviewOutcome, SanctionKind, SanctionState
from registry.points.policy import Policy

CST = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class PointEntry:
    key: str  # stable identity of the point record
    decided_on: date  # a China Standard Time calendar day
    sequence: int  # the decision's place in its origin's log: with `origin`, the tie-break within one day
    points: int  # after any amendment
    state: RecordState
    suspension_months: int | None  # the bureau's choice, when this entry brings or lengthens a suspension
    origin: str = ""  # the node that issued the decision (orders decisions of one day from several nodes)
    # The policy of the deciding bureau's region on the decision date: when this entry crosses a threshold, it sets
    # the thresholds and default months. None: `policy_on(decided_on)`.
    policy: Policy | None = None


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
    points: int | None = None  # AMENDED: the new points
    suspension_months: int | None = None  # AMENDED: the new choice of months, if any


RecordEvent: TypeAlias = ObjectionFiled | Reviewed


# ---- calendar ----------------------------------------------------------------------------------------------


def add_months(start: date, months: int) -> date:
    """The last day (inclusive) of a suspension of `months` calendar months from `start`.

    It is the day before the same day-of-month `months` later, that day clamped to the month's length:
    2025-03-10 + 4 → 2025-07-09; 2025-01-31 + 1 → (2025-02-28) − 1 → 2025-02-27;
    2024-01-31 + 1 → (2024-02-29) − 1 → 2024-02-28.
    """
    if months < 1:
        raise ValueError(f"a suspension lasts at least one month, not {months}")
    first_free: date = start + relativedelta(months=months)
    return first_free - timedelta(days=1)


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    later: date = day + relativedelta(years=years)
    return later


def year_of(day: date) -> int:
    """The points cycle: the calendar year of the (CST) decision date."""
    return day.year


def cst_date(moment: datetime) -> date:
    """The calendar day of a moment in China; a naive moment is taken as China time already."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.date()
    return moment.astimezone(CST).date()


# ---- a point record ----------------------------------------------------------------------------------------


def current_record(
    original_points: int, original_months: int | None, events: Sequence[RecordEvent]
) -> tuple[RecordState, int, int | None]:
    """A point record as it stands after its objections and reviews, applied in sequence order.

    An objection disputes it (the points still count); UPHELD and AMENDED make it VALID again, AMENDED with
    the new points and months where given. Revocation is final: nothing after it revives the record.
    """
    state, points, months = RecordState.VALID, original_points, original_months
    for event in sorted(events, key=lambda e: e.sequence):
        if isinstance(event, ObjectionFiled):
            state = RecordState.DISPUTED
        elif event.outcome is ReviewOutcome.REVOKED:
            return RecordState.REVOKED, points, months
        else:
            state = RecordState.VALID
            if event.outcome is ReviewOutcome.AMENDED:
                points = event.points if event.points is not None else points
                months = event.suspension_months if event.suspension_months is not None else months
    return state, points, months


# ---- a person's year ---------------------------------------------------------------------------------------


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

    def derived(self) -> DerivedSanction:
        superseded = self.superseded_on is not None
        return DerivedSanction(
            kind=SanctionKind.SUSPENSION,
            state=SanctionState.SUPERSEDED if superseded else SanctionState.VALID,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            months=self.months,
            reregistration_allowed_from=None,
            # A same-day termination leaves it no day in force: in_force_to then precedes starts_on.
            in_force_to=self.superseded_on - timedelta(days=1) if self.superseded_on else self.ends_on,
            cause=self.cause,
            single_decision=self.single,
        )


def _termination(entry: PointEntry, policy: Policy) -> DerivedSanction:
    single = entry.points >= policy.termination_threshold
    bar = policy.bar_years_single if single else policy.bar_years_accumulated
    return DerivedSanction(
        kind=SanctionKind.TERMINATION,
        state=SanctionState.VALID,
        starts_on=entry.decided_on,
        ends_on=None,
        months=None,
        reregistration_allowed_from=add_years(entry.decided_on, bar),
        in_force_to=None,
        cause=entry.key,
        single_decision=single,
    )


def _year(entries: Sequence[PointEntry], restorations: Sequence[Restoration], year: int | None) -> int:
    years = {e.decided_on.year for e in entries} | {r.restored_on.year for r in restorations}
    if year is not None:
        years.add(year)
    if len(years) > 1:
        raise ValueError(f"facts of several years given: {sorted(years)}")
    keys = [e.key for e in entries]
    if len(set(keys)) != len(keys):
        raise ValueError("two point entries share a key")
    if any(e.points < 0 for e in entries) or any(r.points < 0 for r in restorations):
        raise ValueError("points are never negative")
    return years.pop() if years else 0


def derive_year(
    entries: Sequence[PointEntry],
    restorations: Sequence[Restoration],
    policy_on: Callable[[date], Policy],
    *,
    year: int | None = None,
) -> YearOutcome:
    """Replay one person's calendar year and derive its suspension and termination.

    `policy_on(day)` gives the person's own policy on a day: it decides the interview flag, and the thresholds of
    entries that carry no policy of their own. `year` names the year when there may be no facts (otherwise the
    facts' year; 0 when neither is known).
    """
    year = _year(entries, restorations, year)
    # The key breaks ties only between entries sharing date and sequence: the input order never matters.
    counted = sorted(
        (e for e in entries if e.state is not RecordState.REVOKED),
        key=lambda e: (e.decided_on, e.origin, e.sequence, e.key),
    )
    pending = deque(sorted(restorations, key=lambda r: r.restored_on))
    running = 0
    suspension: _Suspension | None = None
    termination: DerivedSanction | None = None
    for entry in counted:
        # A restoration removes points from its day onward; points not yet given cannot be removed.
        while pending and pending[0].restored_on <= entry.decided_on:
            running = max(0, running - pending.popleft().points)
        running += entry.points
        if termination is not None or entry.points == 0:
            continue  # nothing further changes a terminated year; a zero entry raises nothing
        policy = entry.policy or policy_on(entry.decided_on)
        if running >= policy.termination_threshold:
            termination = _termination(entry, policy)
            if suspension is not None and suspension.ends_on >= entry.decided_on:
                suspension.superseded_on = entry.decided_on
        elif running >= policy.suspension_threshold:
            chosen = entry.suspension_months
            if suspension is None:
                months = policy.default_months(running, entry.points) if chosen is None else chosen
                single = entry.points >= policy.suspension_threshold
                suspension = _Suspension(entry.key, entry.decided_on, policy.clamp_months(months), single)
            elif suspension.ends_on >= entry.decided_on:
                # Lengthened from its original start, never shortened; one that already ended stays as it was.
                months = policy.default_months_accumulated[running] if chosen is None else chosen
                suspension.months = max(suspension.months, policy.clamp_months(months))

    for restoration in pending:  # those after the last decision
        running = max(0, running - restoration.points)
    sanctions = [s for s in (suspension.derived() if suspension else None, termination) if s is not None]
    sanctions.sort(key=lambda s: (s.starts_on, s.kind))
    # The flag describes the year as a whole: the policy in force at its end decides it.
    interview = policy_on(date(year, 12, 31) if year else date.min).interview_threshold
    return YearOutcome(
        year=year,
        total=running,
        interview_required=interview is not None and running >= interview,
        sanctions=tuple(sanctions),
    )


def restoration_refusal(policy: Policy, already_restored_this_year: int, points: int, terminated: bool) -> str | None:
    """Why a restoration of `points` cannot be accepted (a stable error code), or None when it can."""
    if policy.restoration_points_per_activity <= 0 or policy.restoration_cap_per_year <= 0:
        return "RESTORATION_NOT_ALLOWED"
    if terminated and not policy.restoration_after_termination:
        return "RESTORATION_AFTER_TERMINATION"
    if already_restored_this_year + points > policy.restoration_cap_per_year:
        return "RESTORATION_CAP_EXCEEDED"
    return None
