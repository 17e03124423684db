"""The pure points engine: worked examples, lengthening, restorations, and properties over random facts."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.points.policy import PolicyBook, default_book
from registry.points.rules import (
    DerivedSanction,
    ObjectionFiled,
    PointEntry,
    RecordState,
    Restoration,
    Reviewed,
    ReviewOutcome,
    SanctionKind,
    SanctionState,
    add_months,
    add_years,
    current_record,
    derive_year,
    restoration_refusal,
)

BOOK = default_book()


def national(on: date) -> object:
    return BOOK.policy_for("520201", on)


def tianjin(on: date) -> object:
    return BOOK.policy_for("120101", on)


def entry(
    key: str, day: date, points: int, seq: int = 0, months: int | None = None, state: RecordState = RecordState.VALID
) -> PointEntry:
    return PointEntry(key=key, decided_on=day, sequence=seq, points=points, state=state, suspension_months=months)


def shape(s: DerivedSanction) -> tuple[object, ...]:
    return (s.kind, s.state, s.starts_on, s.ends_on, s.reregistration_allowed_from)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2025, 3, 10), 4, date(2025, 7, 9)),
        (date(2025, 1, 31), 1, date(2025, 2, 27)),
        (date(2024, 1, 31), 1, date(2024, 2, 28)),
        (date(2024, 11, 30), 3, date(2025, 2, 27)),
        (date(2025, 1, 1), 6, date(2025, 6, 30)),
    ],
)
def test_add_months_ends_the_day_before_the_same_day_n_months_later(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


def test_add_years_moves_29_february_to_28() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2025, 3, 10), 3) == date(2028, 3, 10)


def test_twelve_in_one_decision_terminates_with_a_three_year_bar() -> None:
    outcome = derive_year([entry("a", date(2025, 3, 10), 12)], [], national)
    assert [shape(s) for s in outcome.sanctions] == [
        (SanctionKind.TERMINATION, SanctionState.VALID, date(2025, 3, 10), None, date(2028, 3, 10))
    ]
    assert outcome.sanctions[0].single_decision and outcome.total == 12


def test_ten_then_four_terminates_with_one_year_bar_and_supersedes() -> None:
    outcome = derive_year([entry("a", date(2025, 2, 15), 10, 1), entry("b", date(2025, 5, 20), 4, 2)], [], national)
    suspension, termination = outcome.sanctions
    assert shape(suspension) == (
        SanctionKind.SUSPENSION,
        SanctionState.SUPERSEDED,
        date(2025, 2, 15),
        date(2025, 6, 14),
        None,
    )
    assert suspension.in_force_to == date(2025, 5, 19)
    assert shape(termination) == (
        SanctionKind.TERMINATION,
        SanctionState.VALID,
        date(2025, 5, 20),
        None,
        date(2026, 5, 20),
    )
    assert outcome.total == 14


@pytest.mark.parametrize(
    ("points", "months", "end"),
    [
        (9, None, date(2025, 7, 5)),
        (10, None, date(2025, 9, 5)),
        (11, None, date(2025, 11, 5)),
        (10, 3, date(2025, 8, 5)),
    ],
)
def test_suspension_length_from_one_decision(points: int, months: int | None, end: date) -> None:
    outcome = derive_year([entry("a", date(2025, 5, 6), points, months=months)], [], national)
    assert [shape(s) for s in outcome.sanctions] == [
        (SanctionKind.SUSPENSION, SanctionState.VALID, date(2025, 5, 6), end, None)
    ]


def test_accumulated_suspension_is_lengthened_from_its_start_but_never_shortened() -> None:
    facts = [entry("a", date(2025, 1, 10), 5, 1), entry("b", date(2025, 3, 1), 4, 2)]
    assert shape(derive_year(facts, [], national).sanctions[0])[3] == date(2025, 3, 31)  # 9: 1 month
    longer = derive_year([*facts, entry("c", date(2025, 3, 20), 2, 3)], [], national)
    assert shape(longer.sanctions[0])[3] == date(2025, 5, 31)  # 11: 3 months from 1 March
    chosen = [entry("a", date(2025, 1, 10), 9, 1, months=6), entry("b", date(2025, 2, 1), 1, 2)]
    assert derive_year(chosen, [], national).sanctions[0].months == 6  # 10 would call for 2: never shorter


def test_a_decision_after_the_suspension_ended_changes_nothing() -> None:
    facts = [entry("a", date(2025, 1, 10), 9, 1), entry("b", date(2025, 6, 1), 1, 2)]
    (only,) = derive_year(facts, [], national).sanctions
    assert (only.starts_on, only.months) == (date(2025, 1, 10), 2)


def test_revoked_and_disputed_records() -> None:
    revoked = derive_year([entry("a", date(2025, 3, 1), 12, state=RecordState.REVOKED)], [], national)
    assert revoked.sanctions == () and revoked.total == 0
    disputed = derive_year([entry("a", date(2025, 3, 1), 9, state=RecordState.DISPUTED)], [], national)
    assert disputed.total == 9 and len(disputed.sanctions) == 1


def test_restorations_count_from_their_date_and_never_below_zero() -> None:
    facts = [entry("a", date(2025, 3, 1), 8, 1), entry("b", date(2025, 7, 1), 4, 2)]
    early = derive_year(facts, [Restoration(date(2025, 6, 1), 1)] * 4, tianjin)
    assert early.total == 8 and early.sanctions == ()
    late = derive_year(facts, [Restoration(date(2025, 8, 1), 1)] * 4, tianjin)
    assert late.total == 8 and [s.kind for s in late.sanctions] == [SanctionKind.TERMINATION]
    floor = derive_year([entry("a", date(2025, 3, 1), 1)], [Restoration(date(2025, 4, 1), 4)], tianjin)
    assert floor.total == 0


def test_interview_flag_only_where_the_policy_has_one() -> None:
    facts = [entry("a", date(2025, 3, 1), 6)]
    assert derive_year(facts, [], tianjin).interview_required
    assert not derive_year(facts, [], national).interview_required


def test_facts_of_two_years_are_refused() -> None:
    with pytest.raises(ValueError, match="several years"):
        derive_year([entry("a", date(2025, 3, 1), 1), entry("b", date(2026, 3, 1), 1)], [], national)


def test_current_record_folds_objections_and_reviews_in_order() -> None:
    assert current_record(9, None, []) == (RecordState.VALID, 9, None)
    assert current_record(9, None, [ObjectionFiled(1)]) == (RecordState.DISPUTED, 9, None)
    amended = [ObjectionFiled(1), Reviewed(2, ReviewOutcome.AMENDED, 6, 2)]
    assert current_record(9, None, amended) == (RecordState.VALID, 6, 2)
    final = [Reviewed(1, ReviewOutcome.REVOKED), ObjectionFiled(2), Reviewed(3, ReviewOutcome.UPHELD)]
    assert current_record(9, None, final)[0] is RecordState.REVOKED
    assert current_record(9, None, [Reviewed(2, ReviewOutcome.UPHELD), ObjectionFiled(1)])[0] is RecordState.VALID


def test_restoration_refusals() -> None:
    t, n = tianjin(date(2025, 6, 1)), national(date(2025, 6, 1))
    assert restoration_refusal(n, 0, 0, False) == "RESTORATION_NOT_ALLOWED"
    assert restoration_refusal(t, 0, 1, True) == "RESTORATION_AFTER_TERMINATION"
    assert restoration_refusal(t, 4, 1, False) == "RESTORATION_CAP_EXCEEDED"
    assert restoration_refusal(t, 3, 1, False) is None


# ---- properties ---------------------------------------------------------------------------------------------

DAYS = st.integers(min_value=0, max_value=364).map(lambda d: date(2025, 1, 1) + timedelta(days=d))
ENTRIES = st.lists(
    st.tuples(
        DAYS,
        st.integers(1, 12),
        st.one_of(st.none(), st.integers(1, 6)),
        st.sampled_from([RecordState.VALID, RecordState.VALID, RecordState.DISPUTED, RecordState.REVOKED]),
    ),
    max_size=8,
).map(
    lambda rows: [entry(f"e{i}", day, points, i, months, state) for i, (day, points, months, state) in enumerate(rows)]
)
RESTORATIONS = st.lists(st.builds(Restoration, DAYS, st.just(1)), max_size=4)
REGIONS = st.sampled_from(["520201", "120101", "110101"])


def without_cause(outcome: object) -> list[tuple[object, ...]]:
    return [(*shape(s), s.months, s.in_force_to) for s in outcome.sanctions]  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(ENTRIES, RESTORATIONS, REGIONS)
def test_suspensions_stay_within_one_to_six_months(
    entries: list[PointEntry], restorations: list[Restoration], region: str
) -> None:
    outcome = derive_year(entries, restorations, lambda on: BOOK.policy_for(region, on))
    kinds = [s.kind for s in outcome.sanctions]
    assert kinds.count(SanctionKind.SUSPENSION) <= 1 and kinds.count(SanctionKind.TERMINATION) <= 1
    for s in outcome.sanctions:
        if s.kind is SanctionKind.SUSPENSION:
            assert s.months is not None and 1 <= s.months <= 6
            assert s.ends_on is not None and s.starts_on <= s.ends_on <= add_months(s.starts_on, 6)
            assert s.in_force_to is not None and s.in_force_to <= s.ends_on
        else:
            assert s.ends_on is None and s.reregistration_allowed_from is not None


@settings(max_examples=300, deadline=None)
@given(ENTRIES, RESTORATIONS)
def test_total_is_the_formula_and_never_negative(entries: list[PointEntry], restorations: list[Restoration]) -> None:
    outcome = derive_year(entries, restorations, tianjin)
    assert outcome.total >= 0
    counted = sum(e.points for e in entries if e.state is not RecordState.REVOKED)
    if not restorations:
        assert outcome.total == counted
    assert outcome.total >= counted - sum(r.points for r in restorations)


@settings(max_examples=300, deadline=None)
@given(ENTRIES, st.data())
def test_revoking_and_recording_again_gives_the_same_sanctions(entries: list[PointEntry], data: st.DataObject) -> None:
    live = [e for e in entries if e.state is not RecordState.REVOKED]
    if not live:
        return
    chosen = data.draw(st.sampled_from(live))
    later = max(e.sequence for e in entries) + 1
    # The same decision recorded again is recorded later, so it stays last among the decisions of its day.
    same_day_after = [e for e in live if e.decided_on == chosen.decided_on and e.sequence > chosen.sequence]
    if same_day_after:
        return
    replayed = [dataclasses.replace(e, state=RecordState.REVOKED) if e is chosen else e for e in entries]
    replayed.append(dataclasses.replace(chosen, key="again", sequence=later))
    assert without_cause(derive_year(replayed, [], national)) == without_cause(derive_year(entries, [], national))


@settings(max_examples=300, deadline=None)
@given(st.lists(DAYS, unique=True, max_size=8), st.data())
def test_arrival_order_does_not_matter_when_dates_differ(days: list[date], data: st.DataObject) -> None:
    entries = [entry(f"e{i}", day, data.draw(st.integers(1, 12)), i) for i, day in enumerate(days)]
    shuffled = data.draw(st.permutations(entries))
    # Recorded in another order: the sequences follow the new arrival order.
    arrived = [dataclasses.replace(e, sequence=i) for i, e in enumerate(shuffled)]
    assert derive_year(arrived, [], national).sanctions == derive_year(entries, [], national).sanctions


def test_policy_files_are_validated(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    source = (Path(__file__).resolve().parents[2] / "registry" / "points" / "policies" / "national.toml").read_text()
    (folder / "national.toml").write_text(source)
    (folder / "12-tianjin.toml").write_text(
        '[[versions]]\nversion = "t"\neffective_from = 2025-01-01\nmax_suspension_months = 7\n'
    )
    with pytest.raises(ValueError, match=r"1\.\.6"):
        PolicyBook.load(folder)
    (folder / "12-tianjin.toml").write_text('[[versions]]\nversion = "t"\neffective_from = 2025-01-01\nsurprise = 1\n')
    with pytest.raises(ValueError, match="unknown keys"):
        PolicyBook.load(folder)


def test_policy_versions_are_effective_dated(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    source = (Path(__file__).resolve().parents[2] / "registry" / "points" / "policies" / "national.toml").read_text()
    (folder / "national.toml").write_text(source)
    (folder / "12-tianjin.toml").write_text(
        '[[versions]]\nversion = "t1"\neffective_from = 2025-01-01\nrestoration_cap_per_year = 4\n'
        "restoration_points_per_activity = 1\n\n"
        '[[versions]]\nversion = "t2"\neffective_from = 2026-01-01\nrestoration_cap_per_year = 2\n'
        "restoration_points_per_activity = 1\n"
    )
    book = PolicyBook.load(folder)
    assert book.policy_for("120101", date(2025, 12, 31)).version == "t1"
    assert book.policy_for("120101", date(2026, 1, 1)).restoration_cap_per_year == 2
    assert book.policy_for("520201", date(2026, 1, 1)).jurisdiction == "national"
    assert book.policy_for("110101", date(2025, 6, 1)).jurisdiction == "national"  # no Beijing file here
