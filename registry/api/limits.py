"""Limits on what one request may cost: depth (introspection included), eligibility checks per request (summed
over every field and alias of the document), and a rate per token.

The validation rules are classes built once per schema: the validation cache is keyed by the rule classes, and a
class built per request would make every request validate again.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    ValueNode,
    VariableNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from registry.errors import Code

# The standard introspection query (graphql-core's, GraphiQL's, schemathesis') nests 15 deep in its TypeRef chain.
INTROSPECTION_DEPTH = 15
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


class _TooDeep(Exception):
    pass


def depth_rule(max_depth: int, max_introspection_depth: int = INTROSPECTION_DEPTH) -> type[ValidationRule]:
    """Every field counts, introspection's too (strawberry's QueryDepthLimiter skips them); below `__schema` or
    `__type` the limit is `max_introspection_depth`, so that the standard introspection query still runs."""

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = {d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)}
            walked: set[tuple[str, int, int]] = set()

            def walk(selections: SelectionSetNode, depth: int, limit: int, path: frozenset[str]) -> None:
                for selection in selections.selections:
                    if isinstance(selection, FieldNode):
                        here = max_introspection_depth if selection.name.value in _INTROSPECTION_ROOTS else limit
                        if depth + 1 > here:
                            message = f"maximum depth exceeded: the document nests more than {here} fields"
                            context.report_error(GraphQLError(message, [selection]))
                            raise _TooDeep
                        if selection.selection_set:
                            walk(selection.selection_set, depth + 1, here, path)
                    elif isinstance(selection, InlineFragmentNode):
                        walk(selection.selection_set, depth, limit, path)
                    elif isinstance(selection, FragmentSpreadNode):
                        name = selection.name.value
                        fragment = fragments.get(name)
                        # Unknown and cyclic fragments are other rules' to report; each (fragment, depth) is
                        # walked once, so that fragments spread many times cannot make this exponential.
                        if fragment is None or name in path or (name, depth, limit) in walked:
                            continue
                        walked.add((name, depth, limit))
                        walk(fragment.selection_set, depth, limit, path | {name})

            try:
                for definition in context.document.definitions:
                    if isinstance(definition, OperationDefinitionNode):
                        walk(definition.selection_set, 0, max_depth, frozenset())
            except _TooDeep:
                pass

    return DepthLimit


def alias_rule(max_aliases: int) -> type[ValidationRule]:
    """At most `max_aliases` aliases in the document's operations, fragments counted where they are spread.

    strawberry's MaxAliasesLimiter counts the same, but walks a fragment again at every spread: a document whose
    fragments each spread the next twice takes 2^n steps. Here each fragment's count is kept once made.
    """

    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = {d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)}
            counted: dict[str, int] = {}

            def count(selections: SelectionSetNode | None, path: frozenset[str]) -> int:
                total = 0
                for selection in selections.selections if selections else ():
                    if isinstance(selection, FieldNode | InlineFragmentNode):
                        total += int(isinstance(selection, FieldNode) and selection.alias is not None)
                        total += count(selection.selection_set, path)
                    elif isinstance(selection, FragmentSpreadNode):
                        name = selection.name.value
                        if name in fragments and name not in path:  # cycles are another rule's to report
                            if name not in counted:
                                counted[name] = count(fragments[name].selection_set, path | {name})
                            total += counted[name]
                return total

            found = sum(
                count(d.selection_set, frozenset())
                for d in context.document.definitions
                if isinstance(d, OperationDefinitionNode)
            )
            if found > max_aliases:
                context.report_error(GraphQLError(f"{found} aliases in the document; at most {max_aliases}"))

    return AliasLimit


# ---- eligibility checks per request ------------------------------------------------------------------------------


def count_checks(document: Any, operation_name: str | None, variables: Mapping[str, Any] | None) -> int:
    """The eligibility checks the operation asks for: one per `eligibility`, one per item of each `eligibilities`,
    over every alias and root fragment (counted before execution, with the variables as sent)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    variables = variables or {}

    counted: dict[str, int] = {}  # by fragment: a fragment spread many times is counted once (no blow-up)

    def count(selections: SelectionSetNode, seen: frozenset[str]) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value == "eligibility":
                    total += 1
                elif selection.name.value == "eligibilities":
                    argument = next((a.value for a in selection.arguments or () if a.name.value == "checks"), None)
                    total += _items(argument, variables)
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    if name not in counted:
                        counted[name] = count(fragment.selection_set, seen | {name})
                    total += counted[name]
        return total

    return count(operation.selection_set, frozenset())


def _items(value: ValueNode | None, variables: Mapping[str, Any]) -> int:
    if isinstance(value, ListValueNode):
        return len(value.values)
    if isinstance(value, ObjectValueNode):
        return 1  # one input object stands for a list of one
    if isinstance(value, VariableNode):
        given = variables.get(value.name.value)
        if isinstance(given, list):
            return len(given)
        return 0 if given is None else 1
    return 0


# ---- a rate per token --------------------------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per key, in this process: `burst` units, refilled at `rate` a second.

    A request costs 1, or its eligibility checks. It is let in when the bucket holds min(cost, burst) units, and
    the whole cost is taken, so a batch larger than the burst is let in from a full bucket and leaves it in debt:
    over any span of time a key spends at most burst + rate × seconds (plus one batch).
    """

    MAX_KEYS = 100_000  # past this many keys, the full buckets (idle ones) are forgotten

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (units, when)

    def spend(self, key: str, cost: int) -> float:
        """0 when the request may go ahead (and its cost is taken); else the seconds until it could."""
        now = self.clock()
        units, when = self._buckets.get(key, (float(self.burst), now))
        units = min(float(self.burst), units + (now - when) * self.rate)
        needed = min(cost, self.burst)
        if units < needed:
            self._buckets[key] = (units, now)
            return (needed - units) / self.rate
        if len(self._buckets) >= self.MAX_KEYS:
            self._forget_idle(now)
        self._buckets[key] = (units - cost, now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        full = [k for k, (u, w) in self._buckets.items() if u + (now - w) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]


def token_key(authorization: str) -> str:
    """What a token's bucket is kept under: a digest, so that no token is kept in memory longer than a request."""
    return hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).hexdigest()


class RequestBudget(SchemaExtension):
    """Before execution: refuse a document that asks more eligibility checks than allowed (TOO_MANY_CHECKS), then
    spend its cost from the token's bucket (RATE_LIMITED, HTTP 429 with Retry-After, when it is empty)."""

    def on_execute(self) -> Iterator[None]:
        refusal = self._refusal()
        if refusal is not None:
            self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def _refusal(self) -> GraphQLError | None:
        execution = self.execution_context
        context = execution.context
        services = context.services
        checks = count_checks(execution.graphql_document, execution.operation_name, execution.variables)
        if checks > services.max_batch_checks:
            return GraphQLError(
                f"{checks} eligibility checks in one request; at most {services.max_batch_checks}",
                extensions={"code": str(Code.TOO_MANY_CHECKS)},
            )
        key = token_key(context.request.headers.get("authorization", ""))
        wait = services.rate_limiter.spend(key, max(1, checks))
        if not wait:
            return None
        retry_after = max(1, math.ceil(wait))
        context.response.status_code = 429
        context.response.headers["Retry-After"] = str(retry_after)
        return GraphQLError(
            f"this token has sent more than its rate allows; retry in {retry_after} s",
            extensions={"code": str(Code.RATE_LIMITED), "retryAfter": retry_after},
        )
