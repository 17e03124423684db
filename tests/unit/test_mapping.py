"""The API's one translation layer: GraphQL inputs into commands, domain paths into GraphQL paths."""

from __future__ import annotations

from datetime import date

from registry.api.mapping import command, graphql_path
from registry.api.points import DecisionEntryInput, RecordDecisionInput
from registry.api.practitioners import RegisterPractitionerInput
from registry.points.commands import DecisionEntry, RecordDecision
from registry.points.enums import DecisionBasis, Responsibility
from registry.practitioners.commands import RegisterPractitioner
from registry.practitioners.enums import PractitionerCategory


def test_domain_paths_become_graphql_paths() -> None:
    assert graphql_path(("entries", 0, "suspension_months")) == ["input", "entries", "0", "suspensionMonths"]
    assert graphql_path(("institution_codes", 2)) == ["input", "institutionCodes", "2"]
    assert graphql_path(("case_number",)) == ["input", "caseNumber"]
    assert graphql_path(()) == ["input"]  # the command as a whole
    assert graphql_path(None) is None  # no field at fault


def test_an_input_becomes_its_command_with_nested_entries() -> None:
    same = {
        "case_number": "C-1",
        "region_code": "520201",
        "institution_code": "H52020100001",
        "basis": DecisionBasis.AGREEMENT_HANDLING,
        "decided_on": date(2025, 3, 10),
        "behaviour": "挂证",
    }
    given = RecordDecisionInput(
        **same,
        entries=[
            DecisionEntryInput(practitioner_code="P1", points=1, responsibility=Responsibility.MAIN),
            DecisionEntryInput(
                practitioner_code="P2", points=2, responsibility=Responsibility.GENERAL, suspension_months=3
            ),
        ],
    )
    expected = RecordDecision(
        **same,
        entries=(DecisionEntry("P1", 1, Responsibility.MAIN, None), DecisionEntry("P2", 2, Responsibility.GENERAL, 3)),
    )
    assert command(RecordDecision, given) == expected


def test_lists_become_tuples_and_given_values_win() -> None:
    given = RegisterPractitionerInput(
        code="D1",
        name="x",
        id_number="1",
        category=PractitionerCategory.NURSE,
        region_code="520201",
        institution_codes=["H1", "H2"],
        registered_on=date(2025, 1, 1),
    )
    cmd = command(RegisterPractitioner, given, name="y")
    assert (cmd.institution_codes, cmd.name, cmd.category) == (("H1", "H2"), "y", PractitionerCategory.NURSE)
