"""Types shared by every part of the schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from registry.errors import Code, UserErrors

ErrorCode = strawberry.enum(Code, name="UserErrorCode", description="Stable, machine-readable error codes.")


@strawberry.type(description="A failure the caller caused. Nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(description="Path to the input field at fault, when there is one.")
    message: str
    code: ErrorCode  # type: ignore[valid-type]


T = TypeVar("T")


def user_errors(exc: UserErrors) -> list[UserError]:
    return [UserError(field=list(p.field) if p.field else None, message=p.message, code=p.code) for p in exc.problems]


async def attempt(call: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run one use case; turn the failures a user caused into `userErrors` data."""
    try:
        return await call(), []
    except UserErrors as exc:
        return None, user_errors(exc)


async def answer(call: Callable[[], Awaitable[T]]) -> T:
    """Run a read; a failure the caller caused becomes a GraphQL error carrying its stable code."""
    from graphql import GraphQLError

    try:
        return await call()
    except UserErrors as exc:
        problem = exc.problems[0]
        raise GraphQLError(problem.message, extensions={"code": str(problem.code)}) from None
