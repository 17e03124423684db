"""The one place where the API translates: GraphQL inputs into commands, domain field paths into GraphQL paths,
and domain objects into GraphQL types.

Inputs and commands share their field names (snake_case in Python; strawberry camel-cases them in the schema), so
the translation is by name, with no field copied by hand.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any, TypeVar

from strawberry.utils.str_converters import to_camel_case

from registry.errors import Path

C = TypeVar("C")
T = TypeVar("T")


def command(kind: type[C], source: object, **given: Any) -> C:
    """The command (a dataclass) whose fields the strawberry input `source` carries under the same names, and `given`
    supplies; a list of inputs becomes a tuple of commands of the annotated type."""
    hints = _hints(typing.cast(type, kind))
    return kind(**{n: given[n] if n in given else _value(hints[n], getattr(source, n)) for n in hints})


def _value(kind: Any, value: object) -> object:
    if typing.get_origin(kind) is tuple and isinstance(value, list):
        item = typing.get_args(kind)[0]
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return tuple(command(item, v) for v in value)
        return tuple(value)
    return value


def graphql_path(field: Path | None) -> list[str] | None:
    """`("entries", 0, "points")` → `["input", "entries", "0", "points"]`; `()`, the whole command, → `["input"]`."""
    if field is None:
        return None
    return ["input", *(to_camel_case(part) if isinstance(part, str) else str(part) for part in field)]


def output(kind: type[T], source: object, **given: Any) -> T:
    """The GraphQL type `kind` filled from `source`'s attributes of the same names, and from `given`."""
    return kind(**{n: given[n] if n in given else getattr(source, n) for n in _init_fields(typing.cast(type, kind))})


# Eligibility batches shape thousands of answers: read each class's fields once.


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    """A command's fields and their annotated types, in order."""
    hints = typing.get_type_hints(kind)
    return {f.name: hints[f.name] for f in dataclasses.fields(kind)}


@functools.cache
def _init_fields(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind) if f.init)
