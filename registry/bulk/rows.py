"""The CSV formats, and each row turned into the fact the API would record, checked by the API's own commands.

Institutions: `code,name,kind,region_code`.
Practitioners: `code,name,id_number,category,region_code,institution_codes,registered_on`, or, instead of
`id_number`, the two columns `id_digest,id_masked` that the export writes (the node keeps only those).
`institution_codes` are separated by `|` or `;`; dates are `YYYY-MM-DD`. Columns may come in any order.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence, Set
from datetime import date
from pathlib import Path
from typing import IO

from registry.errors import Code, Problem
from registry.practitioners.commands import RegisterInstitution, RegisterPractitioner
from registry.practitioners.enums import InstitutionKind, PractitionerCategory
from registry.practitioners.facts import InstitutionRegistered, PractitionerRegistered
from registry.validation import hash_resident_id, mask_resident_id, speaks_for

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
KINDS = {kind.value: kind for kind in InstitutionKind}
CATEGORIES = {category.value: category for category in PractitionerCategory}


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
        positions = _header(reader, path, accepted)
        names = sorted(positions, key=positions.__getitem__)  # in the file's order
        width = len(names)
        line = reader.line_num + 1
        try:
            for n, fields in enumerate(reader, 1):
                if len(fields) == width:
                    yield line, dict(zip(names, fields, strict=True))
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


def _unknown(value: str, what: str, column: str) -> Problem:
    return Problem(Code.INVALID_INPUT, f"unknown {what} {value}", (column,))


def _wrong_node(node: str, region: str) -> Problem:
    message = f"this node speaks for {node}; import people and institutions of {region} at the node of {region}"
    return Problem(Code.WRONG_NODE, message, ("region_code",))


class InstitutionChecks:
    """`registerInstitution` on one row: its command's checks, and the node's region."""

    def __init__(self, node: str) -> None:
        self.node = node

    def __call__(self, fields: dict[str, str]) -> InstitutionRegistered | list[Problem]:
        kind = KINDS.get(fields["kind"])
        if kind is None:
            return [_unknown(fields["kind"], "kind", "kind")]
        cmd = RegisterInstitution(fields["code"], fields["name"], kind, fields["region_code"])
        if problems := cmd.problems():
            return problems
        if not speaks_for(self.node, cmd.region_code):
            return [_wrong_node(self.node, cmd.region_code)]
        return InstitutionRegistered.of(cmd)


class PractitionerChecks:
    """`registerPractitioner` on one row: its command's checks, the institutions the node holds, the node's region;
    then the resident ID's keyed hash, as registration makes it.

    `institutions` are the codes the node holds (the import reads them once, under a lock that keeps them so):
    a set lookup per code, where a join per chunk of rows would read the whole table every time.
    """

    def __init__(self, node: str, id_secret: bytes, today: date, institutions: Set[str]) -> None:
        self.node = node
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

    def __call__(self, fields: dict[str, str]) -> PractitionerRegistered | list[Problem]:
        # What GraphQL refuses before a command exists: an unknown enum value, a malformed date.
        category = CATEGORIES.get(fields["category"])
        registered_on = self._date(fields["registered_on"])
        problems = [] if category else [_unknown(fields["category"], "category", "category")]
        if registered_on is None:
            problems.append(Problem(Code.INVALID_INPUT, "registered_on must be a date YYYY-MM-DD", ("registered_on",)))
        raw_codes = fields["institution_codes"]
        institutions = tuple(c.strip() for c in SEPARATORS.split(raw_codes)) if raw_codes.strip() else ()
        exported = "id_number" not in fields
        cmd = RegisterPractitioner(
            fields["code"],
            fields["name"],
            "" if exported else fields["id_number"],
            category or PractitionerCategory.PHYSICIAN,
            fields["region_code"],
            institutions,
            registered_on or self.today,
        )
        problems += cmd.problems(self.today)
        if exported:  # the digest and masked form stand for the resident ID
            problems = [p for p in problems if p.field != ("id_number",)] + _exported_identity(fields)
        if problems:
            return problems
        # As in the API, the institutions are looked up once the input is well-formed.
        unknown = [code for code in institutions if code not in self.institutions]
        if unknown:
            return [
                Problem(Code.UNKNOWN_INSTITUTION, f"institution {code} is not registered", ("institution_codes",))
                for code in unknown
            ]
        if not speaks_for(self.node, cmd.region_code):
            return [_wrong_node(self.node, cmd.region_code)]
        if exported:
            return PractitionerRegistered.of(cmd, id_digest=fields["id_digest"], id_masked=fields["id_masked"])
        digest, masked = hash_resident_id(self.id_secret, cmd.id_number), mask_resident_id(cmd.id_number)
        return PractitionerRegistered.of(cmd, id_digest=digest, id_masked=masked)


def _exported_identity(fields: dict[str, str]) -> list[Problem]:
    problems = []
    if not ID_DIGEST.fullmatch(fields["id_digest"]):
        problems.append(Problem(Code.INVALID_ID_NUMBER, "id_digest must be 64 lower-case hex digits", ("id_digest",)))
    if not ID_MASKED.fullmatch(fields["id_masked"]):
        message = "id_masked must be 4 digits, 10 asterisks, 4 more"
        problems.append(Problem(Code.INVALID_ID_NUMBER, message, ("id_masked",)))
    return problems
