"""Facts in their stable wire form: what the event log stores and what federation will sign.

A fact is a frozen dataclass with a `TYPE` and a `VERSION`. Its wire form is a JSON-ready dict of its fields in
snake_case, in declaration order: dates as `YYYY-MM-DD`, decimals as strings with 2 decimals, enums as their
values, absent optional values as null, lists in their own order. `from_wire` reads that form back, strictly.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
import typing
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Self


class Fact:
    """Base of every fact class (each one a frozen dataclass)."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    # The fields whose values, joined by "/", name what the fact is about (the event log indexes it).
    SUBJECT: ClassVar[tuple[str, ...]]

    @property
    def subject(self) -> str:
        return "/".join(str(getattr(self, name)) for name in self.SUBJECT)

    def wire(self) -> dict[str, Any]:
        wired = {}
        for name in _names(type(self)):
            value = getattr(self, name)
            wired[name] = value if type(value) in _AS_THEY_ARE else to_wire(value)
        return wired

    @classmethod
    def from_wire(cls, data: object) -> Self:
        """The fact a wire dict describes; ValueError when it does not match this type's fields exactly."""
        return _read(cls, data, cls.TYPE)

    @classmethod
    def of(cls, source: object, **extra: Any) -> Self:
        """The fact a command records: the command's fields of the same names, and `extra` for what the node adds."""
        return cls(**{name: extra[name] if name in extra else getattr(source, name) for name in _names(cls)})


@dataclass(frozen=True)
class Issued:
    """Where a fact comes from: the node that issued it and its place in that node's log, and who recorded it."""

    origin: str
    seq: int
    by: str  # the actor on the origin node; "replica" for a fact applied from a peer

    def columns(self) -> dict[str, Any]:
        return {"origin": self.origin, "origin_seq": self.seq, "recorded_by": self.by}


def digest(fact: Fact) -> str:
    """SHA-256 of the wire form (sorted keys, no spaces): equal facts, equal digests."""
    text = json.dumps(fact.wire(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)  # type: ignore[arg-type]


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The field names of a fact class, looked up once."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in _fields(cls))
    return names


_AS_THEY_ARE = frozenset({str, int, bool, type(None)})  # exact types: an enum is a str or int subclass


def to_wire(value: object) -> object:
    kind = type(value)
    if kind in _AS_THEY_ARE:  # most values: checked first, since an import writes millions
        return value
    if kind is tuple or kind is list:
        return [v if type(v) in _AS_THEY_ARE else to_wire(v) for v in value]  # type: ignore[attr-defined]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    """A fact class's field types (resolving them costs more than reading a whole fact)."""
    return typing.get_type_hints(kind)


def _read(kind: Any, data: object, where: str) -> Any:
    """Parse `data` as the annotated type `kind`; `where` names the place for error messages."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _read(inner, data, where)
    if origin is tuple:
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list")
        return tuple(_read(args[0], item, f"{where}[{i}]") for i, item in enumerate(data))
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object")
        hints = _hints(kind)
        names = [f.name for f in dataclasses.fields(kind)]
        if set(data) != set(names):
            raise ValueError(f"{where}: expected the fields {names}, got {sorted(data)}")
        return kind(**{n: _read(hints[n], data[n], f"{where}.{n}") for n in names})
    try:
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(data)
        if kind is date and isinstance(data, str):
            return date.fromisoformat(data)
        if kind is Decimal and isinstance(data, str):
            return Decimal(data)
    except (ValueError, ArithmeticError) as exc:  # decimal.InvalidOperation is an ArithmeticError
        raise ValueError(f"{where}: {exc}") from None
    if kind in (str, int, bool) and type(data) is kind:
        return data
    raise ValueError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {data!r}")
