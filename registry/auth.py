"""Bearer tokens and the actors they name (what each actor may do is `registry.access`).

Tokens are JWTs signed (HS256) with a key kept in the node's data directory, and they expire. The same folder
holds the secret for the keyed hash of resident IDs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import jwt

from registry.validation import is_institution_code, is_region_code

ISSUER = "registry"


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

    @property
    def subject(self) -> str:
        """Who did it, as recorded beside every fact."""
        scope = self.region or self.institution or self.practitioner
        return f"{self.role}:{scope}" if scope else str(self.role)


class InvalidToken(Exception):
    pass


def load_key(keys_dir: Path, name: str) -> bytes:
    """Read a node secret, creating it on first use (0600, inside the node's own data directory)."""
    path = keys_dir / name
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        keys_dir.chmod(0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()


def issue_token(key: bytes, actor: Actor, *, ttl: timedelta, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "role": str(actor.role),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    for claim in ("region", "institution", "practitioner"):
        if value := getattr(actor, claim):
            claims[claim] = value
    return jwt.encode(claims, key, algorithm="HS256")


def read_token(key: bytes, token: str) -> Actor:
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "iat"]})
        actor = Actor(
            role=Role(claims["role"]),
            region=claims.get("region"),
            institution=claims.get("institution"),
            practitioner=claims.get("practitioner"),
        )
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc
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
    if actor.region is not None and not is_region_code(actor.region):
        raise InvalidToken(f"{actor.region!r} is not a 6-digit region code")
    if actor.institution is not None and not is_institution_code(actor.institution):
        raise InvalidToken(f"{actor.institution!r} is not an institution code")
