"""The committed SDL matches the code, and every documented operation validates against it."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    parse,
    specified_directives,
    specified_scalar_types,
    validate,
)
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


def undescribed(built: GraphQLSchema) -> list[str]:
    """Every type, field, argument, input field, enum value and directive of `built` that has no description,
    named as a developer would look it up; the built-in scalars, directives and introspection types excepted."""
    missing: list[str] = []

    def need(description: str | None, name: str) -> None:
        if not (description or "").strip():
            missing.append(name)

    for name, kind in sorted(built.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        need(kind.description, name)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in kind.fields.items():
                need(field.description, f"{name}.{field_name}")
                for arg_name, arg in field.args.items():
                    need(arg.description, f"{name}.{field_name}({arg_name})")
        elif isinstance(kind, GraphQLInputObjectType):
            for field_name, input_field in kind.fields.items():
                need(input_field.description, f"{name}.{field_name}")
        elif isinstance(kind, GraphQLEnumType):
            for value_name, value in kind.values.items():
                need(value.description, f"{name}.{value_name}")
    for directive in built.directives:
        if directive not in specified_directives:
            need(directive.description, f"@{directive.name}")
            for arg_name, arg in directive.args.items():
                need(arg.description, f"@{directive.name}({arg_name})")
    return missing


def test_the_walk_names_everything_that_lacks_a_description() -> None:
    bare = build_schema(
        """
        "Described." scalar Day
        directive @tag(name: String) on FIELD_DEFINITION
        type Query { a(b: Int): Kind @tag(name: "x") c: String }
        input Filter { d: Day }
        "Described." enum Kind { "Described." X Y }
        """
    )
    assert undescribed(bare) == [
        "Filter",
        "Filter.d",
        "Kind.Y",
        "Query",
        "Query.a",
        "Query.a(b)",
        "Query.c",
        "@tag",
        "@tag(name)",
    ]


def test_every_part_of_the_schema_says_what_it_does() -> None:
    missing = undescribed(build_schema(SDL.read_text(encoding="utf-8")))
    assert not missing, f"{len(missing)} parts of graphql/schema.graphql have no description: {', '.join(missing)}"


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
