#!/usr/bin/env python3
"""Check the public operations against a GraphQL schema (SDL).

Usage: .venv/bin/python tools/check_contract.py [SCHEMA.graphql] [OPERATIONS.graphql]

Defaults: the repository's graphql/schema.graphql and graphql/operations/contract.graphql (the contract's
operations, kept unchanged). Prints one line per operation, "ok" or the validation errors, and exits 1 when any
operation fails. Needs graphql-core, which strawberry installs.
"""

import sys
from pathlib import Path

try:
    from graphql import DocumentNode, build_schema, parse, validate
    from graphql.language import OperationDefinitionNode
except ImportError:
    sys.exit("check_contract: graphql-core is not installed; run this with the project's Python")

root = Path(__file__).resolve().parents[1]
schema_path = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "graphql" / "schema.graphql"
ops_path = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "graphql" / "operations" / "contract.graphql"

for path in (schema_path, ops_path):
    if not path.exists():
        sys.exit(f"check_contract: no file at {path}")
schema = build_schema(schema_path.read_text(encoding="utf-8"))
document = parse(ops_path.read_text(encoding="utf-8"))
operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]

failed = 0
for definition in operations:
    name = definition.name.value if definition.name else "(anonymous)"
    # graphql-core 3.3 wants the definitions as a tuple.
    errors = validate(schema, DocumentNode(definitions=(definition,)))
    if errors:
        failed += 1
        print(f"FAIL {name}")
        for error in errors:
            print(f"     {error.message}")
    else:
        print(f"ok   {name}")
print(f"{len(operations) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
