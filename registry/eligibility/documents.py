"""The contract's two eligibility operations, recognised by the SHA-256 of the document a client sends.

Clients send the contract's documents unchanged (graphql/operations/contract.graphql): the whole file with an
`operationName`, or one operation's text. Apollo-style clients may send only its hash
(`extensions.persistedQuery.sha256Hash`), and graphql-js clients the operation as its printer writes it. Each of
these texts is known here by its hash; any other text, even one differing only in whitespace, is not.

The texts are fixed, so every process of every node knows the same ones: nothing here is learnt at run time.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from graphql import OperationDefinitionNode, Source, parse, print_ast
from graphql.language import get_location

# Exactly as written in the contract (a test compares them with both copies of it).
ELIGIBILITY = """\
query Eligibility($practitionerCode: String!, $institutionCode: String, $at: DateTime, $emergency: Boolean) {
  eligibility(practitionerCode: $practitionerCode, institutionCode: $institutionCode, at: $at, emergency: $emergency) {
    practitionerCode institutionCode at
    eligible status affiliated eligibleAgainOn
    sanction { kind state startsOn endsOn reregistrationAllowedFrom caseNumber regionCode }
  }
}"""
ELIGIBILITIES = """\
query Eligibilities($checks: [EligibilityCheckInput!]!) {
  eligibilities(checks: $checks) {
    practitionerCode institutionCode at
    eligible status affiliated eligibleAgainOn
  }
}"""
OPERATIONS = {"Eligibility": ELIGIBILITY, "Eligibilities": ELIGIBILITIES}
# The repository's copy of the contract (the README installs the package editable, as GraphiQL also assumes).
CONTRACT_FILE = Path(__file__).resolve().parents[2] / "graphql" / "operations" / "contract.graphql"


@dataclass(frozen=True)
class Operation:
    name: str  # "Eligibility" or "Eligibilities"
    batch: bool
    # Where the root field is in the document: a GraphQL error about it names this line and column.
    line: int
    column: int


@dataclass(frozen=True)
class Document:
    text: str
    operations: dict[str, Operation]  # the contract's eligibility operations in it, by name
    single: bool  # the document holds one operation, so `operationName` may be left out

    def operation(self, name: object) -> Operation | None:
        """The operation that runs for this `operationName`, when it is one of the contract's two."""
        if name is None:
            return next(iter(self.operations.values())) if self.single else None
        return self.operations.get(name) if isinstance(name, str) else None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def candidate_texts() -> tuple[str, ...]:
    """What clients send: each operation alone (with or without a final newline, or printed by graphql-js), and the
    contract's whole document (read once: it does not change while the node runs)."""
    texts = [variant for text in OPERATIONS.values() for variant in (text, text + "\n", print_ast(parse(text)))]
    if CONTRACT_FILE.exists():
        texts.append(CONTRACT_FILE.read_text(encoding="utf-8"))
    return tuple(texts)


@functools.cache
def _document(text: str) -> Document | None:
    ast = parse(text)
    definitions = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    source = Source(text)
    found: dict[str, Operation] = {}
    for node in definitions:
        name = node.name.value if node.name else None
        if name not in OPERATIONS or node.loc is None:
            continue
        if print_ast(node) != _printed(name):
            return None  # not the contract's operation: the answer's shape would differ
        field = node.selection_set.selections[0]
        assert field.loc is not None
        where = get_location(source, field.loc.start)
        found[name] = Operation(name, name == "Eligibilities", where.line, where.column)
    if not found or len(definitions) != len(ast.definitions):
        return None  # fragments are not part of the contract
    return Document(text, found, single=len(definitions) == 1)


@functools.cache
def _printed(name: str) -> str:
    return print_ast(parse(OPERATIONS[name]).definitions[0])


def known_documents(accepted: Callable[[str], bool], texts: Iterable[str] | None = None) -> dict[str, Document]:
    """The documents the fast path answers, by the SHA-256 of their text: those the general path also `accepted`
    (the node's parse limits and validation rules, so that a tightened limit applies to both)."""
    known = {}
    for text in candidate_texts() if texts is None else texts:
        document = _document(text)
        if document is not None and accepted(text):
            known[sha256(text)] = document
    return known
