"""Policies as data: one TOML file per jurisdiction, versioned and effective-dated. Pure: no clock, no
database; the only I/O is reading the policy files, once.

`national.toml` states every value in every version. A province file (`<2-digit code>-<name>.toml`) states
only what differs: on any day, the province version in force is laid over the national version in force that
day, so a later national change reaches provinces that did not override it.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

NATIONAL = "national"
# 医保发〔2024〕23号: a suspension lasts 1 to 6 months, whatever the province says.
MONTHS_LIMIT = range(1, 7)


@dataclass(frozen=True)
class Policy:
    jurisdiction: str  # "national" or a 2-digit province code
    version: str
    effective_from: date
    interview_threshold: int | None
    suspension_threshold: int
    termination_threshold: int
    min_suspension_months: int
    max_suspension_months: int
    default_months_accumulated: dict[int, int]  # yearly total → months
    default_months_single: dict[int, int]  # points of the one decision that alone reached the band → months
    bar_years_accumulated: int
    bar_years_single: int
    restoration_points_per_activity: int  # 0: no restoration
    restoration_cap_per_year: int
    restoration_after_termination: bool
    emergency_during_suspension: bool
    emergency_during_termination: bool
    statement_days: int
    objection_days: int

    # The tables are dicts, so the generated hash would fail; a version is identified by these three.
    def __hash__(self) -> int:
        return hash((self.jurisdiction, self.version, self.effective_from))

    def default_months(self, total: int, single_points: int) -> int:
        """Default length of a new suspension: by the year's total, or by the one decision's points when that
        decision alone reached the band, whichever is longer (more points never mean a shorter suspension)."""
        top = self.termination_threshold - 1
        months = self.default_months_accumulated[min(total, top)]
        if single_points >= self.suspension_threshold:
            months = max(months, self.default_months_single[min(single_points, top)])
        return self.clamp_months(months)

    def clamp_months(self, months: int) -> int:
        return max(self.min_suspension_months, min(self.max_suspension_months, months))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings, table keys as strings."""
        data = dataclasses.asdict(self)
        data["effective_from"] = self.effective_from.isoformat()
        for key in TABLES:
            data[key] = {str(k): v for k, v in sorted(data[key].items())}
        return data


TABLES = ("default_months_accumulated", "default_months_single")
INTS = (
    "suspension_threshold",
    "termination_threshold",
    "min_suspension_months",
    "max_suspension_months",
    "bar_years_accumulated",
    "bar_years_single",
    "restoration_points_per_activity",
    "restoration_cap_per_year",
    "statement_days",
    "objection_days",
)
BOOLS = ("restoration_after_termination", "emergency_during_suspension", "emergency_during_termination")
FIELDS = frozenset(f.name for f in dataclasses.fields(Policy)) - {"jurisdiction"}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML true must not pass as 1


def _parse_version(raw: object, source: str, complete: bool) -> dict[str, Any]:
    """Type-check one [[versions]] table; a complete (national) one must state every field."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: each [[versions]] entry must be a table")
    unknown = set(raw) - FIELDS
    if unknown:
        raise ValueError(f"{source}: unknown keys {sorted(unknown)}")
    required = FIELDS if complete else {"version", "effective_from"}
    missing = required - set(raw)
    if missing:
        raise ValueError(f"{source}: missing keys {sorted(missing)}")
    values = dict(raw)
    if not isinstance(values["version"], str) or not values["version"].strip():
        raise ValueError(f"{source}: version must be a non-empty string")
    where = f"{source} ({values['version']})"
    # tomllib gives a datetime (a date subclass) for a TOML date-time: a policy starts on a calendar day.
    if not isinstance(values["effective_from"], date) or isinstance(values["effective_from"], datetime):
        raise ValueError(f"{where}: effective_from must be a date such as 2025-01-01")
    for key in INTS:
        if key in values and not _is_int(values[key]):
            raise ValueError(f"{where}: {key} must be an integer")
    for key in BOOLS:
        if key in values and not isinstance(values[key], bool):
            raise ValueError(f"{where}: {key} must be true or false")
    if "interview_threshold" in values:
        # TOML has no null: `false` says "no interview".
        if values["interview_threshold"] is False:
            values["interview_threshold"] = None
        elif not _is_int(values["interview_threshold"]):
            raise ValueError(f"{where}: interview_threshold must be an integer or false")
    for key in TABLES:
        if key in values:
            values[key] = _parse_table(values[key], f"{where}: {key}")
    return values


def _parse_table(raw: object, where: str) -> dict[int, int]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table of points = months")
    table: dict[int, int] = {}
    for key, months in raw.items():
        if not key.isdigit() or not _is_int(months):
            raise ValueError(f"{where} must map whole points to whole months, not {key!r} = {months!r}")
        table[int(key)] = months
    return table


def _check(values: Mapping[str, Any], where: str) -> None:
    """Refuse a complete policy that the rules could not apply sensibly."""
    low, high = values["min_suspension_months"], values["max_suspension_months"]
    if not (low in MONTHS_LIMIT and high in MONTHS_LIMIT and low <= high):
        raise ValueError(f"{where}: suspension months must lie within 1..6 with min <= max, not {low}..{high}")
    interview = values["interview_threshold"]
    suspension, termination = values["suspension_threshold"], values["termination_threshold"]
    if not 0 < suspension < termination or (interview is not None and not 0 < interview < suspension):
        raise ValueError(
            f"{where}: thresholds out of order: need 0 < interview < suspension < termination, "
            f"not {interview}, {suspension}, {termination}"
        )
    band = set(range(suspension, termination))
    for key in TABLES:
        table = values[key]
        if set(table) != band:
            raise ValueError(f"{where}: {key} must give months for exactly {sorted(band)}")
        if any(not low <= m <= high for m in table.values()):
            raise ValueError(f"{where}: {key} has months outside {low}..{high}")
    if not 1 <= values["bar_years_accumulated"] <= values["bar_years_single"]:
        raise ValueError(f"{where}: need 1 <= bar_years_accumulated <= bar_years_single")
    per, cap = values["restoration_points_per_activity"], values["restoration_cap_per_year"]
    if per < 0 or cap < 0 or (per > 0 and cap < per) or (per == 0 and cap != 0):
        raise ValueError(f"{where}: restoration needs points per activity and a cap >= them, or both 0")
    for key in ("statement_days", "objection_days"):
        if values[key] < 1:
            raise ValueError(f"{where}: {key} must be at least 1")


def _in_force(versions: list[dict[str, Any]], on: date) -> dict[str, Any]:
    """The version with the greatest effective_from <= on; the earliest when `on` precedes them all."""
    chosen = versions[0]
    for version in versions:
        if version["effective_from"] <= on:
            chosen = version
    return chosen


def _read(file: Traversable) -> list[Any]:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{file.name}: {exc}") from exc
    if set(data) != {"versions"} or not isinstance(data["versions"], list) or not data["versions"]:
        raise ValueError(f"{file.name}: expected one or more [[versions]] tables and nothing else")
    return data["versions"]


def _sorted_versions(raw: list[Any], source: str, complete: bool) -> list[dict[str, Any]]:
    versions = sorted((_parse_version(v, source, complete) for v in raw), key=lambda v: v["effective_from"])
    days = [v["effective_from"] for v in versions]
    if len(set(days)) != len(days):
        raise ValueError(f"{source}: two versions take effect on the same day")
    return versions


MAX_REMEMBERED = 100_000  # (province, day) pairs: about 35 provinces over 8 years


class PolicyBook:
    """Every jurisdiction's versions, resolved to complete policies ordered by effective_from."""

    def __init__(self, policies: Mapping[str, list[Policy]]) -> None:
        if NATIONAL not in policies or not all(policies.values()):
            raise ValueError("a policy book needs national versions")
        self._policies = {k: sorted(v, key=lambda p: p.effective_from) for k, v in policies.items()}
        # The book never changes: eligibility asks about the same few provinces on the same days, a batch at a time.
        self._in_force: dict[tuple[str, date], Policy] = {}

    @classmethod
    def load(cls, path: Traversable | str | None = None) -> PolicyBook:
        """Read and validate a policies folder (default: the one shipped in this package)."""
        if path is None:
            folder: Traversable = files(__package__ or "registry.points") / "policies"
        else:
            folder = Path(path) if isinstance(path, str) else path
        national: list[dict[str, Any]] | None = None
        provinces: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        if not folder.is_dir():
            raise ValueError(f"{folder}: not a folder of policy files")
        for file in sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name):
            stem = file.name.removesuffix(".toml")
            if stem == NATIONAL:
                national = _sorted_versions(_read(file), file.name, complete=True)
                for version in national:
                    _check(version, f"{file.name} ({version['version']})")
                continue
            code, dash, name = stem.partition("-")
            if not (len(code) == 2 and code.isdigit() and code != "00" and dash and name):
                raise ValueError(f"{file.name}: name it national.toml or <2-digit province code>-<name>.toml")
            if code in provinces:
                raise ValueError(f"{file.name}: province {code} already has {provinces[code][0]}")
            provinces[code] = (file.name, _sorted_versions(_read(file), file.name, complete=False))
        if national is None:
            raise ValueError(f"{folder}: national.toml is missing")
        policies = {NATIONAL: [Policy(jurisdiction=NATIONAL, **v) for v in national]}
        for code, (name, versions) in provinces.items():
            policies[code] = _province(code, name, versions, national)
        labels = [p.version for code, versions in policies.items() for p in versions if p.jurisdiction == code]
        duplicated = sorted({label for label in labels if labels.count(label) > 1})
        if duplicated:
            raise ValueError(f"version names must be unique across files: {duplicated}")
        return cls(policies)

    def jurisdictions(self) -> list[str]:
        return sorted(self._policies)

    def versions(self, jurisdiction: str) -> tuple[Policy, ...]:
        """A jurisdiction's resolved policies in effective order (provinces include the national ones before
        their own first version)."""
        return tuple(self._policies[jurisdiction])

    def policy_for(self, region_code: str, on: date) -> Policy:
        """The policy in force in a region (6-digit GB/T 2260 code) on a day; national without a file."""
        key = (region_code[:2], on)
        chosen = self._in_force.get(key)
        if chosen is None:
            versions = self._policies.get(key[0]) or self._policies[NATIONAL]
            chosen = versions[0]
            for policy in versions:
                if policy.effective_from <= on:
                    chosen = policy
            if len(self._in_force) >= MAX_REMEMBERED:
                self._in_force.clear()
            self._in_force[key] = chosen
        return chosen


def _province(code: str, source: str, versions: list[dict[str, Any]], national: list[dict[str, Any]]) -> list[Policy]:
    """A province's timeline: national before its first version, then a policy at each change of either."""
    first = versions[0]["effective_from"]
    timeline = [Policy(jurisdiction=NATIONAL, **n) for n in national if n["effective_from"] < first]
    days = sorted({first} | {v["effective_from"] for v in versions} | {n["effective_from"] for n in national})
    for day in (d for d in days if d >= first):
        own, base = _in_force(versions, day), _in_force(national, day)
        # Named after the province version; the national one is named too once it has moved on since.
        label = own["version"]
        if base is not _in_force(national, own["effective_from"]):
            label = f"{own['version']}+{base['version']}"
        values = {**base, **own, "version": label, "effective_from": day}
        _check(values, f"{source} ({own['version']})")
        timeline.append(Policy(jurisdiction=code, **values))
    return timeline


@functools.cache
def default_book() -> PolicyBook:
    """The shipped policies, read once per process."""
    return PolicyBook.load()
