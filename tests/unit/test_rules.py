"""The pure points engine: calendar arithmetic, record states, the worked examples of the domain, lengthening,
restorations, and properties over random facts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.points.policy import Policy, default_book
from registry.points.rules import (
    DerivedSanction,
    ObjectionFiled,
    PointEntry,
    RecordEvent,
    RecordState,
    Restoration,
    Reviewed,
    ReviewOutcome,
    SanctionKind,
    SanctionState,
    YearOutcome,
    add_months,
    add_years,
    cst_date,
    current_record,
    derive_year,
    restoration_refusal,
    year_of,
)

BOOK = default_book()
PolicyOn = Callable[[date], Policy]


def region(code: str) -> PolicyOn:
    return lambda on: BOOK.policy_for(code, on)


NATIONAL, TIANJIN, BEIJING = region("520201"), region("120101"), region("110101")
VALID, DISPUTED, REVOKED = RecordState.VALID, RecordState.DISPUTED, RecordState.REVOKED
SUSPENSION, TERMINATION = SanctionKind.SUSPENSION, SanctionKind.TERMINATION


def entry(
    key: str, day: date, points: int, seq: int = 0, months: int | None = None, state: RecordState = VALID
) -> PointEntry:
    return PointEntry(key=key, decided_on=day, sequence=seq, points=points, state=state, suspension_months=months)


def d(month: int, day: int, year: int = 2025) -> date:
    return date(year, month, day)


def only(outcome: YearOutcome) -> DerivedSanction:
    (sanction,) = outcome.sanctions
    return sanction


def suspension(start: date, months: int, cause: str, single: bool, end: date) -> DerivedSanction:
    return DerivedSanction(SUSPENSION, SanctionState.VALID, start, end, months, None, end, cause, single)


# ---- calendar ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (d(3, 10), 4, d(7, 9)),  # the contract's example
        (d(1, 31), 1, d(2, 27)),  # 31 Jan + 1 month is 28 Feb (clamped); the day before is the last
        (d(11, 30, 2024), 3, d(2, 27)),
        (d(1, 31, 2024), 1, d(2, 28, 2024)),  # leap year: 29 Feb is the first free day
        (d(11, 30, 2023), 3, d(2, 28, 2024)),
        (d(2, 29, 2024), 12, d(2, 27)),
        (d(2, 28), 1, d(3, 27)),
        (d(1, 1), 6, d(6, 30)),
        (d(8, 31), 6, d(2, 27, 2026)),
        (d(12, 15), 1, d(1, 14, 2026)),  # a suspension runs across 1 January
    ],
)
def test_add_months_ends_the_day_before_the_same_day_n_months_later(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


def test_add_months_refuses_less_than_a_month() -> None:
    with pytest.raises(ValueError):
        add_months(d(3, 10), 0)


def test_add_years_moves_29_february_to_28() -> None:
    assert add_years(d(2, 29, 2024), 1) == d(2, 28, 2025)
    assert add_years(d(2, 29, 2024), 3) == d(2, 28, 2027)
    assert add_years(d(2, 29, 2024), 4) == d(2, 29, 2028)
    assert add_years(d(3, 10), 3) == d(3, 10, 2028)


def test_year_and_china_calendar_day() -> None:
    assert year_of(d(12, 31)) == 2025
    # Midnight in Beijing is 16:00 UTC the day before.
    assert cst_date(datetime(2025, 12, 31, 16, 0, tzinfo=UTC)) == d(1, 1, 2026)
    assert cst_date(datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC)) == d(12, 31)
    assert cst_date(datetime(2025, 6, 1, 23, 30)) == d(6, 1)  # naive: already China time
    assert cst_date(datetime(2025, 6, 1, 12, 0, tzinfo=ZoneInfo("America/New_York"))) == d(6, 2)
    assert cst_date(datetime(2025, 6, 1, 0, 30, tzinfo=timezone(timedelta(hours=9)))) == d(5, 31)


# ---- a point record's state --------------------------------------------------------------------------------


def test_current_record_folds_objections_and_reviews_in_sequence_order() -> None:
    assert current_record(9, None, []) == (VALID, 9, None)
    assert current_record(9, 3, [ObjectionFiled(1)]) == (DISPUTED, 9, 3)
    assert current_record(9, None, [ObjectionFiled(1), Reviewed(2, ReviewOutcome.UPHELD)]) == (VALID, 9, None)
    amended: list[RecordEvent] = [ObjectionFiled(1), Reviewed(2, ReviewOutcome.AMENDED, 6, 2)]
    assert current_record(9, None, amended) == (VALID, 6, 2)
    assert current_record(10, 4, [Reviewed(1, ReviewOutcome.AMENDED, 11)]) == (VALID, 11, 4)  # months kept
    assert current_record(10, 4, [Reviewed(1, ReviewOutcome.AMENDED, None, 5)]) == (VALID, 10, 5)
    again: list[RecordEvent] = [Reviewed(1, ReviewOutcome.AMENDED, 6), ObjectionFiled(2)]
    assert current_record(9, None, again) == (DISPUTED, 6, None)  # a new objection to the amended record
    # Passed out of order, applied in sequence order.
    assert current_record(9, None, [Reviewed(2, ReviewOutcome.UPHELD), ObjectionFiled(1)])[0] is VALID


def test_revocation_is_final() -> None:
    final: list[RecordEvent] = [
        Reviewed(1, ReviewOutcome.REVOKED),
        ObjectionFiled(2),
        Reviewed(3, ReviewOutcome.AMENDED, 3),
    ]
    assert current_record(9, None, final) == (REVOKED, 9, None)
    upheld_after: list[RecordEvent] = [Reviewed(1, ReviewOutcome.REVOKED), Reviewed(2, ReviewOutcome.UPHELD)]
    assert current_record(9, None, upheld_after)[0] is REVOKED
    assert current_record(9, None, [ObjectionFiled(1), Reviewed(2, ReviewOutcome.REVOKED)])[0] is REVOKED


# ---- the domain's worked examples --------------------------------------------------------------------------


def test_twelve_in_one_decision_terminates_with_a_three_year_bar() -> None:
    outcome = derive_year([entry("clinic", d(3, 10), 12)], [], NATIONAL)
    assert outcome == YearOutcome(
        2025,
        12,
        False,
        (
            DerivedSanction(
                TERMINATION, SanctionState.VALID, d(3, 10), None, None, d(3, 10, 2028), None, "clinic", True
            ),
        ),
    )


def test_inner_mongolia_ten_points_with_four_months_chosen() -> None:
    outcome = derive_year([entry("imaging", d(4, 15), 10, months=4)], [], NATIONAL)
    assert only(outcome) == suspension(d(4, 15), 4, "imaging", True, d(8, 14))
    assert outcome.total == 10 and not outcome.interview_required


def test_guizhou_eleven_for_six_months_and_ten_for_three() -> None:
    assert only(derive_year([entry("a", d(5, 6), 11, months=6)], [], NATIONAL)).ends_on == d(11, 5)
    ten = only(derive_year([entry("b", d(5, 6), 10, months=3)], [], NATIONAL))
    assert (ten.months, ten.ends_on) == (3, d(8, 5))  # below the 4-month default: the bureau chooses


def test_chongqing_ten_then_four_terminates_with_one_year_bar_and_supersedes() -> None:
    outcome = derive_year([entry("first", d(2, 15), 10, 1), entry("second", d(5, 20), 4, 2)], [], NATIONAL)
    assert outcome.total == 14
    assert outcome.sanctions == (
        DerivedSanction(SUSPENSION, SanctionState.SUPERSEDED, d(2, 15), d(6, 14), 4, None, d(5, 19), "first", True),
        DerivedSanction(TERMINATION, SanctionState.VALID, d(5, 20), None, None, d(5, 20, 2026), None, "second", False),
    )


def test_zhongshan_one_point_changes_nothing() -> None:
    assert derive_year([entry("licence", d(7, 1), 1)], [], NATIONAL) == YearOutcome(2025, 1, False, ())


# ---- suspension lengths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("points", "months"), [(9, 2), (10, 4), (11, 6)])
def test_default_months_for_one_decision(points: int, months: int) -> None:
    s = only(derive_year([entry("a", d(5, 6), points)], [], NATIONAL))
    assert (s.months, s.ends_on, s.single_decision) == (months, add_months(d(5, 6), months), True)


@pytest.mark.parametrize(("second", "months"), [(4, 1), (5, 2), (6, 3)])
def test_default_months_for_an_accumulated_total(second: int, months: int) -> None:
    s = derive_year([entry("a", d(1, 10), 5, 1), entry("b", d(3, 1), second, 2)], [], NATIONAL).sanctions[0]
    assert (s.cause, s.starts_on, s.months, s.single_decision) == ("b", d(3, 1), months, False)


def test_a_single_decision_on_top_of_earlier_points_takes_the_longer_default() -> None:
    s = only(derive_year([entry("a", d(1, 10), 2, 1), entry("b", d(3, 1), 9, 2)], [], NATIONAL))
    assert (s.months, s.single_decision) == (3, True)  # the accumulated 11 (3) beats a single 9 (2)


@pytest.mark.parametrize(("chosen", "months"), [(0, 1), (-2, 1), (7, 6), (12, 6)])
def test_chosen_months_are_clamped_to_the_policy(chosen: int, months: int) -> None:
    assert only(derive_year([entry("a", d(5, 6), 9, months=chosen)], [], NATIONAL)).months == months


def test_disputed_points_count_and_revoked_ones_do_not() -> None:
    disputed = derive_year([entry("a", d(3, 1), 9, state=DISPUTED)], [], NATIONAL)
    assert disputed.total == 9 and only(disputed).kind is SUSPENSION
    revoked = derive_year([entry("a", d(3, 1), 12, state=REVOKED), entry("b", d(3, 2), 1)], [], NATIONAL)
    assert revoked == YearOutcome(2025, 1, False, ())
    assert derive_year([entry("a", d(3, 1), 12, state=REVOKED)], [], NATIONAL) == YearOutcome(2025, 0, False, ())


# ---- lengthening and termination ---------------------------------------------------------------------------


def test_a_running_suspension_is_lengthened_from_its_start() -> None:
    facts = [entry("a", d(1, 10), 5, 1), entry("b", d(3, 1), 4, 2)]
    assert only(derive_year(facts, [], NATIONAL)).ends_on == d(3, 31)  # 9: 1 month
    longer = only(derive_year([*facts, entry("c", d(3, 20), 2, 3)], [], NATIONAL))
    assert (longer.cause, longer.starts_on, longer.months, longer.ends_on) == ("b", d(3, 1), 3, d(5, 31))
    chosen = only(derive_year([*facts, entry("c", d(3, 20), 1, 3, months=5)], [], NATIONAL))
    assert (chosen.months, chosen.ends_on) == (5, d(7, 31))


def test_lengthening_never_shortens() -> None:
    facts = [entry("a", d(1, 10), 9, 1, months=6), entry("b", d(2, 1), 1, 2)]
    assert only(derive_year(facts, [], NATIONAL)).months == 6  # 10 would call for 2
    facts = [entry("a", d(1, 10), 9, 1, months=6), entry("b", d(2, 1), 1, 2, months=1)]
    assert only(derive_year(facts, [], NATIONAL)).months == 6


def test_lengthening_on_the_last_day_but_not_after() -> None:
    first = entry("a", d(1, 10), 9, 1)  # 2 months: to 9 March
    on_last_day = only(derive_year([first, entry("b", d(3, 9), 2, 2, months=5)], [], NATIONAL))
    assert on_last_day.months == 5
    after = only(derive_year([first, entry("b", d(3, 10), 2, 2, months=5)], [], NATIONAL))
    assert (after.months, after.ends_on) == (2, d(3, 9))  # ended: nothing changes, no new suspension
    much_later = only(derive_year([first, entry("b", d(6, 1), 1, 2)], [], NATIONAL))
    assert (much_later.starts_on, much_later.months) == (d(1, 10), 2)


def test_a_termination_after_the_suspension_ended_leaves_it_valid() -> None:
    outcome = derive_year([entry("a", d(1, 10), 9, 1), entry("b", d(6, 1), 3, 2)], [], NATIONAL)
    ended, termination = outcome.sanctions
    assert (ended.state, ended.in_force_to) == (SanctionState.VALID, d(3, 9))
    assert (termination.kind, termination.reregistration_allowed_from) == (TERMINATION, d(6, 1, 2026))


def test_a_same_day_termination_supersedes_before_the_suspension_begins() -> None:
    outcome = derive_year([entry("a", d(4, 1), 9, 1), entry("b", d(4, 1), 3, 2)], [], NATIONAL)
    superseded, termination = outcome.sanctions
    assert (superseded.state, superseded.in_force_to) == (SanctionState.SUPERSEDED, d(3, 31))
    assert (termination.starts_on, termination.cause) == (d(4, 1), "b")
    # Recorded the other way round, 3 then 9, the same day gives only the termination.
    swapped = derive_year([entry("a", d(4, 1), 9, 2), entry("b", d(4, 1), 3, 1)], [], NATIONAL)
    assert [s.kind for s in swapped.sanctions] == [TERMINATION]


def test_twelve_at_once_after_earlier_points_is_still_a_single_decision() -> None:
    t = only(derive_year([entry("a", d(1, 5), 3, 1), entry("b", d(2, 28), 12, 2)], [], NATIONAL))
    assert (t.single_decision, t.reregistration_allowed_from) == (True, d(2, 28, 2028))
    leap = only(derive_year([entry("a", d(2, 29, 2024), 12)], [], NATIONAL))
    assert leap.reregistration_allowed_from == d(2, 28, 2027)


def test_nothing_after_a_termination_changes_the_year() -> None:
    facts = [entry("a", d(1, 5), 12, 1), entry("b", d(2, 1), 9, 2, months=6), entry("c", d(3, 1), 12, 3)]
    outcome = derive_year(facts, [], NATIONAL)
    assert outcome.total == 33 and [s.cause for s in outcome.sanctions] == ["a"]


def test_each_entry_uses_the_policy_in_force_on_its_date() -> None:
    national = BOOK.policy_for("520201", d(1, 1))
    stricter = dataclasses.replace(national, version="later", suspension_threshold=6, termination_threshold=9)
    stricter = dataclasses.replace(
        stricter, default_months_accumulated={6: 5, 7: 5, 8: 5}, default_months_single={6: 6, 7: 6, 8: 6}
    )

    def policy_on(on: date) -> Policy:
        return national if on < d(7, 1) else stricter

    early = derive_year([entry("a", d(3, 1), 6, 1), entry("b", d(6, 30), 1, 2)], [], policy_on)
    assert early.sanctions == ()
    late = derive_year([entry("a", d(3, 1), 6, 1), entry("b", d(7, 1), 1, 2)], [], policy_on)
    assert (only(late).cause, only(late).months) == ("b", 5)


# ---- restorations and the interview flag -------------------------------------------------------------------


def test_restorations_before_the_threshold_prevent_a_sanction() -> None:
    facts = [entry("a", d(3, 1), 8, 1), entry("b", d(7, 1), 4, 2)]
    early = derive_year(facts, [Restoration(d(6, 1), 1)] * 4, TIANJIN)
    assert early.total == 8 and early.sanctions == ()
    # A restoration made on the decision day counts before the decision.
    same_day = derive_year(facts, [Restoration(d(7, 1), 1)] * 4, TIANJIN)
    assert same_day.sanctions == ()
    late = derive_year(facts, [Restoration(d(8, 1), 1)] * 4, TIANJIN)
    assert late.total == 8 and [s.kind for s in late.sanctions] == [TERMINATION]  # a sanction is not undone


def test_restorations_during_a_suspension_neither_shorten_nor_prevent_lengthening() -> None:
    facts = [entry("a", d(3, 1), 9, 1), entry("b", d(3, 20), 2, 2)]
    outcome = derive_year(facts, [Restoration(d(3, 10), 1), Restoration(d(3, 11), 1)], TIANJIN)
    # 9 − 2 = 7, + 2 = 9: still in the band, so the accumulated 9 (1 month) is offered; the 2 months stand.
    assert (only(outcome).months, outcome.total) == (2, 9)


def test_the_total_never_goes_below_zero() -> None:
    assert derive_year([entry("a", d(3, 1), 1)], [Restoration(d(4, 1), 4)], TIANJIN).total == 0
    # Restored before any points: points not yet given cannot be removed.
    ahead = derive_year([entry("a", d(3, 1), 9)], [Restoration(d(1, 5), 1)], TIANJIN)
    assert only(ahead).kind is SUSPENSION
    assert ahead.total == 9


def test_interview_only_where_the_policy_has_one() -> None:
    assert derive_year([entry("a", d(3, 1), 6)], [], TIANJIN).interview_required
    assert not derive_year([entry("a", d(3, 1), 5)], [], TIANJIN).interview_required
    assert not derive_year([entry("a", d(3, 1), 6)], [Restoration(d(4, 1), 1)], TIANJIN).interview_required
    assert not derive_year([entry("a", d(3, 1), 6)], [], NATIONAL).interview_required
    assert not derive_year([entry("a", d(3, 1), 11)], [], NATIONAL).interview_required
    assert not derive_year([entry("a", d(3, 1), 11)], [], BEIJING).interview_required


def test_restoration_refusals() -> None:
    t, n = TIANJIN(d(6, 1)), NATIONAL(d(6, 1))
    assert restoration_refusal(n, 0, 0, False) == "RESTORATION_NOT_ALLOWED"
    assert restoration_refusal(n, 0, 1, False) == "RESTORATION_NOT_ALLOWED"
    assert restoration_refusal(n, 0, 1, True) == "RESTORATION_NOT_ALLOWED"
    assert restoration_refusal(t, 0, 1, True) == "RESTORATION_AFTER_TERMINATION"
    assert restoration_refusal(t, 4, 1, False) == "RESTORATION_CAP_EXCEEDED"
    assert restoration_refusal(t, 3, 2, False) == "RESTORATION_CAP_EXCEEDED"
    assert restoration_refusal(t, 3, 1, False) is None
    lenient = dataclasses.replace(t, restoration_after_termination=True)
    assert restoration_refusal(lenient, 0, 1, True) is None


# ---- refused input -----------------------------------------------------------------------------------------


def test_facts_of_two_years_are_refused() -> None:
    with pytest.raises(ValueError, match="several years"):
        derive_year([entry("a", d(3, 1), 1), entry("b", d(3, 1, 2026), 1)], [], NATIONAL)
    with pytest.raises(ValueError, match="several years"):
        derive_year([entry("a", d(3, 1), 1)], [Restoration(d(1, 1, 2026), 1)], NATIONAL)
    with pytest.raises(ValueError, match="several years"):
        derive_year([entry("a", d(3, 1), 1)], [], NATIONAL, year=2024)


def test_duplicate_keys_and_negative_points_are_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        derive_year([entry("a", d(3, 1), 1, 1), entry("a", d(3, 2), 1, 2)], [], NATIONAL)
    with pytest.raises(ValueError, match="negative"):
        derive_year([entry("a", d(3, 1), -1)], [], NATIONAL)
    with pytest.raises(ValueError, match="negative"):
        derive_year([], [Restoration(d(3, 1), -1)], NATIONAL)


def test_an_empty_year() -> None:
    assert derive_year([], [], NATIONAL, year=2026) == YearOutcome(2026, 0, False, ())
    assert derive_year([], [], NATIONAL) == YearOutcome(0, 0, False, ())


# ---- properties --------------------------------------------------------------------------------------------

FAST = settings(max_examples=200, deadline=None)
DAYS = st.integers(min_value=0, max_value=364).map(lambda n: d(1, 1) + timedelta(days=n))
FEW_DAYS = st.integers(min_value=0, max_value=11).map(lambda n: d(1, 1) + timedelta(days=30 * n))  # collisions
ROWS = st.lists(
    st.tuples(
        st.one_of(DAYS, FEW_DAYS),
        st.integers(1, 12),
        st.one_of(st.none(), st.integers(0, 8)),
        st.sampled_from([VALID, VALID, VALID, DISPUTED, REVOKED]),
    ),
    max_size=8,
)
ENTRIES = ROWS.map(lambda rows: [entry(f"e{i}", day, p, i, m, s) for i, (day, p, m, s) in enumerate(rows)])
RESTORATIONS = st.lists(st.builds(Restoration, DAYS, st.integers(1, 2)), max_size=4)
POLICIES = st.sampled_from([NATIONAL, TIANJIN, BEIJING])


def shapes(outcome: YearOutcome) -> list[DerivedSanction]:
    return [dataclasses.replace(s, cause="") for s in outcome.sanctions]


@FAST
@given(ENTRIES, RESTORATIONS, POLICIES)
def test_sanctions_are_well_formed(
    entries: list[PointEntry], restorations: list[Restoration], policy_on: PolicyOn
) -> None:
    outcome = derive_year(entries, restorations, policy_on)
    kinds = [s.kind for s in outcome.sanctions]
    assert kinds.count(SUSPENSION) <= 1 and kinds.count(TERMINATION) <= 1
    assert list(outcome.sanctions) == sorted(outcome.sanctions, key=lambda s: (s.starts_on, s.kind))
    live = {e.key for e in entries if e.state is not REVOKED}
    for s in outcome.sanctions:
        assert s.cause in live and s.starts_on.year == 2025
        if s.kind is SUSPENSION:
            assert s.months is not None and 1 <= s.months <= 6
            assert s.ends_on == add_months(s.starts_on, s.months) and s.ends_on >= s.starts_on
            assert s.in_force_to is not None and s.in_force_to <= s.ends_on
            assert s.reregistration_allowed_from is None
        else:
            assert s.state is SanctionState.VALID and s.ends_on is None and s.in_force_to is None
            bar = 3 if s.single_decision else 1
            assert s.reregistration_allowed_from == add_years(s.starts_on, bar)
    if kinds == [SUSPENSION, TERMINATION]:
        susp, term = outcome.sanctions
        superseded = susp.ends_on is not None and susp.ends_on >= term.starts_on
        assert susp.state is (SanctionState.SUPERSEDED if superseded else SanctionState.VALID)
        if superseded:
            assert susp.in_force_to == term.starts_on - timedelta(days=1)


@FAST
@given(ENTRIES, RESTORATIONS, POLICIES)
def test_total_follows_the_formula_and_is_never_negative(
    entries: list[PointEntry], restorations: list[Restoration], policy_on: PolicyOn
) -> None:
    outcome = derive_year(entries, restorations, policy_on)
    counted = sum(e.points for e in entries if e.state is not REVOKED)
    # Equal to the formula when no restoration precedes the points it would remove; never below it, never < 0.
    assert outcome.total >= max(0, counted - sum(r.points for r in restorations))
    if not restorations:
        assert outcome.total == counted
    assert outcome.year == 2025 or not (entries or restorations)


@FAST
@given(ENTRIES, RESTORATIONS, POLICIES, st.data())
def test_revoking_and_recording_again_gives_the_same_sanctions(
    entries: list[PointEntry], restorations: list[Restoration], policy_on: PolicyOn, data: st.DataObject
) -> None:
    live = [e for e in entries if e.state is not REVOKED]
    if not live:
        return
    # The same decision recorded again comes last among those of its day, so pick one that already was.
    day = data.draw(st.sampled_from(sorted({e.decided_on for e in live})))
    chosen = max((e for e in live if e.decided_on == day), key=lambda e: e.sequence)
    later = max(e.sequence for e in entries) + 1
    replayed = [dataclasses.replace(e, state=REVOKED) if e is chosen else e for e in entries]
    replayed.append(dataclasses.replace(chosen, key="again", sequence=later))
    before, after = (
        derive_year(entries, restorations, policy_on),
        derive_year(replayed, restorations, policy_on),
    )
    assert shapes(after) == shapes(before) and after.total == before.total


@FAST
@given(st.lists(DAYS, unique=True, max_size=8), RESTORATIONS, POLICIES, st.data())
def test_input_order_does_not_matter_when_dates_differ(
    days: list[date], restorations: list[Restoration], policy_on: PolicyOn, data: st.DataObject
) -> None:
    entries = [
        entry(f"e{i}", day, data.draw(st.integers(1, 12)), i, data.draw(st.one_of(st.none(), st.integers(1, 6))))
        for i, day in enumerate(days)
    ]
    expected = derive_year(entries, restorations, policy_on)
    shuffled = data.draw(st.permutations(entries))
    assert derive_year(shuffled, data.draw(st.permutations(restorations)), policy_on) == expected
    # Recorded in another order: the sequences follow the new arrival order.
    arrived = [dataclasses.replace(e, sequence=i) for i, e in enumerate(shuffled)]
    assert derive_year(arrived, restorations, policy_on) == expected


@FAST
@given(ENTRIES, RESTORATIONS, POLICIES, st.data())
def test_any_input_order_gives_the_same_outcome(
    entries: list[PointEntry], restorations: list[Restoration], policy_on: PolicyOn, data: st.DataObject
) -> None:
    expected = derive_year(entries, restorations, policy_on)
    assert derive_year(data.draw(st.permutations(entries)), restorations, policy_on) == expected


@FAST
@given(ENTRIES, RESTORATIONS, POLICIES)
def test_revoked_entries_are_as_if_absent(
    entries: list[PointEntry], restorations: list[Restoration], policy_on: PolicyOn
) -> None:
    live = [e for e in entries if e.state is not REVOKED]
    expected = derive_year(entries, restorations, policy_on, year=2025)
    assert derive_year(live, restorations, policy_on, year=2025) == expected
