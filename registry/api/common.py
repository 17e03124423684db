"""Types and helpers shared by every part of the schema: user errors, and running a use case."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from registry.access import Verdict
from registry.errors import Code, Problem, UserErrors

from .mapping import argument_path, graphql_path

ErrorCode = strawberry.enum(Code, name="UserErrorCode", description="Stable, machine-readable error codes.")


@strawberry.type(description="A failure the caller caused. Nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(description="Path to the input field at fault, when there is one.")
    message: str
    code: ErrorCode  # type: ignore[valid-type]


T = TypeVar("T")


def user_errors(exc: UserErrors) -> list[UserError]:
    return [UserError(field=graphql_path(p.field), message=p.message, code=p.code) for p in exc.problems]


async def attempt(use_case: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run one use case; turn the failures a user caused into `userErrors` data."""
    try:
        return await use_case, []
    except UserErrors as exc:
        return None, user_errors(exc)


def query_error(problem: Problem) -> GraphQLError:
    """A query's failure: its stable code and, when an argument is at fault, that argument's path."""
    extensions: dict[str, object] = {"code": str(problem.code)}
    if problem.field:
        extensions["field"] = argument_path(problem.field)
    return GraphQLError(problem.message, extensions=extensions)


def refuse(*problems: Problem | None) -> None:
    """Refuse a query whose arguments are wrong, naming the first at fault."""
    for problem in problems:
        if problem is not None:
            raise query_error(problem)


async def answer(read: Awaitable[T]) -> T:
    """Run a read; a failure the caller caused becomes a GraphQL error carrying its stable code."""
    try:
        return await read
    except UserErrors as exc:
        raise query_error(exc.problems[0]) from None


def allow(verdict: Verdict) -> None:
    """Refuse a query the actor may not make, as a GraphQL error with the code FORBIDDEN."""
    if verdict is not None:
        raise query_error(verdict)
