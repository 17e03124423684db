"""The GraphQL schema, composed from one module per domain."""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime

import dateutil.parser
import strawberry
from graphql import GraphQLError, parse, specified_rules
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.schema.schema import validate_document
from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser
from strawberry.tools import merge_types

from registry.eligibility.moments import parse_common
from registry.observability import ObservedErrors

from .eligibility import EligibilityQuery
from .points import PointsMutation, PointsQuery
from .practitioners import PractitionerMutation, PractitionerQuery

Query = merge_types("Query", (PractitionerQuery, EligibilityQuery, PointsQuery))
Mutation = merge_types("Mutation", (PractitionerMutation, PointsMutation))


def _is_a_bug(error: GraphQLError) -> bool:
    """Errors we raise on purpose (with a code) and GraphQL's own are shown; a bug's details stay in the log."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def parse_datetime(value: str) -> datetime:
    """strawberry's DateTime parser (dateutil's), with the common shape read by the standard library first: the
    same moments, the same errors, a fraction of the time in a batch."""
    return parse_common(value) or dateutil.parser.isoparse(value)


DateTime = dataclasses.replace(DateTimeDefinition, parse_value=wrap_parser(parse_datetime, "DateTime"))


def build_schema(*, max_depth: int = 10, max_tokens: int = 20_000) -> strawberry.Schema:
    # One rule class for the schema's life: a class made per request (as QueryDepthLimiter does when built by a
    # factory) changes the validation cache's key, and every request would be validated again.
    depth_rule = create_validator(max_depth, None)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        scalar_overrides={datetime: DateTime},
        extensions=[
            # Parsing and validating the same documents again costs milliseconds on the hot path.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: AddValidationRules([depth_rule]),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ObservedErrors(should_mask_error=_is_a_bug),
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
    return not validate_document(schema._schema, ast, (*specified_rules, create_validator(max_depth, None)))


schema = build_schema()
