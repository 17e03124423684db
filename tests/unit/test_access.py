"""Who may do what, as `registry.access` decides it: every use case × every kind of actor, given the facts; then
the rules whose facts vary (the API matrix, tests/api/test_access_matrix.py, runs them through the app)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry import access
from registry.auth import Actor, Role
from registry.errors import Code

README = Path(__file__).resolve().parents[2] / "README.md"

H, OTHER_H = "H52020100001", "H53010100001"  # an institution in 520201, one in 530101
P, Q = "D520201000001", "D530101000001"

ACTORS = {
    "national": Actor(Role.NATIONAL),
    "province bureau": Actor(Role.BUREAU, region="520000"),
    "city bureau": Actor(Role.BUREAU, region="520200"),
    "other province": Actor(Role.BUREAU, region="530000"),
    "prefix trap": Actor(Role.BUREAU, region="500000"),  # 50 is not a prefix of 520201
    "own institution": Actor(Role.INSTITUTION, institution=H),
    "other institution": Actor(Role.INSTITUTION, institution=OTHER_H),
    "practitioner": Actor(Role.PRACTITIONER, practitioner=P),
    "other practitioner": Actor(Role.PRACTITIONER, practitioner=Q),
    "regulator": Actor(Role.REGULATOR),
}
REGION_OF_THE_CASE = {"national", "province bureau", "city bureau"}
EVERYONE = set(ACTORS)

# (use case, the facts it is asked about, who may)
MATRIX: list[tuple[Callable[..., access.Verdict], dict[str, Any], set[str]]] = [
    (access.register_institution, {"code": H, "region_code": "520201"}, REGION_OF_THE_CASE | {"own institution"}),
    (
        access.register_practitioner,
        {"institution_code": H, "institution_region": "520201", "practitioner_region": "520201"},
        REGION_OF_THE_CASE | {"own institution"},
    ),
    (
        access.add_affiliation,
        {"institution_code": H, "institution_region": "520201"},
        REGION_OF_THE_CASE | {"own institution"},
    ),
    (
        access.end_affiliation,
        {"institution_code": H, "institution_region": "520201"},
        REGION_OF_THE_CASE | {"own institution"},
    ),
    (access.deregister_practitioner, {"practitioner_code": P, "practitioner_region": "520201"}, REGION_OF_THE_CASE),
    (access.record_decision, {"region_code": "520201", "institution_region": "520201"}, REGION_OF_THE_CASE),
    (access.file_objection, {"region_code": "520201", "practitioner_code": P}, REGION_OF_THE_CASE | {"practitioner"}),
    (access.review_points, {"region_code": "520201"}, REGION_OF_THE_CASE),
    (access.record_restoration, {"region_code": "520201", "practitioner_region": "520201"}, REGION_OF_THE_CASE),
    (
        access.read_practitioner,
        {"practitioner_code": P, "practitioner_region": "520201", "scored_by": {"520000"}, "employers": {H}},
        REGION_OF_THE_CASE | {"own institution", "practitioner", "regulator"},
    ),
    (access.read_institution, {"institution_code": H}, EVERYONE),
    (access.read_policy, {"region_code": "520201"}, EVERYONE),
    (access.check_eligibility, {}, EVERYONE - {"practitioner", "other practitioner"}),
    (access.read_federation_status, {}, {"national"}),
    (access.read_own_disclosures, {}, {"practitioner", "other practitioner"}),
    (
        access.list_decisions,
        {"region_code": "520201", "institution_code": None},
        EVERYONE - {"other province", "prefix trap", "practitioner", "other practitioner"},
    ),
    (
        access.list_sanctions,
        {"region_code": None, "institution_code": H},
        EVERYONE - {"other institution", "practitioner", "other practitioner"},
    ),
]


@pytest.mark.parametrize(
    ("use_case", "facts", "allowed", "actor"),
    [(use_case, facts, allowed, actor) for use_case, facts, allowed in MATRIX for actor in ACTORS],
    ids=[f"{use_case.__name__}-{actor}" for use_case, _, _ in MATRIX for actor in ACTORS],
)
def test_access_matrix(
    use_case: Callable[..., access.Verdict], facts: dict[str, Any], allowed: set[str], actor: str
) -> None:
    verdict = use_case(ACTORS[actor], **facts)
    if actor in allowed:
        assert verdict is None
    else:
        assert verdict is not None and (verdict.code, verdict.field) == (Code.FORBIDDEN, None)


def test_a_listing_shows_a_bureau_its_region_and_an_institution_its_own_cases() -> None:
    assert access.listing_scope(ACTORS["city bureau"], None, None) == ("520200", None)
    assert access.listing_scope(ACTORS["city bureau"], "520201", None) == ("520201", None)
    assert access.listing_scope(ACTORS["own institution"], None, None) == (None, H)
    assert access.listing_scope(ACTORS["national"], None, None) == (None, None)


def test_the_matrix_covers_every_use_case() -> None:
    helpers = {"enforce", "covers", "within", "listing_scope", "matrix_markdown"}
    use_cases = {
        name
        for name, value in vars(access).items()
        if inspect.isfunction(value) and value.__module__ == access.__name__ and not name.startswith("_")
    }
    assert use_cases - helpers == {use_case.__name__ for use_case, _, _ in MATRIX}


# ---- the rules whose facts vary --------------------------------------------------------------------------------


def allowed(verdict: access.Verdict) -> bool:
    assert verdict is None or (verdict.code, verdict.field) == (Code.FORBIDDEN, None)
    return verdict is None


@pytest.mark.parametrize(
    ("use_case", "subject"),
    [
        (access.record_decision, "institution_region"),  # the conduct happened at the institution
        (access.record_restoration, "practitioner_region"),  # only the person's own jurisdiction restores
    ],
)
@pytest.mark.parametrize(
    ("actor", "stated", "region", "expected"),
    [
        ("city bureau", "520200", "520201", True),
        ("province bureau", "520000", "530101", False),  # another province's
        ("other province", "530000", "520201", False),  # ... however the bureau states its region
        ("prefix trap", "500000", "520201", False),
        ("national", "530000", "530101", True),
        ("national", "520000", "530101", False),  # national too states a bureau that has jurisdiction
        ("other province", "530000", None, True),  # no such thing: the bureau may learn it
        ("own institution", "520201", None, False),
    ],
)
def test_the_bureau_stated_must_have_jurisdiction_over_what_it_acts_on(
    use_case: Callable[..., access.Verdict],
    subject: str,
    actor: str,
    stated: str,
    region: str | None,
    expected: bool,
) -> None:
    assert allowed(use_case(ACTORS[actor], region_code=stated, **{subject: region})) is expected


@pytest.mark.parametrize(
    ("actor", "region", "scored_by", "employers", "expected"),
    [
        ("other province", "520201", {"530101"}, set(), True),  # Yunnan scored this Guizhou doctor
        ("other province", "520201", {"520000"}, set(), False),
        ("prefix trap", "520201", {"520000", "520201"}, set(), False),
        ("city bureau", "530101", {"520000"}, set(), False),  # the province's decision is not the city's
        ("province bureau", "530101", {"520201"}, set(), True),  # a city's decision is the province's too
        ("own institution", "520201", {"520000"}, {OTHER_H}, False),  # not (or no longer) its staff
        ("other institution", "520201", set(), {OTHER_H}, True),
        ("national", None, set(), set(), True),  # no such code: national learns it
        ("regulator", None, set(), set(), True),
        ("province bureau", None, set(), set(), False),
        ("own institution", None, set(), set(), False),
    ],
)
def test_who_reads_a_persons_record(
    actor: str, region: str | None, scored_by: set[str], employers: set[str], expected: bool
) -> None:
    verdict = access.read_practitioner(
        ACTORS[actor], practitioner_code=P, practitioner_region=region, scored_by=scored_by, employers=employers
    )
    assert allowed(verdict) is expected


def test_a_refused_read_says_the_same_for_a_known_and_an_unknown_code() -> None:
    bureau = ACTORS["other province"]
    known = access.read_practitioner(
        bureau, practitioner_code=P, practitioner_region="520201", scored_by=(), employers=()
    )
    unknown = access.read_practitioner(
        bureau, practitioner_code="D520201009999", practitioner_region=None, scored_by=(), employers=()
    )
    assert known == unknown is not None


@pytest.mark.parametrize(
    ("actor", "institution", "institution_region", "practitioner_region", "expected"),
    [
        ("province bureau", H, "520201", "520201", True),
        ("province bureau", H, "520201", "530101", False),  # a person of Yunnan's care
        ("city bureau", H, "520201", "520000", False),  # a person of the province's care, not the city's
        ("own institution", H, "520201", "520201", True),
        ("own institution", H, "520201", "520200", False),  # its staff are registered in its own region
        ("national", OTHER_H, "530101", "520201", True),
    ],
)
def test_a_person_is_registered_within_the_registrars_own_region(
    actor: str, institution: str, institution_region: str, practitioner_region: str, expected: bool
) -> None:
    verdict = access.register_practitioner(
        ACTORS[actor],
        institution_code=institution,
        institution_region=institution_region,
        practitioner_region=practitioner_region,
    )
    assert allowed(verdict) is expected


def test_an_institution_registers_itself_in_the_region_its_code_names() -> None:
    own = ACTORS["own institution"]
    assert allowed(access.register_institution(own, code=H, region_code="520201"))
    assert not allowed(access.register_institution(own, code=H, region_code="530101"))
    assert not allowed(access.register_institution(own, code=H, region_code="520200"))


def test_an_unknown_code_is_deregistered_only_by_who_could_deregister_someone() -> None:
    for actor, expected in (("national", True), ("other province", True), ("own institution", False)):
        verdict = access.deregister_practitioner(ACTORS[actor], practitioner_code=P, practitioner_region=None)
        assert allowed(verdict) is expected, actor


def test_the_readme_shows_the_matrix() -> None:
    """The README's table is `registry.access.MATRIX`; after changing it, run `.venv/bin/python tools/access_matrix.py`."""
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- access-matrix: generated by tools/access_matrix.py -->\n", "<!-- /access-matrix -->"
    assert start in text and end in text
    assert text[text.index(start) + len(start) : text.index(end)] == access.matrix_markdown()
