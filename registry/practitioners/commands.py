"""What a caller asks of the registration domain: one frozen command per use case, with its pure input checks.

`problems(today)` lists every mistake in the command itself, each at its domain field path; the services run it
before they touch the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from registry import checks
from registry.errors import Code, Problem, found
from registry.practitioners.enums import InstitutionKind, PractitionerCategory
from registry.validation import is_institution_code


@dataclass(frozen=True)
class RegisterInstitution:
    code: str
    name: str
    kind: InstitutionKind
    region_code: str

    def problems(self) -> list[Problem]:
        return found(
            self._code_problem(),
            checks.text(self.name, 200, "name"),
            checks.region(self.region_code, "region_code"),
        )

    def _code_problem(self) -> Problem | None:
        if not is_institution_code(self.code):
            return Problem(Code.INVALID_CODE, "an institution code is H or P followed by 11 digits", ("code",))
        if (self.code[0] == "H") != (self.kind is InstitutionKind.MEDICAL_INSTITUTION):
            return Problem(Code.INVALID_CODE, "H codes are medical institutions, P codes pharmacies", ("code",))
        return None


@dataclass(frozen=True)
class RegisterPractitioner:
    """登记备案 at one or more institutions; the resident ID is kept only as a digest and a masked form."""

    code: str
    name: str
    id_number: str
    category: PractitionerCategory
    region_code: str
    institution_codes: tuple[str, ...]
    registered_on: date

    def problems(self, today: date) -> list[Problem]:
        institutions = self.institution_codes
        return found(
            checks.practitioner_code(self.code, "code", message="a practitioner code is 1 to 20 letters and digits"),
            checks.text(self.name, 100, "name"),
            checks.resident_id(self.id_number, "id_number"),
            checks.region(self.region_code, "region_code"),
            checks.that(bool(institutions), "give at least one institution", "institution_codes"),
            checks.distinct(institutions, "an institution is listed twice", "institution_codes"),
            *(
                checks.institution_code(code, "institution_codes", i, message=f"{code!r} is not an institution code")
                for i, code in enumerate(institutions)
            ),
            checks.not_future(self.registered_on, today, "registered_on"),
        )


@dataclass(frozen=True)
class AddAffiliation:
    """多点执业: one more institution for a registered person."""

    practitioner_code: str
    institution_code: str
    starts_on: date

    def problems(self, today: date) -> list[Problem]:
        return found(
            checks.practitioner_code(self.practitioner_code, "practitioner_code"),
            checks.institution_code(self.institution_code, "institution_code"),
            checks.not_future(self.starts_on, today, "starts_on"),
        )


@dataclass(frozen=True)
class EndAffiliation:
    practitioner_code: str
    institution_code: str
    ends_on: date  # the last day of the affiliation

    def problems(self) -> list[Problem]:
        # Well-formed codes and any day in the calendar: an affiliation that does not match is UNKNOWN_AFFILIATION.
        return found(
            checks.practitioner_code(self.practitioner_code, "practitioner_code"),
            checks.institution_code(self.institution_code, "institution_code"),
            checks.day(self.ends_on, "ends_on"),
        )


@dataclass(frozen=True)
class DeregisterPractitioner:
    practitioner_code: str
    ends_on: date  # the last day of the registration
    reason: str

    def problems(self) -> list[Problem]:
        return found(
            checks.practitioner_code(self.practitioner_code, "practitioner_code"),
            checks.day(self.ends_on, "ends_on"),
            checks.text(self.reason, 2000, "reason", lines=True),
        )
