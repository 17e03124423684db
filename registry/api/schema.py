"""The GraphQL schema, composed from one module per domain."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.tools import merge_types

from .eligibility import EligibilityQuery
from .points import PointsMutation, PointsQuery
from .practitioners import PractitionerMutation, PractitionerQuery

Query = merge_types("Query", (PractitionerQuery, EligibilityQuery, PointsQuery))
Mutation = merge_types("Mutation", (PractitionerMutation, PointsMutation))


def build_schema(*, max_depth: int = 10, max_tokens: int = 20_000) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            # Parsing and validating the same documents again costs milliseconds on the hot path.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
        ],
    )


schema = build_schema()
