"""Moments as clients send them (`at`), parsed by the standard library.

The common shape, `2025-06-03T10:00:00+08:00` (seconds, optional fraction, `Z`, an offset or none), is what
`datetime.fromisoformat` and dateutil's ISO parser (strawberry's DateTime) read alike: the same instant, offset and
`isoformat()`. A test holds them to it. Anything else is left to the general path's parser.
"""

from __future__ import annotations

import re
from datetime import datetime

_COMMON = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)


def parse_common(value: str) -> datetime | None:
    """The moment, when `value` has the common shape and is a real one (no 30 February); else None."""
    if _COMMON.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
