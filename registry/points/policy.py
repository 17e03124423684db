"""Policies as data: one TOML file per jurisdiction, versioned and effective-dated. Pure: no clock, no database.

`national.toml` states every value. A province file (`<2-digit code>-<name>.toml`) states only what differs; its
versions are laid over the national version in force on the same day.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

POLICIES = Path(__file__).resolve().parent / "policies"
NATIONAL = "national"


@dataclass(frozen=True)
class Policy:
    jurisdiction: str
    version: str
    effective_from: date
    interview_threshold: int | None
    suspension_threshold: int
    termination_threshold: int
    min_suspension_months: int
    max_suspension_months: int
    default_months_accumulated: dict[int, int]
    default_months_single: dict[int, int]
    bar_years_accumulated: int
    bar_years_single: int
    restoration_points_per_activity: int
    restoration_cap_per_year: int
    restoration_after_termination: bool
    emergency_during_suspension: bool
    emergency_during_termination: bool
    statement_days: int
    objection_days: int

    def default_months(self, total: int, single_points: int) -> int:
        """Default months for a suspension: by the year's total, or by the one decision's points when that
        decision alone reached the band (whichever is longer, so more points never mean a shorter suspension)."""
        top = self.termination_threshold - 1
        months = self.default_months_accumulated[min(total, top)]
        if single_points >= self.suspension_threshold:
            months = max(months, self.default_months_single[min(single_points, top)])
        return months

    def clamp_months(self, months: int) -> int:
        return max(self.min_suspension_months, min(self.max_suspension_months, months))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["effective_from"] = self.effective_from.isoformat()
        for key in ("default_months_accumulated", "default_months_single"):
            data[key] = {str(k): v for k, v in data[key].items()}
        return data


FIELDS = {f.name for f in dataclasses.fields(Policy)} - {"jurisdiction"}


def _check(values: dict[str, Any], source: str) -> None:
    """Refuse a policy that the rules could not apply sensibly."""
    low, high = values["min_suspension_months"], values["max_suspension_months"]
    if not 1 <= low <= high <= 6:
        raise ValueError(f"{source}: suspension months must lie within 1..6")
    if not 0 < values["suspension_threshold"] < values["termination_threshold"]:
        raise ValueError(f"{source}: thresholds out of order")
    band = range(values["suspension_threshold"], values["termination_threshold"])
    for key in ("default_months_accumulated", "default_months_single"):
        table = values[key]
        if set(table) != set(band):
            raise ValueError(f"{source}: {key} must give months for each of {list(band)}")
        if any(not low <= m <= high for m in table.values()):
            raise ValueError(f"{source}: {key} has months outside {low}..{high}")
    if values["interview_threshold"] is not None and values["interview_threshold"] <= 0:
        raise ValueError(f"{source}: interview_threshold must be positive")
    for key in ("bar_years_accumulated", "bar_years_single", "statement_days", "objection_days"):
        if values[key] < 0:
            raise ValueError(f"{source}: {key} is negative")
    if values["restoration_points_per_activity"] < 0 or values["restoration_cap_per_year"] < 0:
        raise ValueError(f"{source}: restoration values are negative")


def _normalise(raw: dict[str, Any], source: str) -> dict[str, Any]:
    unknown = set(raw) - FIELDS
    if unknown:
        raise ValueError(f"{source}: unknown keys {sorted(unknown)}")
    values = dict(raw)
    for key in ("default_months_accumulated", "default_months_single"):
        if key in values:
            values[key] = {int(k): int(v) for k, v in values[key].items()}
    if values.get("interview_threshold") is False:
        values["interview_threshold"] = None
    if "effective_from" in values and not isinstance(values["effective_from"], date):
        raise ValueError(f"{source}: effective_from must be a date")
    return values


class PolicyBook:
    """Every jurisdiction's versions, resolved to complete policies."""

    def __init__(self, national: list[dict[str, Any]], provinces: dict[str, list[dict[str, Any]]]) -> None:
        self._national = sorted(national, key=lambda v: v["effective_from"])
        if not self._national:
            raise ValueError("national.toml has no versions")
        self._policies: dict[str, list[Policy]] = {NATIONAL: [self._resolve(NATIONAL, {}, v) for v in self._national]}
        for province, versions in provinces.items():
            self._policies[province] = [
                self._resolve(province, self._national_on(v["effective_from"]), v)
                for v in sorted(versions, key=lambda v: v["effective_from"])
            ]

    def _national_on(self, on: date) -> dict[str, Any]:
        chosen = self._national[0]
        for version in self._national:
            if version["effective_from"] <= on:
                chosen = version
        return chosen

    @staticmethod
    def _resolve(jurisdiction: str, base: dict[str, Any], overrides: dict[str, Any]) -> Policy:
        values = {**base, **overrides}
        missing = FIELDS - set(values)
        if missing:
            raise ValueError(f"{jurisdiction}: missing {sorted(missing)}")
        _check(values, jurisdiction)
        return Policy(jurisdiction=jurisdiction, **values)

    @classmethod
    def load(cls, path: Path | None = None) -> PolicyBook:
        folder = path or POLICIES
        national: list[dict[str, Any]] = []
        provinces: dict[str, list[dict[str, Any]]] = {}
        for file in sorted(folder.glob("*.toml")):
            try:
                data = tomllib.loads(file.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{file.name}: {exc}") from exc
            if set(data) != {"versions"}:
                raise ValueError(f"{file.name}: expected only [[versions]] tables")
            versions = [_normalise(v, file.name) for v in data["versions"]]
            for v in versions:
                if "version" not in v or "effective_from" not in v:
                    raise ValueError(f"{file.name}: every version needs version and effective_from")
            if file.stem == NATIONAL:
                national = versions
            else:
                province = file.stem.split("-", 1)[0]
                if len(province) != 2 or not province.isdigit():
                    raise ValueError(f"{file.name}: name it <2-digit province code>-<name>.toml")
                provinces[province] = versions
        return cls(national, provinces)

    def jurisdictions(self) -> list[str]:
        return sorted(self._policies)

    def policy_for(self, region_code: str, on: date) -> Policy:
        """The policy in force in a region (GB/T 2260 code) on a day; the national default where none is filed."""
        versions = self._policies.get(region_code[:2]) or self._policies[NATIONAL]
        chosen = versions[0]
        for version in versions:
            if version.effective_from <= on:
                chosen = version
        return chosen


@functools.cache
def default_book() -> PolicyBook:
    return PolicyBook.load()
