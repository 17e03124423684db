"""Identifiers: resident IDs (GB 11643), codes, region scopes."""

from __future__ import annotations

import pytest

from registry.validation import (
    hash_resident_id,
    is_institution_code,
    is_practitioner_code,
    is_region_code,
    is_resident_id,
    mask_resident_id,
    region_prefix,
)


@pytest.mark.parametrize("number", ["11010519491231002X", "11010519491231002x", "440524188001010014"])
def test_published_example_ids_are_valid(number: str) -> None:
    assert is_resident_id(number)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check character
        "11010519491331002X",  # month 13
        "11010519490229002X",  # 1949 was not a leap year (and the check would differ anyway)
        "99010519491231002X",  # no such province
        "1101051949123100",  # too short
        "11010519491231002XX",
        "A1010519491231002X",
    ],
)
def test_invalid_ids_are_refused(number: str) -> None:
    assert not is_resident_id(number)


def test_mask_shows_only_region_and_tail() -> None:
    assert mask_resident_id("52010219800101123x") == "5201**********123X"


def test_hash_is_keyed_and_case_insensitive() -> None:
    number = "11010519491231002X"
    assert hash_resident_id(b"a", number) == hash_resident_id(b"a", number.lower())
    assert hash_resident_id(b"a", number) != hash_resident_id(b"b", number)
    assert number not in hash_resident_id(b"a", number)


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("H52020100001", True),
        ("P44200000001", True),
        ("H5202010000", False),
        ("Q52020100001", False),
        ("h52020100001", False),
    ],
)
def test_institution_codes(code: str, ok: bool) -> None:
    assert is_institution_code(code) is ok


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("D520201000001", True),
        ("HY520201000001", True),
        ("D" * 20, True),
        ("D" * 21, False),
        ("", False),
        ("D-1", False),
    ],
)
def test_practitioner_codes(code: str, ok: bool) -> None:
    assert is_practitioner_code(code) is ok


def test_region_codes_and_bureau_scope() -> None:
    assert is_region_code("520201") and not is_region_code("000000") and not is_region_code("52020")
    assert region_prefix("520000") == "52"
    assert region_prefix("520200") == "5202"
    assert region_prefix("520201") == "520201"
