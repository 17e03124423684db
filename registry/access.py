"""Who may do what: one function per command and per query, each answering for any actor.

Each function takes the actor and the facts the decision needs (the service looks them up: an institution's
region, a person's region) and returns None when the actor may go ahead, or the FORBIDDEN problem to report. So
the whole matrix (use case × actor) can be enumerated from this module alone.

Roles: `national` covers every region; a `bureau` covers its region's prefix (520000 covers 52xxxx, 520200 covers
5202xx); an `institution` acts for itself and its staff; a `practitioner` for themselves; a `regulator` reads.
"""

from __future__ import annotations

from registry.auth import Actor, Role
from registry.errors import Code, Problem, UserErrors
from registry.validation import region_prefix

Verdict = Problem | None
ALLOWED: Verdict = None


def enforce(verdict: Verdict) -> None:
    """Stop the use case when the verdict is a refusal."""
    if verdict is not None:
        raise UserErrors([verdict])


def covers(actor: Actor, region_code: str) -> bool:
    """Whether the actor acts for this region: national everywhere, a bureau within its prefix."""
    if actor.role is Role.NATIONAL:
        return True
    return (
        actor.role is Role.BUREAU and actor.region is not None and region_code.startswith(region_prefix(actor.region))
    )


def _unless(allowed: bool, message: str) -> Verdict:
    return ALLOWED if allowed else Problem(Code.FORBIDDEN, message)


def _staffs(actor: Actor, institution_code: str, institution_region: str) -> bool:
    """An institution manages its own staff; national and the bureau of the institution's region manage anyone's."""
    if actor.role is Role.INSTITUTION:
        return actor.institution == institution_code
    return covers(actor, institution_region)


# ---- registration --------------------------------------------------------------------------------------------


def register_institution(actor: Actor, *, code: str, region_code: str) -> Verdict:
    allowed = covers(actor, region_code) or (actor.role is Role.INSTITUTION and actor.institution == code)
    return _unless(allowed, f"{actor.subject} may not register institutions in {region_code}")


def register_practitioner(actor: Actor, *, institution_code: str, institution_region: str) -> Verdict:
    """Asked once for each institution the person is registered at."""
    allowed = _staffs(actor, institution_code, institution_region)
    return _unless(allowed, f"{actor.subject} may not register staff of {institution_code}")


def add_affiliation(actor: Actor, *, institution_code: str, institution_region: str) -> Verdict:
    allowed = _staffs(actor, institution_code, institution_region)
    return _unless(allowed, f"{actor.subject} may not register staff of {institution_code}")


def end_affiliation(actor: Actor, *, institution_code: str, institution_region: str) -> Verdict:
    allowed = _staffs(actor, institution_code, institution_region)
    return _unless(allowed, f"{actor.subject} may not change staff of {institution_code}")


def deregister_practitioner(actor: Actor, *, practitioner_code: str, practitioner_region: str) -> Verdict:
    return _unless(covers(actor, practitioner_region), f"{actor.subject} may not deregister {practitioner_code}")


# ---- points ----------------------------------------------------------------------------------------------------


def record_decision(actor: Actor, *, region_code: str) -> Verdict:
    """`region_code` is the deciding bureau's, as the command states it."""
    return _unless(covers(actor, region_code), f"{actor.subject} may not decide cases for region {region_code}")


def file_objection(actor: Actor, *, region_code: str, practitioner_code: str) -> Verdict:
    """The person scored, or the bureau that decided (recording an objection received on paper)."""
    allowed = covers(actor, region_code) or (
        actor.role is Role.PRACTITIONER and actor.practitioner == practitioner_code
    )
    return _unless(allowed, f"{actor.subject} may not object for {practitioner_code}")


def review_points(actor: Actor, *, region_code: str) -> Verdict:
    return _unless(covers(actor, region_code), f"{actor.subject} may not review cases of region {region_code}")


def record_restoration(actor: Actor, *, region_code: str) -> Verdict:
    """`region_code` is the granting bureau's, as the command states it."""
    return _unless(covers(actor, region_code), f"{actor.subject} may not record restorations in {region_code}")


# ---- queries ---------------------------------------------------------------------------------------------------


def read_practitioner(actor: Actor, *, practitioner_code: str) -> Verdict:
    """A person's record: name, masked ID, points, sanctions. A practitioner reads only their own."""
    if actor.role is Role.PRACTITIONER:
        return _unless(actor.practitioner == practitioner_code, f"{actor.subject} may not read {practitioner_code}")
    return ALLOWED  # national, regulators, institutions and every bureau (status is national)


def read_institution(actor: Actor, *, institution_code: str) -> Verdict:
    return ALLOWED  # an institution's name and region are public


def read_policy(actor: Actor, *, region_code: str) -> Verdict:
    return ALLOWED  # the policies are published rules


def read_own_disclosures(actor: Actor) -> Verdict:
    """Who read a practitioner's record or eligibility: the practitioner asks, for themselves."""
    return _unless(actor.role is Role.PRACTITIONER, f"{actor.subject} has no disclosures of its own to read")


def check_eligibility(actor: Actor) -> Verdict:
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
