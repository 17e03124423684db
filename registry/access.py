"""Who may do what: one function per command and per query, each answering for any actor, and the matrix.

Each function takes the actor and the facts the decision needs (the service looks them up: an institution's
region, a person's region, who scored them) and returns None when the actor may go ahead, or the FORBIDDEN problem
to report. A fact passed as None means "no such thing": the function then decides whether the caller may learn
that (a refusal must not tell a caller who could not act on the thing anyway whether it exists).

Roles: `national` covers every region; a `bureau` covers its region's prefix (520000 covers 52xxxx, 520200 covers
5202xx); an `institution` acts for itself and its current staff; a `practitioner` for themselves; a `regulator`
reads. `MATRIX` at the end states what this gives in one scenario: the README's table and
tests/api/test_access_matrix.py are generated from it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from registry.auth import Actor, Role
from registry.errors import Code, Problem, UserErrors
from registry.validation import region_prefix

Verdict = Problem | None
ALLOWED: Verdict = None


def enforce(verdict: Verdict) -> None:
    """Stop the use case when the verdict is a refusal."""
    if verdict is not None:
        raise UserErrors([verdict])


def within(region_code: str, jurisdiction: str) -> bool:
    """Whether a region lies within a jurisdiction: 520201 lies within 520000 and 520200, not within 500000."""
    return region_code.startswith(region_prefix(jurisdiction))


def covers(actor: Actor, region_code: str) -> bool:
    """Whether the actor acts for this region: national everywhere, a bureau within its prefix."""
    if actor.role is Role.NATIONAL:
        return True
    return actor.role is Role.BUREAU and actor.region is not None and within(region_code, actor.region)


def _unless(allowed: bool, message: str) -> Verdict:
    return ALLOWED if allowed else Problem(Code.FORBIDDEN, message)


def _staffs(actor: Actor, institution_code: str, institution_region: str) -> bool:
    """An institution manages its own staff; national and the bureau of the institution's region manage anyone's."""
    if actor.role is Role.INSTITUTION:
        return actor.institution == institution_code
    return covers(actor, institution_region)


# ---- registration --------------------------------------------------------------------------------------------


def register_institution(actor: Actor, *, code: str, region_code: str) -> Verdict:
    """A bureau registers institutions of its region; an institution registers itself, in the region its code
    names (H + 6-digit region + sequence), so that it cannot choose which bureau supervises it."""
    itself = actor.role is Role.INSTITUTION and actor.institution == code and code[1:7] == region_code
    return _unless(covers(actor, region_code) or itself, f"{actor.subject} may not register {code} in {region_code}")


def register_practitioner(
    actor: Actor, *, institution_code: str, institution_region: str, practitioner_region: str
) -> Verdict:
    """Asked once for each institution the person is registered at. The person's region decides who reads,
    deregisters and restores them, so it must lie within the registrar's own: a bureau's jurisdiction, an
    institution's region."""
    allowed = _staffs(actor, institution_code, institution_region) and (
        within(practitioner_region, institution_region)
        if actor.role is Role.INSTITUTION
        else covers(actor, practitioner_region)
    )
    return _unless(allowed, f"{actor.subject} may not register a person of {practitioner_region} at {institution_code}")


def add_affiliation(actor: Actor, *, institution_code: str, institution_region: str) -> Verdict:
    allowed = _staffs(actor, institution_code, institution_region)
    return _unless(allowed, f"{actor.subject} may not register staff of {institution_code}")


def end_affiliation(actor: Actor, *, institution_code: str, institution_region: str) -> Verdict:
    allowed = _staffs(actor, institution_code, institution_region)
    return _unless(allowed, f"{actor.subject} may not change staff of {institution_code}")


def deregister_practitioner(actor: Actor, *, practitioner_code: str, practitioner_region: str | None) -> Verdict:
    """The bureau of the person's region. A code nobody registered is refused to everyone who could deregister
    no one (bureaus learn that a code is unknown from eligibility checks anyway)."""
    if practitioner_region is None:
        allowed = actor.role in (Role.NATIONAL, Role.BUREAU)
    else:
        allowed = covers(actor, practitioner_region)
    return _unless(allowed, f"{actor.subject} may not deregister {practitioner_code}")


# ---- points ----------------------------------------------------------------------------------------------------


def record_decision(actor: Actor, *, region_code: str, institution_region: str | None) -> Verdict:
    """`region_code` is the deciding bureau's, as the command states it. The conduct happened at the institution,
    which must lie within that bureau's jurisdiction; the people scored may be registered anywhere (多点执业).
    `institution_region` None: no such institution (the deciding bureau may learn that)."""
    return _as_bureau(actor, region_code, institution_region, "decide cases", "an institution")


def file_objection(actor: Actor, *, region_code: str, practitioner_code: str) -> Verdict:
    """The person scored, or the bureau that decided (recording an objection received on paper)."""
    allowed = covers(actor, region_code) or (
        actor.role is Role.PRACTITIONER and actor.practitioner == practitioner_code
    )
    return _unless(allowed, f"{actor.subject} may not object for {practitioner_code}")


def review_points(actor: Actor, *, region_code: str) -> Verdict:
    return _unless(covers(actor, region_code), f"{actor.subject} may not review cases of region {region_code}")


def record_restoration(actor: Actor, *, region_code: str, practitioner_region: str | None) -> Verdict:
    """`region_code` is the granting bureau's, as the command states it; only the person's own jurisdiction may
    grant a restoration. `practitioner_region` None: no such person (the granting bureau may learn that)."""
    return _as_bureau(actor, region_code, practitioner_region, "record restorations", "a person")


def _as_bureau(actor: Actor, stated: str, region: str | None, doing: str, subject: str) -> Verdict:
    """The actor acts for the bureau it states, which must have jurisdiction over the subject's region."""
    if not covers(actor, stated):
        return Problem(Code.FORBIDDEN, f"{actor.subject} may not {doing} for region {stated}")
    if region is not None and not within(region, stated):
        return Problem(Code.FORBIDDEN, f"region {stated} has no jurisdiction over {subject} of {region}")
    return ALLOWED


# ---- queries ---------------------------------------------------------------------------------------------------


def read_practitioner(
    actor: Actor,
    *,
    practitioner_code: str,
    practitioner_region: str | None,
    scored_by: Collection[str],
    employers: Collection[str],
) -> Verdict:
    """A person's record: name, masked ID, affiliations, points, point records, sanctions.

    National and regulators read anyone; a bureau reads the people registered in its jurisdiction and the people a
    decision of its jurisdiction scored (`scored_by`: the deciding regions of the person's point records); an
    institution reads its current staff (`employers`: the institutions the person is affiliated with today) and
    gets eligibility answers for everyone else; a practitioner reads themselves. `practitioner_region` None: no
    such person. The refusal is the same for an unknown code as for a known one.
    """
    if actor.role in (Role.NATIONAL, Role.REGULATOR):
        return ALLOWED
    if actor.role is Role.PRACTITIONER:
        allowed = actor.practitioner == practitioner_code
    elif actor.role is Role.INSTITUTION:
        allowed = actor.institution in employers
    else:
        allowed = practitioner_region is not None and (
            covers(actor, practitioner_region) or any(covers(actor, region) for region in scored_by)
        )
    return _unless(allowed, f"{actor.subject} may not read this practitioner's record")


def read_institution(actor: Actor, *, institution_code: str) -> Verdict:
    return ALLOWED  # an institution's name and region are public


def read_policy(actor: Actor, *, region_code: str) -> Verdict:
    return ALLOWED  # the policies are published rules


def read_federation_status(actor: Actor) -> Verdict:
    """The node's peers, keys and regulators' backlog: for the node's operators (the national role) only."""
    return _unless(actor.role is Role.NATIONAL, f"{actor.subject} may not read the federation status")


def read_own_disclosures(actor: Actor) -> Verdict:
    """Who read a practitioner's record or eligibility: the practitioner asks, for themselves."""
    return _unless(actor.role is Role.PRACTITIONER, f"{actor.subject} has no disclosures of its own to read")


def check_eligibility(actor: Actor) -> Verdict:
    """Anyone's status, for anyone but practitioners (the status is shared nationwide; a person reads their own
    on their record)."""
    allowed = actor.role in (Role.NATIONAL, Role.BUREAU, Role.INSTITUTION, Role.REGULATOR)
    return _unless(allowed, f"{actor.subject} may not check eligibility")


def list_decisions(actor: Actor, *, region_code: str | None, institution_code: str | None) -> Verdict:
    """Listings: a bureau within its region, an institution its own, national and regulators everything."""
    if actor.role is Role.BUREAU and region_code is not None and not covers(actor, region_code):
        return Problem(Code.FORBIDDEN, f"{actor.subject} may not list {region_code}")
    if actor.role is Role.INSTITUTION and institution_code not in (None, actor.institution):
        return Problem(Code.FORBIDDEN, f"{actor.subject} may only list its own decisions")
    if actor.role is Role.PRACTITIONER:
        return Problem(Code.FORBIDDEN, "practitioners read their own record with `practitioner`")
    return ALLOWED


def list_sanctions(actor: Actor, *, region_code: str | None, institution_code: str | None) -> Verdict:
    return list_decisions(actor, region_code=region_code, institution_code=institution_code)


def listing_scope(actor: Actor, region_code: str | None, institution_code: str | None) -> tuple[str | None, str | None]:
    """What an allowed listing shows: a bureau's own region and an institution's own cases unless narrowed."""
    if actor.role is Role.BUREAU and region_code is None:
        region_code = actor.region
    if actor.role is Role.INSTITUTION:
        institution_code = actor.institution
    return region_code, institution_code


# ---- the matrix --------------------------------------------------------------------------------------------------
# What the rules above give in one scenario, for every query and mutation of the schema and every principal.
# The README's table is generated from it (tools/access_matrix.py), and tests/api/test_access_matrix.py sends
# every cell over HTTP to the app and asserts it: allowed, FORBIDDEN, or (without a valid token) HTTP 401.

H, Y = "H52020100001", "H53010100001"  # institutions in Guiyang (520201) and Kunming (530101)
P, Q = "D520201000001", "D530101000001"
UNKNOWN = "D520201009999"  # a code nobody registered
CASE = "黔医保罚〔2025〕1号"

SCENARIO = (
    f"Institution H ({H}) lies in 520201 and Y ({Y}) in 530101. Practitioner P ({P}) is registered in 520201 at "
    f"H, and was affiliated with Y until 2024-12-31; Q ({Q}) is registered in 530101 at Y. Guizhou's provincial "
    f"bureau (520000) decided case {CASE} about conduct at H: 10 points for P (a suspension), 3 for Q."
)

PRINCIPALS: dict[str, Actor] = {
    "national": Actor(Role.NATIONAL),
    "bureau 520000": Actor(Role.BUREAU, region="520000"),  # the case's own: Guizhou
    "bureau 520200": Actor(Role.BUREAU, region="520200"),  # a city within it: Guiyang
    "bureau 530000": Actor(Role.BUREAU, region="530000"),  # another province: Yunnan
    "bureau 500000": Actor(Role.BUREAU, region="500000"),  # Chongqing: the prefix trap, 50 is not 52
    "institution H": Actor(Role.INSTITUTION, institution=H),
    "institution Y": Actor(Role.INSTITUTION, institution=Y),
    "practitioner P": Actor(Role.PRACTITIONER, practitioner=P),
    "practitioner Q": Actor(Role.PRACTITIONER, practitioner=Q),
    "regulator": Actor(Role.REGULATOR),
}
# Refused with HTTP 401 before any resolver runs, whatever the operation.
NO_VALID_TOKEN: dict[str, str] = {
    "no token": "no Authorization header",
    "expired": "a national token whose `exp` has passed",
    "other key": "a national token signed with another key",
    "alg none": "a national token with `alg: none` and no signature",
    "tampered": "practitioner P's token with its payload changed to `national`, its signature kept",
}


@dataclass(frozen=True)
class Row:
    operation: str  # the query or mutation field, with the part of its answer asked for
    on: str  # what it is asked about, in the scenario; a bureau states its own region where the input has one
    allowed: frozenset[str]  # the principals it answers; the others get FORBIDDEN


def _may(*principals: str) -> frozenset[str]:
    return frozenset(principals)


_GUIZHOU = ("national", "bureau 520000", "bureau 520200")  # the jurisdictions over H and P
_P_READERS = _may(*_GUIZHOU, "institution H", "practitioner P", "regulator")
_ANYONE = _may(*PRINCIPALS)
_CHECKERS = _ANYONE - {"practitioner P", "practitioner Q"}
_RECORD = "code name category regionCode status affiliations"

MATRIX: tuple[Row, ...] = (
    Row(f"practitioner {{ {_RECORD} }}", "P", _P_READERS),
    Row("practitioner { idNumberMasked }", "P", _P_READERS),
    Row("practitioner { points }", "P", _P_READERS),
    Row("practitioner { interviewRequired }", "P", _P_READERS),
    Row("practitioner { pointRecords }", "P", _P_READERS),
    Row("practitioner { sanctions }", "P", _P_READERS),
    Row(
        f"practitioner {{ {_RECORD} }}",
        "Q: scored by 520000",
        _may("national", "bureau 520000", "bureau 530000", "institution Y", "practitioner Q", "regulator"),
    ),
    Row("practitioner { code }", f"{UNKNOWN}, unknown: null if allowed", _may("national", "regulator")),
    Row("institution", "H", _ANYONE),
    Row("eligibility", "P at H", _CHECKERS),
    Row("eligibilities", "P at H, Q at Y", _CHECKERS),
    Row("policy", "520201", _ANYONE),
    Row("federationStatus", "this node", _may("national")),
    Row("myDisclosures", "the caller's own", _may("practitioner P", "practitioner Q")),
    Row(
        "decisions",
        "regionCode 520000",
        _may("national", "bureau 520000", "institution H", "institution Y", "regulator"),
    ),
    Row("decisions", "institutionCode H", _CHECKERS - {"institution Y"}),
    Row(
        "sanctions",
        "regionCode 520000",
        _may("national", "bureau 520000", "institution H", "institution Y", "regulator"),
    ),
    Row("sanctions", "institutionCode H", _CHECKERS - {"institution Y"}),
    Row("registerInstitution", "H52020100002 in 520201", _may(*_GUIZHOU)),
    Row("registerInstitution", "H itself (a resend)", _may(*_GUIZHOU, "institution H")),
    Row("registerPractitioner", "a new person of 520201 at H", _may(*_GUIZHOU, "institution H")),
    Row("addAffiliation", "Q at H", _may(*_GUIZHOU, "institution H")),
    Row("endAffiliation", "P at H", _may(*_GUIZHOU, "institution H")),
    Row("deregisterPractitioner", "P", _may(*_GUIZHOU)),
    Row("recordDecision", "conduct at H; P and Q (others state 520000)", _may(*_GUIZHOU)),
    Row("recordDecision", "conduct at Y; P (others state 530000)", _may("national", "bureau 530000")),
    Row("fileObjection", f"P's record in {CASE}", _may("national", "bureau 520000", "practitioner P")),
    Row("reviewPoints", f"P's record in {CASE}", _may("national", "bureau 520000")),
    Row("recordRestoration", "P (others state 520201): RESTORATION_NOT_ALLOWED if allowed", _may(*_GUIZHOU)),
)


def matrix_markdown() -> str:
    """The scenario and the matrix as the README shows them: ✓ answered, ✗ FORBIDDEN, 401 refused before anything
    runs."""
    columns = [*PRINCIPALS, *NO_VALID_TOKEN]
    lines = [
        SCENARIO,
        "",
        "| operation | on | " + " | ".join(columns) + " |",
        "| --- | --- |" + " :-: |" * len(columns),
    ]
    for row in MATRIX:
        cells = ["✓" if p in row.allowed else "✗" for p in PRINCIPALS] + ["401"] * len(NO_VALID_TOKEN)
        lines.append(f"| `{row.operation}` | {row.on} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
