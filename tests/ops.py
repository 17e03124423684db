"""The documented operations (graphql/operations/*.graphql), sent by name exactly as written."""

from __future__ import annotations

from pathlib import Path

from graphql import OperationDefinitionNode, parse

OPERATIONS_DIR = Path(__file__).resolve().parents[1] / "graphql" / "operations"


def _load() -> dict[str, str]:
    documents = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        for definition in parse(text).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                documents[definition.name.value] = text
    return documents


DOCUMENTS = _load()
