"""The GraphQL schema, composed from one module per domain."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.tools import merge_types

from registry.observability import ObservedErrors

from .audit import audited
from .disclosures import DisclosureQuery
from .eligibility import EligibilityQuery
from .federation import FederationQuery
from .points import PointsMutation, PointsQuery
from .practitioners import PractitionerMutation, PractitionerQuery

Query = merge_types("Query", (PractitionerQuery, EligibilityQuery, PointsQuery, FederationQuery, DisclosureQuery))
Mutation = audited(merge_types("Mutation", (PractitionerMutation, PointsMutation)))


def _is_a_bug(error: GraphQLError) -> bool:
    """Errors we raise on purpose (with a code) and GraphQL's own are shown; a bug's details stay in the log."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def build_schema(*, max_depth: int = 10, max_tokens: int = 20_000) -> strawberry.Schema:
    # One rule class for the schema's life: a class made per request (as QueryDepthLimiter does when built by a
    # factory) changes the validation cache's key, and every request would be validated again.
    depth_rule = create_validator(max_depth, None)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            # Parsing and validating the same documents again costs milliseconds on the hot path.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: AddValidationRules([depth_rule]),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ObservedErrors(should_mask_error=_is_a_bug),
        ],
    )


schema = build_schema()
