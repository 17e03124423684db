"""Regulators: webhook receivers (a health commission, a drug administration) told of every sanction change.

`registry regulator add` upserts one by name; the running node hears of it through `NOTIFY registry_config`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import Text, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, Database
from registry.errors import Code, Problem, raise_if
from registry.practitioners.enums import PractitionerCategory

CATEGORIES = tuple(c.value for c in PractitionerCategory)

CONFIG_CHANNEL = "registry_config"
SECRET_PREFIX = "whsec_"
_REGION_PREFIX = re.compile(r"\d{2}|\d{4}|\d{6}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


class Regulator(Base):
    __tablename__ = "regulators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    url: Mapped[str] = mapped_column(Text)
    # As given: `whsec_<base64>` or raw text (see `signing_key`).
    secret: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Region-code prefixes of the practitioners it hears about; NULL means every region.
    regions: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())

    def wants(self, category: str | None, region: str | None) -> bool:
        """Whether a change about a practitioner of this category and region concerns this regulator."""
        if category is None or category not in self.categories:
            return False
        if self.regions is None:
            return True
        return region is not None and any(region.startswith(prefix) for prefix in self.regions)


def signing_key(secret: str) -> str | bytes:
    """What `standardwebhooks.Webhook` takes: a `str` is base64 to it, so a raw secret goes in as bytes."""
    return secret if secret.startswith(SECRET_PREFIX) else secret.encode()


Outcome = Literal["added", "updated", "unchanged"]


async def add_regulator(
    db: Database,
    name: str,
    url: str,
    secret: str,
    categories: Sequence[str],
    regions: Sequence[str] | None = None,
) -> Outcome:
    """Add a regulator, or replace the settings of the one with that name; say which."""
    name = name.strip()
    categories = list(dict.fromkeys(c.strip() for c in categories if c.strip()))
    regions = None if regions is None else list(dict.fromkeys(r.strip() for r in regions if r.strip())) or None
    raise_if(_problems(name, url, secret, categories, regions))
    async with db.transaction() as session:
        before = await session.scalar(select(Regulator).where(Regulator.name == name).with_for_update())
        if before is not None and (before.url, before.secret, before.categories, before.regions) == (
            url,
            secret,
            categories,
            regions,
        ):
            return "unchanged"
        values = {"name": name, "url": url, "secret": secret, "categories": categories, "regions": regions}
        statement = insert(Regulator).values(**values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Regulator.name],
                set_={k: statement.excluded[k] for k in ("url", "secret", "categories", "regions")},
            )
        )
        await session.execute(text("SELECT pg_notify(:channel, 'regulators')"), {"channel": CONFIG_CHANNEL})
        return "added" if before is None else "updated"


def _problems(name: str, url: str, secret: str, categories: list[str], regions: list[str] | None) -> list[Problem]:
    problems: list[Problem] = []

    def bad(code: Code, field: str, message: str) -> None:
        problems.append(Problem(code, message, (field,)))

    if not name or len(name) > 200:
        bad(Code.INVALID_INPUT, "name", "the name must be 1 to 200 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        bad(Code.INVALID_INPUT, "url", f"the URL must be an absolute http:// or https:// URL, not {url!r}")
    if not secret:
        bad(Code.INVALID_INPUT, "secret", "the secret must not be empty")
    elif secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :]
        try:
            valid = bool(_BASE64.fullmatch(encoded)) and bool(base64.b64decode(encoded + "==", validate=False))
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            bad(Code.INVALID_INPUT, "secret", "a secret starting with whsec_ must be base64 after the prefix")
    if not categories:
        bad(Code.INVALID_INPUT, "categories", f"give at least one category: {', '.join(CATEGORIES)}")
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        bad(
            Code.INVALID_INPUT,
            "categories",
            f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"the categories are {', '.join(CATEGORIES)}",
        )
    malformed = [r for r in regions or () if not _REGION_PREFIX.fullmatch(r)]
    if malformed:
        bad(
            Code.INVALID_CODE,
            "regions",
            f"a region prefix is 2, 4 or 6 digits (province, city, county), not {', '.join(malformed)}",
        )
    return problems


async def list_regulators(db: Database) -> list[Regulator]:
    async with db.transaction() as session:
        return list(await session.scalars(select(Regulator).order_by(Regulator.name)))


def describe(regulator: Regulator) -> dict[str, object]:
    """A regulator as an operator sees it; the secret stays in the database."""
    return {
        "name": regulator.name,
        "url": regulator.url,
        "categories": regulator.categories,
        "regions": regulator.regions,
        "addedAt": regulator.added_at.isoformat(),
    }


def split_list(value: str) -> list[str]:
    """`A,B , C` → ['A', 'B', 'C'] (an argparse `type`)."""
    return [part.strip() for part in value.split(",") if part.strip()]
