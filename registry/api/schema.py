"""The GraphQL schema, composed from one module per domain, with its limits and the codes of its errors."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import dateutil.parser
import strawberry
import structlog
from graphql import ASTValidationRule, GraphQLError, parse, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.schema import validate_document
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition, DecimalDefinition, wrap_parser
from strawberry.tools import merge_types

from registry.db import is_unavailable
from registry.eligibility.moments import parse_common
from registry.errors import Code
from registry.observability import ObservedErrors

from .audit import audited
from .disclosures import DisclosureQuery
from .eligibility import EligibilityQuery
from .federation import FederationQuery
from .limits import INTROSPECTION_DEPTH, RequestBudget, alias_rule, depth_rule
from .points import PointsMutation, PointsQuery
from .practitioners import PractitionerMutation, PractitionerQuery

Query = merge_types("Query", (PractitionerQuery, EligibilityQuery, PointsQuery, FederationQuery, DisclosureQuery))
Mutation = audited(merge_types("Mutation", (PractitionerMutation, PointsMutation)))
# merge_types takes no description.
Query.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "What a caller may read. Send `Authorization: Bearer TOKEN` (`registry token`): without a valid one, HTTP 401. A "
    "refusal is a GraphQL error with `extensions.code` (FORBIDDEN, INVALID_INPUT, ...), and reads nothing."
)
Mutation.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "What a caller may change. Each mutation is one transaction: a mistake is a `userErrors` entry with a stable code, "
    "and nothing is written. A fact about a region that another province's node serves is WRONG_NODE. Every call, "
    "refused or not, leaves a row in the audit trail."
)

log = structlog.get_logger("registry")
UNAVAILABLE_MESSAGE = "The database is unavailable; try again later."


def _is_a_bug(error: GraphQLError) -> bool:
    """Errors we raise on purpose (with a code) and GraphQL's own are shown; a bug's details stay in the log; a
    database that is down is not a bug (see CodedErrors)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError) and not is_unavailable(original)


class CodedErrors(SchemaExtension):
    """Every error the client sees carries `extensions.code`: a document or variables that do not fit the schema
    (the limits included) are INVALID_QUERY; a database that is down is UNAVAILABLE, answered with HTTP 503."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._coded(error) for error in result.errors]

    def _coded(self, error: GraphQLError) -> GraphQLError:
        if error.original_error is not None and is_unavailable(error.original_error):
            log.error("database unavailable", reason=" ".join(str(error.original_error).split())[:300])
            response = getattr(self.execution_context.context, "response", None)
            if response is not None:
                response.status_code = 503
                response.headers["Retry-After"] = "5"
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": str(Code.UNAVAILABLE)},
            )
        if not (error.extensions or {}).get("code") and not _is_a_bug(error):
            # A new error: the one in hand may be shared by the validation cache.
            return GraphQLError(
                error.message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={**(error.extensions or {}), "code": str(Code.INVALID_QUERY)},
            )
        return error


def parse_datetime(value: str) -> datetime:
    """strawberry's DateTime parser (dateutil's), with the common shape read by the standard library first: the
    same moments, the same errors, a fraction of the time in a batch."""
    return parse_common(value) or dateutil.parser.isoparse(value)


DateTime = dataclasses.replace(
    DateTimeDefinition,
    parse_value=wrap_parser(parse_datetime, "DateTime"),
    description="A moment: ISO 8601 date and time with an offset (2025-03-10T09:30:00+08:00). One sent without an "
    "offset is China Standard Time, and is shown back as sent.",
)
Date = dataclasses.replace(
    DateDefinition,
    description="A calendar day in China Standard Time: YYYY-MM-DD (2025-03-10). The registry's calendar runs from "
    "1900-01-01 to 2100-12-31; a day outside it is INVALID_INPUT.",
)
Money = dataclasses.replace(
    DecimalDefinition,
    description='An amount in yuan, as a string with 2 decimals ("12345.60"); send it as a string too.',
)


def build_schema(
    *,
    max_depth: int = 10,
    max_introspection_depth: int = INTROSPECTION_DEPTH,
    max_tokens: int = 20_000,
    max_aliases: int = 30,
    introspection: bool = True,
) -> strawberry.Schema:
    # The rule classes are built once, for the schema's life: the validation cache is keyed by them, and a class
    # made per request (as the limiters' own factories do) would make every request validate again.
    rules: list[type[ASTValidationRule]] = [depth_rule(max_depth, max_introspection_depth), alias_rule(max_aliases)]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        scalar_overrides={datetime: DateTime, date: Date, Decimal: Money},
        extensions=[
            # Parsing and validating the same documents again costs milliseconds on the hot path.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ObservedErrors(should_mask_error=_is_a_bug),
            CodedErrors,
            RequestBudget,
        ],
    )


@functools.cache
def accepts(document: str, *, max_depth: int, max_tokens: int) -> bool:
    """Whether the general path would run `document`: within the token limit, and valid under the schema's rules
    with the depth limit (the fast path answers only documents that pass both). Every schema built here has the
    same types, so the answer depends on the limits alone."""
    try:
        ast = parse(document, max_tokens=max_tokens)
    except GraphQLError:
        return False
    rules = (*specified_rules, depth_rule(max_depth, INTROSPECTION_DEPTH))
    return not validate_document(schema._schema, ast, rules)


schema = build_schema()
