"""The committed SDL matches the code, and every documented operation validates against it."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, build_schema, parse, validate
from sqlalchemy import text
from strawberry.types.enum import StrawberryEnumDefinition

from registry.api.schema import schema
from registry.db import Database
from registry.eligibility.service import QualificationStatus
from registry.points.enums import DecisionBasis, RecordState, Responsibility, ReviewOutcome, SanctionKind, SanctionState
from registry.practitioners.enums import InstitutionKind, PractitionerCategory
from tests.ops import OPERATIONS_DIR

ROOT = Path(__file__).resolve().parents[2]
SDL = ROOT / "graphql" / "schema.graphql"
CONTRACT = ROOT.parent / "shared" / "contract" / "operations.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SDL.read_text(encoding="utf-8") == schema.as_str() + "\n", (
        "graphql/schema.graphql drifted: run `registry export-schema --output graphql/schema.graphql`"
    )


def _operations() -> list[tuple[str, str]]:
    found = []
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        for definition in parse(path.read_text(encoding="utf-8")).definitions:
            if isinstance(definition, OperationDefinitionNode):
                found.append((path.name, definition.name.value if definition.name else "?"))
    return found


@pytest.mark.parametrize(("file", "name"), _operations())
def test_documented_operation_validates(file: str, name: str) -> None:
    document = parse((OPERATIONS_DIR / file).read_text(encoding="utf-8"))
    chosen = tuple(d for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name.value == name)
    single = type(document)(definitions=chosen)
    assert validate(build_schema(SDL.read_text(encoding="utf-8")), single) == []


@pytest.mark.skipif(not CONTRACT.exists(), reason="../shared is not beside the checkout")
def test_operations_copy_matches_the_contract() -> None:
    assert (OPERATIONS_DIR / "contract.graphql").read_text(encoding="utf-8") == CONTRACT.read_text(encoding="utf-8")


# Each concept has one enum: the domain's, exposed by GraphQL as it is, and kept in the database by a CHECK.
ENUMS = [
    ("InstitutionKind", InstitutionKind, [("institutions", "kind")]),
    ("PractitionerCategory", PractitionerCategory, [("practitioners", "category")]),
    ("DecisionBasis", DecisionBasis, [("decisions", "basis")]),
    ("Responsibility", Responsibility, [("point_records", "responsibility")]),
    ("ReviewOutcome", ReviewOutcome, [("reviews", "outcome")]),
    ("PointRecordState", RecordState, []),
    ("SanctionKind", SanctionKind, [("sanctions", "kind")]),
    ("SanctionState", SanctionState, [("sanctions", "state")]),
    ("QualificationStatus", QualificationStatus, []),
]


@pytest.mark.parametrize(("name", "enum", "columns"), ENUMS, ids=[e[0] for e in ENUMS])
async def test_one_enum_per_concept_from_the_api_to_the_database(
    db: Database, name: str, enum: type[StrEnum], columns: list[tuple[str, str]]
) -> None:
    definition = schema.get_type_by_name(name)
    assert isinstance(definition, StrawberryEnumDefinition) and definition.wrapped_cls is enum
    async with db.reader() as conn:
        for table, column in columns:
            check = await conn.scalar(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name"),
                {"name": f"ck_{table}_{column}"},
            )
            assert sorted(re.findall(r"'(\w+)'", check)) == sorted(member.value for member in enum), check
