"""Who may do what, as `registry.access` decides it today: every use case × every kind of actor."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from registry import access
from registry.auth import Actor, Role
from registry.errors import Code

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
        {"institution_code": H, "institution_region": "520201"},
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
    (access.record_decision, {"region_code": "520201"}, REGION_OF_THE_CASE),
    (access.file_objection, {"region_code": "520201", "practitioner_code": P}, REGION_OF_THE_CASE | {"practitioner"}),
    (access.review_points, {"region_code": "520201"}, REGION_OF_THE_CASE),
    (access.record_restoration, {"region_code": "520201"}, REGION_OF_THE_CASE),
    (access.read_practitioner, {"practitioner_code": P}, EVERYONE - {"other practitioner"}),
    (access.read_institution, {"institution_code": H}, EVERYONE),
    (access.read_policy, {"region_code": "520201"}, EVERYONE),
    (access.check_eligibility, {}, EVERYONE - {"practitioner", "other practitioner"}),
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
    helpers = {"enforce", "covers", "listing_scope"}
    use_cases = {
        name
        for name, value in vars(access).items()
        if inspect.isfunction(value) and value.__module__ == access.__name__ and not name.startswith("_")
    }
    assert use_cases - helpers == {use_case.__name__ for use_case, _, _ in MATRIX}
