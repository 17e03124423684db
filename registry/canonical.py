"""Canonical JSON (RFC 8785): the bytes the event chain hashes and signs, the audit trail chains, and a webhook's
id is made from. Pure.

Written by orjson with sorted keys, which gives RFC 8785's bytes for what this module accepts: dicts with ASCII
string keys, lists, strings, booleans, None and integers within ±(2**53-1) (`tests/unit/test_envelope.py` proves it
against the `rfc8785` package on generated values). Anything else (floats, non-ASCII keys, larger integers, enums,
tuples, bytes, nesting deeper than 8) has no form here and is refused, rather than written in a way another
implementation would not reproduce.
"""

from __future__ import annotations

import orjson

MAX_INT = 2**53 - 1  # RFC 8785 numbers are IEEE doubles: larger integers have no exact form
MAX_DEPTH = 8  # a decision's entries sit at depth 3
_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
# Exact types: subclasses (str or int enums) and other types would serialise differently or not at all.
_LEAVES = frozenset({str, bool, type(None)})


class NotCanonical(ValueError):
    """A value with no canonical form here; the message names where it is ($.path) and why."""


def canonical(obj: object) -> bytes:
    """RFC 8785 bytes of obj, which holds only dicts with ASCII str keys, lists, str, int, bool and None."""
    problem = _problem(obj, 0)
    if problem is not None:
        raise NotCanonical(f"${problem[0]}: {problem[1]}")
    try:
        return orjson.dumps(obj, option=_ORJSON)
    except orjson.JSONEncodeError as e:  # a str with a lone surrogate is not Unicode text
        raise NotCanonical(f"not serialisable: {e}") from None


def _problem(value: object, depth: int) -> tuple[str, str] | None:
    """The path and nature of the first value canonical() cannot take, if any. Paths are built only on failure:
    this walk runs on every event sent and received."""
    kind = type(value)
    if kind in _LEAVES:
        return None
    if kind is int and isinstance(value, int):
        return None if -MAX_INT <= value <= MAX_INT else ("", "integer beyond ±(2**53-1)")
    if depth >= MAX_DEPTH:
        return ("", f"nested deeper than {MAX_DEPTH}")
    if kind is dict and isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return ("", f"keys are ASCII strings, not {key!r}")
            if type(item) not in _LEAVES and (found := _problem(item, depth + 1)):
                return (f".{key}{found[0]}", found[1])
        return None
    if kind is list and isinstance(value, list):
        for i, item in enumerate(value):
            if type(item) not in _LEAVES and (found := _problem(item, depth + 1)):
                return (f"[{i}]{found[0]}", found[1])
        return None
    hint = "; send decimals as strings" if kind is float else ""
    return ("", f"a {kind.__name__} has no canonical form here{hint}")
