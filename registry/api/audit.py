"""Every mutation leaves a row in the audit trail (`registry.audit`), whatever its outcome.

`Audited` wraps each mutation field: it arms the entry (actor, operation, input digest) so that the mutation's own
transaction writes it at commit; a mutation that is refused (userErrors) or fails commits nothing, and its entry is
written afterwards, with the codes.

The input digest is the SHA-256 of the RFC 8785 JSON of the field's arguments as GraphQL shows them: camelCase
names, enums by name, dates in ISO form, decimals as strings, every field present (null when not given). A client
that sent `{"input": {...}}` in that form finds the same digest.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import structlog
from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.types.base import has_object_definition
from strawberry.utils.str_converters import to_camel_case

from registry import audit
from registry.db import is_unavailable

from .context import Info

log = structlog.get_logger("registry")


class Audited(FieldExtension):
    async def resolve_async(self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        context = info.context
        entry = audit.Entry(context.actor, info.field_name, audit.digest(_json(kwargs)))
        try:
            with audit.recording(entry):
                payload = await next_(source, info, **kwargs)
        except Exception as exc:
            code = exc.extensions.get("code") if isinstance(exc, GraphQLError) and exc.extensions else None
            entry.outcome, entry.error_codes = audit.Outcome.ERROR, [str(code or "INTERNAL")]
            try:
                await audit.write(context.db, entry)
            except Exception as failure:  # a database that is down is said in one line; a bug with its traceback
                message = "audit: a failed mutation could not be recorded"
                log.warning(message, operation=entry.operation, exc_info=not is_unavailable(failure))
            raise
        if not entry.written:
            errors = getattr(payload, "user_errors", None)
            if errors:
                entry.outcome, entry.error_codes = audit.Outcome.REFUSED, [str(e.code) for e in errors]
            await audit.write(context.db, entry)
        return payload


def audited(mutation: type) -> type:
    """The mutation type, each of its fields wrapped by `Audited` (once, however often the schema is built)."""
    for field in mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if not any(isinstance(e, Audited) for e in field.extensions):
            field.extensions.append(Audited())
    return mutation


def _json(value: Any) -> Any:
    """An argument as GraphQL serialises it (see the module's notes)."""
    if has_object_definition(value):
        return {
            field.graphql_name or to_camel_case(field.python_name): _json(getattr(value, field.python_name))
            for field in value.__strawberry_definition__.fields
        }
    if isinstance(value, dict):
        return {to_camel_case(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (refused later as input): digest it escaped
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value
