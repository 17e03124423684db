"""Bearer tokens and the actors they name (what each actor may do is `registry.access`).

A token is a JWT signed with HS256 by one of the node's signing keys, named by the `kid` in its header. It carries
a token id (`jti`, which `registry token revoke` names), and it expires (`registry token`: 8 hours by default,
30 days at most). The
keys and the revoked ids live in the database (`registry.tokens`); this module only signs and checks, given them.

The resident-ID digests' key is the network's identity key (`registry/identity.py`).
"""

from __future__ import annotations

import secrets
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from registry.validation import is_institution_code, is_region_code

ISSUER = "registry"
ALGORITHM = "HS256"
MAX_TOKEN_ID = 64  # characters of a `jti`: it is stored beside every disclosure and audit row


class Role(StrEnum):
    NATIONAL = "national"
    BUREAU = "bureau"
    INSTITUTION = "institution"
    PRACTITIONER = "practitioner"
    REGULATOR = "regulator"


@dataclass(frozen=True)
class Actor:
    role: Role
    region: str | None = None
    institution: str | None = None
    practitioner: str | None = None
    # The `jti` and `exp` (POSIX seconds) of the token the actor came with; not part of who the actor is.
    token_id: str | None = field(default=None, compare=False)
    token_expires: int | None = field(default=None, compare=False)

    @property
    def subject(self) -> str:
        """Who did it, as recorded beside every fact."""
        scope = self.scope
        return f"{self.role}:{scope}" if scope else str(self.role)

    @property
    def scope(self) -> str | None:
        """The region, institution or practitioner the actor acts for (None for national and regulators)."""
        return self.region or self.institution or self.practitioner


class InvalidToken(Exception):
    pass


class UnknownKey(InvalidToken):
    """The token names a key this process does not know (yet): a new key, or none of ours."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"unknown signing key {kid!r}")
        self.kid = kid


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes


@dataclass(frozen=True)
class Issued:
    token: str
    jti: str
    issued_at: datetime
    expires_at: datetime


def new_token_id() -> str:
    return secrets.token_urlsafe(12)


def issue_token(key: SigningKey, actor: Actor, *, ttl: timedelta, now: datetime | None = None) -> Issued:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    expires_at = now + ttl
    jti = new_token_id()
    claims: dict[str, object] = {
        "iss": ISSUER,
        "jti": jti,
        "role": str(actor.role),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    for claim in ("region", "institution", "practitioner"):
        if value := getattr(actor, claim):
            claims[claim] = value
    token = jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})
    return Issued(token, jti, now, expires_at)


def read_token(token: str, keys: Mapping[str, bytes], revoked: Container[str] = ()) -> Actor:
    """The actor a token names, if one of `keys` signed it with HS256, it has not expired and it is not revoked.

    Raises UnknownKey when the `kid` is none of `keys` (the caller may reload them and ask again), InvalidToken
    for everything else: another algorithm (`none` included), no `kid`, `jti`, `exp` or `iat`, a bad signature.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"the algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken("the token names no signing key (kid)")
    secret = keys.get(kid)
    if secret is None:
        raise UnknownKey(kid)
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "iat", "jti"]}
        )
        jti = claims["jti"]
        actor = Actor(
            role=Role(claims["role"]),
            region=claims.get("region"),
            institution=claims.get("institution"),
            practitioner=claims.get("practitioner"),
            token_id=jti,
            token_expires=int(claims["exp"]),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_TOKEN_ID:
        raise InvalidToken("the token id (jti) is not a short string")
    if jti in revoked:
        raise InvalidToken("the token was revoked")
    check_actor(actor)
    return actor


def check_actor(actor: Actor) -> None:
    """Each role carries exactly the scope it needs."""
    needs = {
        Role.BUREAU: "region",
        Role.INSTITUTION: "institution",
        Role.PRACTITIONER: "practitioner",
    }.get(actor.role)
    if needs and not getattr(actor, needs):
        raise InvalidToken(f"a {actor.role} token needs --{needs}")
    if any(v is not None and not isinstance(v, str) for v in (actor.region, actor.institution, actor.practitioner)):
        raise InvalidToken("a token's scope is a string")
    if actor.region is not None and not is_region_code(actor.region):
        raise InvalidToken(f"{actor.region!r} is not a 6-digit region code")
    if actor.institution is not None and not is_institution_code(actor.institution):
        raise InvalidToken(f"{actor.institution!r} is not an institution code")
