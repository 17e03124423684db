"""The CSV formats and the checks of one row that need no database, with the API's rules and codes.

Institutions: `code,name,kind,region_code`.
Practitioners: `code,name,id_number,category,region_code,institution_codes,registered_on`, or, instead of
`id_number`, the two columns `id_digest,id_masked` that the export writes (the node keeps only those).
`institution_codes` are separated by `|` or `;`; dates are `YYYY-MM-DD`. Columns may come in any order.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from registry.errors import Code, Problem, check_not_future, check_region, check_text
from registry.practitioners.models import CATEGORIES, INSTITUTION_KINDS
from registry.validation import (
    hash_resident_id,
    is_institution_code,
    is_practitioner_code,
    is_resident_id,
    mask_resident_id,
)

INSTITUTION_COLUMNS = ("code", "name", "kind", "region_code")
PRACTITIONER_COLUMNS = ("code", "name", "id_number", "category", "region_code", "institution_codes", "registered_on")
# What the export writes: the node never keeps the resident ID itself.
PRACTITIONER_EXPORT_COLUMNS = (
    "code",
    "name",
    "id_digest",
    "id_masked",
    "category",
    "region_code",
    "institution_codes",
    "registered_on",
)
ID_DIGEST = re.compile(r"[0-9a-f]{64}")
ID_MASKED = re.compile(r"\d{4}\*{10}\d{3}[\dX]")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SEPARATORS = re.compile(r"[|;]")


class BadFile(Exception):
    """The file as a whole cannot be read: missing, not UTF-8, no header, or the wrong columns."""


def column_positions(header: Sequence[str], accepted: Sequence[Sequence[str]]) -> dict[str, int]:
    """Map each column name to its position; the header must name exactly one of the accepted sets."""
    names = [h.strip() for h in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise BadFile(f"the header names {', '.join(duplicated)} twice")
    for columns in accepted:
        if set(names) == set(columns):
            return {name: names.index(name) for name in columns}
    expected = " or ".join(",".join(c) for c in accepted)
    raise BadFile(f"the header must be {expected} (any order), not {','.join(names)}")


def _open(path: Path) -> IO[str]:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise BadFile(f"cannot read {path}: {exc.strerror or exc}") from exc


def _header(reader: Iterator[list[str]], path: Path, accepted: Sequence[Sequence[str]]) -> dict[str, int]:
    try:
        first = next(reader, None)
    except UnicodeDecodeError as exc:
        raise BadFile(f"{path} is not UTF-8 text") from exc
    if first is None:
        raise BadFile(f"{path} is empty: the first line must be the header")
    return column_positions(first, accepted)


def header(path: Path, accepted: Sequence[Sequence[str]]) -> dict[str, int]:
    """The file's columns (name to position), checked against the accepted sets."""
    with _open(path) as handle:
        return _header(csv.reader(handle), path, accepted)


def read_rows(
    path: Path, accepted: Sequence[Sequence[str]], progress: Callable[[int, int], None]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, fields by column name) for each row after the header; blank lines are skipped. A row with the
    wrong number of fields comes as {"": message}. `progress(bytes read, size)` is called now and then."""
    total = path.stat().st_size if path.exists() else 0
    with _open(path) as handle:
        raw = handle.buffer  # type: ignore[attr-defined]  # its position, a block ahead, will do for progress
        reader = csv.reader(handle, strict=True)
        names = list(_header(reader, path, accepted).items())
        width = len(names)
        line = reader.line_num + 1
        try:
            for n, fields in enumerate(reader, 1):
                if len(fields) == width:
                    yield line, {name: fields[i] for name, i in names}
                elif fields:
                    yield line, {"": f"expected {width} fields, found {len(fields)}"}
                line = reader.line_num + 1
                if n % 10_000 == 0:
                    progress(raw.tell(), total)
        except UnicodeDecodeError as exc:
            raise BadFile(f"{path} is not UTF-8 text (after line {reader.line_num})") from exc
        except csv.Error as exc:
            raise BadFile(f"{path}, line {reader.line_num}: {exc}") from exc
        progress(total, total)


@dataclass(frozen=True)
class InstitutionRow:
    code: str
    name: str
    kind: str
    region_code: str


def check_institution(fields: dict[str, str]) -> InstitutionRow | list[Problem]:
    """The checks of `registerInstitution` that need no database."""
    code, name, kind, region = fields["code"], fields["name"], fields["kind"], fields["region_code"]
    problems: list[Problem] = []
    if not is_institution_code(code):
        problems.append(Problem(Code.INVALID_CODE, "an institution code is H or P followed by 11 digits", ("code",)))
    elif (code[0] == "H") != (kind == "MEDICAL_INSTITUTION"):
        problems.append(Problem(Code.INVALID_CODE, "H codes are medical institutions, P codes pharmacies", ("code",)))
    check_text(problems, name, 200, "name")
    if kind not in INSTITUTION_KINDS:
        problems.append(Problem(Code.INVALID_INPUT, f"unknown kind {kind}", ("kind",)))
    check_region(problems, region, "region_code")
    return problems or InstitutionRow(code, name, kind, region)


@dataclass(frozen=True)
class PractitionerRow:
    code: str
    name: str
    category: str
    region_code: str
    id_digest: str
    id_masked: str
    institution_codes: list[str]
    registered_on: date
    id_field: str  # the column the identity came from: id_number, or id_digest as exported


class PractitionerChecks:
    """The checks of `registerPractitioner` on one row, and the resident ID's keyed hash.

    `institutions` are the codes the node holds (the import reads them once, under a lock that keeps them so):
    a set lookup per code, where a join per chunk of rows would read the whole table every time.
    """

    def __init__(self, id_secret: bytes, today: date, institutions: Set[str]) -> None:
        self.id_secret = id_secret
        self.today = today
        self.institutions = institutions
        self._dates: dict[str, date | None] = {}

    def _date(self, raw: str) -> date | None:
        if raw not in self._dates:  # a province's file repeats few dates: parse each once
            try:
                self._dates[raw] = date.fromisoformat(raw) if ISO_DATE.fullmatch(raw) else None
            except ValueError:
                self._dates[raw] = None
        return self._dates[raw]

    def __call__(self, fields: dict[str, str]) -> PractitionerRow | list[Problem]:
        code, name, category, region = fields["code"], fields["name"], fields["category"], fields["region_code"]
        problems: list[Problem] = []
        if not is_practitioner_code(code):
            problems.append(Problem(Code.INVALID_CODE, "a practitioner code is 1 to 20 letters and digits", ("code",)))
        check_text(problems, name, 100, "name")
        digest, masked = self._identity(fields, problems)
        if category not in CATEGORIES:
            problems.append(Problem(Code.INVALID_INPUT, f"unknown category {category}", ("category",)))
        check_region(problems, region, "region_code")
        institutions = [c.strip() for c in SEPARATORS.split(fields["institution_codes"])]
        if institutions == [""]:
            problems.append(Problem(Code.INVALID_INPUT, "give at least one institution", ("institution_codes",)))
        elif len(set(institutions)) != len(institutions):
            problems.append(Problem(Code.INVALID_INPUT, "an institution is listed twice", ("institution_codes",)))
        for inst in institutions:
            if inst and not is_institution_code(inst):
                problems.append(
                    Problem(Code.INVALID_CODE, f"{inst!r} is not an institution code", ("institution_codes",))
                )
        registered_on = self._date(fields["registered_on"])
        if registered_on is None:
            problems.append(Problem(Code.INVALID_INPUT, "registered_on must be a date YYYY-MM-DD", ("registered_on",)))
        check_not_future(problems, registered_on, self.today, "registered_on")
        if problems:
            return problems
        # As in the API, the institutions are looked up once the input is well-formed.
        unknown = [inst for inst in institutions if inst not in self.institutions]
        if unknown:
            return [
                Problem(Code.UNKNOWN_INSTITUTION, f"institution {inst} is not registered", ("institution_codes",))
                for inst in unknown
            ]
        assert registered_on is not None
        id_field = "id_number" if "id_number" in fields else "id_digest"
        return PractitionerRow(code, name, category, region, digest, masked, institutions, registered_on, id_field)

    def _identity(self, fields: dict[str, str], problems: list[Problem]) -> tuple[str, str]:
        """The keyed hash and masked form, from the resident ID or as exported."""
        if "id_number" in fields:
            number = fields["id_number"]
            if not is_resident_id(number):
                problems.append(
                    Problem(Code.INVALID_ID_NUMBER, "not a valid 18-character resident ID number", ("id_number",))
                )
                return "", ""
            return hash_resident_id(self.id_secret, number), mask_resident_id(number)
        digest, masked = fields["id_digest"], fields["id_masked"]
        if not ID_DIGEST.fullmatch(digest):
            problems.append(
                Problem(Code.INVALID_ID_NUMBER, "id_digest must be 64 lower-case hex digits", ("id_digest",))
            )
        if not ID_MASKED.fullmatch(masked):
            problems.append(
                Problem(Code.INVALID_ID_NUMBER, "id_masked must be 4 digits, 10 asterisks, 4 more", ("id_masked",))
            )
        return digest, masked
