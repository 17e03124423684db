"""The committed SDL matches the code, and every documented operation validates against it."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, build_schema, parse, validate

from registry.api.schema import schema
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


def test_api_enums_match_the_stored_values() -> None:
    from registry.api.practitioners import InstitutionKind, PractitionerCategory
    from registry.practitioners.models import CATEGORIES, INSTITUTION_KINDS

    assert [k.value for k in InstitutionKind] == list(INSTITUTION_KINDS)
    assert [c.value for c in PractitionerCategory] == list(CATEGORIES)
