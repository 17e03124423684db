"""Pure checks of the identifiers that bureaus and institutions send."""

from __future__ import annotations

import hashlib
import hmac
import operator
import re
from datetime import date

# [0-9], not \d: \d also matches other scripts' digits (٥, ５).
INSTITUTION_CODE = re.compile(r"[HP][0-9]{11}")
PRACTITIONER_CODE = re.compile(r"[A-Za-z0-9]{1,20}")
RESIDENT_ID = re.compile(r"[0-9]{17}[0-9Xx]")
REGION_CODE = re.compile(r"[0-9]{6}")
# GB/T 2260 province-level prefixes.
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def is_region_code(code: str) -> bool:
    return bool(REGION_CODE.fullmatch(code)) and code[:2] in PROVINCES


def speaks_for(node_region: str, region_code: str) -> bool:
    """Whether the node of `node_region` issues facts about `region_code`: the national node (000000) for every
    region, a province's node (520000) for its own (52xxxx)."""
    return node_region == "000000" or region_code[:2] == node_region[:2]


def is_institution_code(code: str) -> bool:
    return bool(INSTITUTION_CODE.fullmatch(code))


def is_practitioner_code(code: str) -> bool:
    return bool(PRACTITIONER_CODE.fullmatch(code))


def region_prefix(code: str) -> str:
    """The prefix a bureau covers: 520000 -> "52", 520200 -> "5202", 520201 -> "520201"."""
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def is_resident_id(number: str) -> bool:
    """An 18-character resident ID (GB 11643): region, valid birth date, ISO 7064 MOD 11-2 check character."""
    if not RESIDENT_ID.fullmatch(number) or number[:2] not in PROVINCES:
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return number[17].upper() == check_character(number[:17])


def check_character(body: str) -> str:
    """The check character (ISO 7064 MOD 11-2) of a resident ID's first 17 digits."""
    return _ID_CHECK[sum(map(operator.mul, map(int, body), _ID_WEIGHTS)) % 11]  # no generator: imports check millions


def mask_resident_id(number: str) -> str:
    return number[:4] + "*" * 10 + number[14:].upper()


def hash_resident_id(secret: bytes, number: str) -> str:
    """A keyed hash: finds the same person again without keeping the number."""
    return hmac.new(secret, number.upper().encode(), hashlib.sha256).hexdigest()
