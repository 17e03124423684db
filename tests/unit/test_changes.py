"""Sanction changes staged in a session until the before-commit hook takes them."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry.points.changes import stage, take
from tests.factories import sanction_change


def test_staged_changes_are_taken_once_in_order() -> None:
    session, other = AsyncSession(), AsyncSession()
    first, second = sanction_change("D520201000001"), sanction_change("D520201000002", change="lifted", state="LIFTED")
    stage(session, first)
    stage(session, second)
    stage(other, first)

    assert take(session) == [first, second]
    assert take(session) == []
    assert take(other) == [first]


def test_a_change_is_a_value() -> None:
    assert sanction_change("D520201000001") == sanction_change("D520201000001")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sanction_change("D520201000001").state = "LIFTED"  # type: ignore[misc]


@pytest.mark.parametrize(("field", "value"), [("kind", "WARNING"), ("change", "changed"), ("state", "REVOKED")])
def test_an_unknown_kind_change_or_state_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        sanction_change("D520201000001", **{field: value})
