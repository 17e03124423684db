"""Every node derives the same sanctions from the same facts, whatever order they arrived in.

Facts of two origins (Guizhou's and Chongqing's nodes) about two people are applied as replicas, as a node applies
pulled pages: each origin's facts in their own order (its hash chain enforces that), the two origins interleaved
at random and cut into pages at random. The stored sanction rows must come out identical every time.
"""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from registry.db import Database, sqlalchemy_url
from registry.facts import Fact
from registry.federation.inbox import Replica
from registry.federation.replicas import Applier
from registry.points.commands import DecisionEntry
from registry.points.enums import DecisionBasis, Responsibility, ReviewOutcome, SanctionChangeKind
from registry.points.facts import DecisionRecorded, PointsReviewed, RestorationRecorded
from registry.points.models import Decision, PointRecord, Review, Sanction, SanctionChangeRow
from registry.points.policy import default_book
from registry.practitioners.enums import PractitionerCategory
from registry.practitioners.facts import PractitionerRegistered

PEOPLE = ("D520201000901", "D520201000902")
ORIGINS = {"520000": ("520201", "H52020100001"), "500000": ("500103", "H50010300001")}
POLICIES = default_book()
# Columns that differ from node to node by nature: local ids, and when a row arrived.
LOCAL = {"id", "cause_point_record_id", "decision_id", "point_record_id", "updated_at", "recorded_at"}


class Discard(Exception):
    """Rolls back what one ordering wrote."""


def registration(code: str) -> PractitionerRegistered:
    return PractitionerRegistered(
        code,
        "x",
        PractitionerCategory.PHYSICIAN,
        "520201",
        code.rjust(64, "0"),
        "x",
        ("H52020100001",),
        date(2024, 1, 1),
    )


@st.composite
def histories(draw: st.DrawFn) -> dict[str, list[Fact]]:
    """Each origin's facts in its own order: decisions, reviews of its own decisions, and (Guizhou's) restorations."""
    facts: dict[str, list[Fact]] = {origin: [] for origin in ORIGINS}
    facts["520000"] = [registration(code) for code in PEOPLE]
    for origin, (region, institution) in ORIGINS.items():
        decided: list[tuple[str, str, date]] = []
        for i in range(draw(st.integers(1, 5))):
            # Few days, so that decisions of both origins often fall on the same day: the order between them matters.
            day = date(2025, draw(st.sampled_from([3, 6])), draw(st.sampled_from([1, 15])))
            people = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True))
            entries = tuple(
                DecisionEntry(code, draw(st.integers(1, 12)), Responsibility.MAIN, draw(st.none() | st.integers(1, 6)))
                for code in people
            )
            case = f"{origin}-{i}"
            facts[origin].append(
                DecisionRecorded(
                    case,
                    region,
                    institution,
                    DecisionBasis.AGREEMENT_HANDLING,
                    day,
                    None,
                    None,
                    "x",
                    Decimal("1.00"),
                    entries,
                )
            )
            decided += [(case, code, day) for code in people]
            if draw(st.booleans()):
                case, code, day = draw(st.sampled_from(decided))
                outcome = draw(st.sampled_from(list(ReviewOutcome)))
                amended = draw(st.integers(1, 12)) if outcome is ReviewOutcome.AMENDED else None
                facts[origin].append(PointsReviewed(case, region, code, outcome, amended, None, day, "复核"))
        if origin == "520000" and draw(st.booleans()):
            day = date(2025, draw(st.integers(1, 12)), 1)
            facts[origin].append(RestorationRecorded(draw(st.sampled_from(PEOPLE)), "520201", "培训", day, 1))
    return facts


def interleavings(facts: dict[str, list[Fact]]) -> st.SearchStrategy[list[list[Replica]]]:
    """The facts as pages: origins interleaved in any order, each origin's own order kept, cut anywhere."""
    tagged = [(origin, seq, fact) for origin, run in facts.items() for seq, fact in enumerate(run, start=1)]

    @st.composite
    def arrange(draw: st.DrawFn) -> list[list[Replica]]:
        keys = draw(st.lists(st.floats(0, 1), min_size=len(tagged), max_size=len(tagged)))
        # Sort by a random key per origin, then restore each origin's order: a random interleaving.
        order = sorted(range(len(tagged)), key=lambda i: keys[i])
        positions = {origin: iter(sorted(i for i in order if tagged[i][0] == origin)) for origin in facts}
        arrived = [tagged[next(positions[tagged[i][0]])] for i in order]
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(arrived) - 1)), max_size=4))))
        pages, start = [], 0
        for cut in [*cuts, len(arrived)]:
            pages.append([Replica(o, s, f.TYPE, 1, f.wire()) for o, s, f in arrived[start:cut]])
            start = cut
        return [page for page in pages if page]

    return arrange()


async def sanction_rows(database_url: str, pages: list[list[Replica]]) -> list[tuple[Any, ...]]:
    """Apply the pages, one transaction each, in a database nothing else sees; the sanction rows they leave."""
    return (await rows_after(database_url, pages))["sanctions"]


async def rows_after(
    database_url: str,
    pages: list[list[Replica]],
    models: tuple[type[Any], ...] = (Sanction, Decision, PointRecord, Review),
) -> dict[str, list[tuple[Any, ...]]]:
    """Apply the pages, one transaction each, in a database nothing else sees; the rows they leave (sanctions,
    decisions, point records, reviews), without local ids and arrival times, sorted."""
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async with engine.connect() as conn:
            outer = await conn.begin()
            db = Database.bound(conn)
            apply = Applier(POLICIES)
            for page in pages:
                async with db.transaction() as session:
                    await apply(session, page)
            async with db.transaction() as session:
                for model in models:
                    columns = [c for c in model.__table__.columns if c.key not in LOCAL]
                    found = [tuple(r) for r in (await session.execute(select(*columns))).all()]
                    rows[model.__tablename__] = sorted(found, key=repr)
            await outer.rollback()
    finally:
        await engine.dispose()
    return rows


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_the_same_facts_in_any_arrival_order_leave_identical_sanctions(database_url: str, data: st.DataObject) -> None:
    facts = data.draw(histories())
    in_order = [[Replica(o, s, f.TYPE, 1, f.wire()) for o, run in facts.items() for s, f in enumerate(run, start=1)]]
    expected = asyncio.run(sanction_rows(database_url, in_order))
    for _ in range(3):
        pages = data.draw(interleavings(facts))
        assert asyncio.run(sanction_rows(database_url, pages)) == expected


def test_fifty_one_point_decisions_leave_the_same_rows_in_either_order(database_url: str) -> None:
    """The case the issue measured: 2 rows in date order, 81 in reverse order, before sanctions were derived afresh."""
    region, institution = ORIGINS["520000"]
    decisions = [
        DecisionRecorded(
            f"one-{i}",
            region,
            institution,
            DecisionBasis.AGREEMENT_HANDLING,
            date(2025, 1 + i // 5, 1 + i % 5),
            None,
            None,
            "x",
            None,
            (DecisionEntry(PEOPLE[0], 1, Responsibility.GENERAL),),
        )
        for i in range(50)
    ]
    facts = [registration(PEOPLE[0]), *decisions]
    forward = [[Replica("520000", s, f.TYPE, 1, f.wire())] for s, f in enumerate(facts, start=1)]
    # Reverse date order: the same facts issued in another order by their node.
    reordered = [registration(PEOPLE[0]), *reversed(decisions)]
    backward = [[Replica("520000", s, f.TYPE, 1, f.wire())] for s, f in enumerate(reordered, start=1)]
    rows = asyncio.run(sanction_rows(database_url, forward))
    assert rows == asyncio.run(sanction_rows(database_url, backward))
    assert [(r[2], r[3]) for r in rows] == [("SUSPENSION", "SUPERSEDED"), ("TERMINATION", "VALID")]


@st.composite
def rival_histories(draw: st.DrawFn) -> dict[str, list[Fact]]:
    """The national node and Guizhou's both record cases of one Guizhou region, each before it heard of the other's:
    the same case numbers, with the same content or not, each node reviewing its own."""
    region, institution = ORIGINS["520000"]
    facts: dict[str, list[Fact]] = {"520000": [registration(code) for code in PEOPLE], "000000": []}
    shared = draw(st.lists(st.sampled_from(["C-1", "C-2", "C-3"]), min_size=1, max_size=3, unique=True))
    for case in shared:
        day = date(2025, 3, draw(st.sampled_from([1, 15])))
        people = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True))
        points = [draw(st.integers(1, 12)) for _ in people]
        same = draw(st.booleans())
        for origin in ("520000", "000000"):
            if origin == "000000" and not same:
                people = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True))
                points = [draw(st.integers(1, 12)) for _ in people]
            entries = tuple(DecisionEntry(c, p, Responsibility.MAIN, None) for c, p in zip(people, points, strict=True))
            decision = DecisionRecorded(
                case, region, institution, DecisionBasis.AGREEMENT_HANDLING, day, None, None, "x", None, entries
            )
            facts[origin].append(decision)
            if draw(st.booleans()):
                outcome = draw(st.sampled_from(list(ReviewOutcome)))
                amended = draw(st.integers(1, 12)) if outcome is ReviewOutcome.AMENDED else None
                facts[origin].append(PointsReviewed(case, region, people[0], outcome, amended, None, day, "复核"))
    return facts


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_case_recorded_by_two_nodes_ends_the_same_on_every_node(database_url: str, data: st.DataObject) -> None:
    """Whichever arrives first, the decision with the lowest (origin, seq) stands everywhere, with only its own
    reviews, and the sanctions follow from it alone."""
    facts = data.draw(rival_histories())
    only_national = {
        "520000": [f for f in facts["520000"] if isinstance(f, PractitionerRegistered)],
        "000000": facts["000000"],
    }
    as_if_alone = asyncio.run(rows_after(database_url, [as_pages(only_national)]))
    for _ in range(3):
        rows = asyncio.run(rows_after(database_url, data.draw(interleavings(facts))))
        assert rows == as_if_alone
    origin = [c.key for c in Decision.__table__.columns if c.key not in LOCAL].index("origin")
    assert {d[origin] for d in as_if_alone["decisions"]} == {"000000"}


def as_pages(facts: dict[str, list[Fact]]) -> list[Replica]:
    return [Replica(o, s, f.TYPE, 1, f.wire()) for o, run in facts.items() for s, f in enumerate(run, start=1)]


def test_the_same_case_entered_at_two_nodes_tells_regulators_nothing_more(database_url: str) -> None:
    """Guizhou's copy arrives first and suspends the doctor; the national node's identical copy then outranks it.
    The sanction stays as it was: no LIFTED, no second IMPOSED, in the node's history of changes."""
    region, institution = ORIGINS["520000"]
    entry = (DecisionEntry(PEOPLE[0], 12, Responsibility.MAIN, 3),)
    decision = DecisionRecorded(
        "C-9", region, institution, DecisionBasis.AGREEMENT_HANDLING, date(2025, 3, 1), None, None, "x", None, entry
    )
    pages = [
        [Replica("520000", 1, registration(PEOPLE[0]).TYPE, 1, registration(PEOPLE[0]).wire())],
        [Replica("520000", 2, decision.TYPE, 1, decision.wire())],
        [Replica("000000", 1, decision.TYPE, 1, decision.wire())],
    ]
    rows = asyncio.run(rows_after(database_url, pages, (Sanction, Decision, SanctionChangeRow)))
    assert [(r[2], r[3]) for r in rows["sanctions"]] == [("TERMINATION", "VALID")]
    change = [c.key for c in SanctionChangeRow.__table__.columns if c.key not in LOCAL].index("change")
    assert [c[change] for c in rows["sanction_changes"]] == [SanctionChangeKind.IMPOSED]
    origin = [c.key for c in Decision.__table__.columns if c.key not in LOCAL].index("origin")
    assert [d[origin] for d in rows["decisions"]] == ["000000"]
