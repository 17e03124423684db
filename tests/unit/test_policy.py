"""Policy files: the shipped values, effective dating, province overlays and strict validation."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from registry.points.policy import Policy, PolicyBook, default_book

SHIPPED = Path(__file__).resolve().parents[2] / "registry" / "points" / "policies"
NATIONAL_TOML = (SHIPPED / "national.toml").read_text(encoding="utf-8")
D2025 = date(2025, 6, 1)


def folder(tmp_path: Path, national: str = NATIONAL_TOML, provinces: dict[str, str] | None = None) -> Path:
    """A policies folder holding national.toml and the given province files (by file stem)."""
    (tmp_path / "national.toml").write_text(national, encoding="utf-8")
    for stem, text in (provinces or {}).items():
        (tmp_path / f"{stem}.toml").write_text(text, encoding="utf-8")
    return tmp_path


def version(name: str, day: str, body: str = "") -> str:
    return f'[[versions]]\nversion = "{name}"\neffective_from = {day}\n{body}\n'


# ---- the shipped book --------------------------------------------------------------------------------------


def test_shipped_jurisdictions() -> None:
    assert default_book().jurisdictions() == ["11", "12", "national"]
    assert default_book() is default_book()  # read once per process


def test_national_default_states_every_value() -> None:
    p = default_book().policy_for("520201", D2025)  # Guizhou has no file: national
    assert p.to_dict() == {
        "jurisdiction": "national",
        "version": "national-2025.1",
        "effective_from": "2025-01-01",
        "interview_threshold": None,
        "suspension_threshold": 9,
        "termination_threshold": 12,
        "min_suspension_months": 1,
        "max_suspension_months": 6,
        "default_months_accumulated": {"9": 1, "10": 2, "11": 3},
        "default_months_single": {"9": 2, "10": 4, "11": 6},
        "bar_years_accumulated": 1,
        "bar_years_single": 3,
        "restoration_points_per_activity": 0,
        "restoration_cap_per_year": 0,
        "restoration_after_termination": False,
        "emergency_during_suspension": True,
        "emergency_during_termination": False,
        "statement_days": 7,
        "objection_days": 15,
    }
    json.dumps(p.to_dict())  # ready for display as JSON


def test_tianjin_restores_points_and_interviews_at_six() -> None:
    national = default_book().policy_for("520201", D2025)
    tianjin = default_book().policy_for("120104", D2025)
    assert (tianjin.jurisdiction, tianjin.version) == ("12", "tianjin-2025.1")
    assert tianjin.interview_threshold == 6
    assert (tianjin.restoration_points_per_activity, tianjin.restoration_cap_per_year) == (1, 4)
    differing = {k for k, v in tianjin.to_dict().items() if national.to_dict()[k] != v}
    assert differing == {
        "jurisdiction",
        "version",
        "interview_threshold",
        "restoration_points_per_activity",
        "restoration_cap_per_year",
    }


def test_beijing_settles_emergencies_during_termination() -> None:
    beijing = default_book().policy_for("110105", D2025)
    assert (beijing.jurisdiction, beijing.version) == ("11", "beijing-2025.1")
    assert beijing.emergency_during_termination and beijing.emergency_during_suspension
    assert beijing.interview_threshold is None and beijing.restoration_points_per_activity == 0


@pytest.mark.parametrize("region", ["520201", "440000", "500101", "000000"])
def test_regions_without_a_file_fall_back_to_national(region: str) -> None:
    assert default_book().policy_for(region, D2025).jurisdiction == "national"


def test_a_day_before_every_version_gets_the_earliest() -> None:
    assert default_book().policy_for("120101", date(2024, 12, 31)).version == "tianjin-2025.1"
    assert default_book().policy_for("520201", date(2000, 1, 1)).version == "national-2025.1"


def test_default_months_by_total_or_by_the_single_decision_whichever_is_longer() -> None:
    p = default_book().policy_for("520201", D2025)
    assert [p.default_months(t, 1) for t in (9, 10, 11)] == [1, 2, 3]  # accumulated
    assert [p.default_months(t, t) for t in (9, 10, 11)] == [2, 4, 6]  # one decision alone
    assert p.default_months(11, 9) == 3  # 2 earlier points + 9 at once: the accumulated 11 is longer
    assert p.default_months(11, 10) == 4
    assert [p.clamp_months(m) for m in (-1, 0, 1, 6, 7)] == [1, 1, 1, 6, 6]


def test_policies_are_hashable_and_comparable() -> None:
    p = default_book().policy_for("520201", D2025)
    assert {p: 1}[default_book().policy_for("520201", D2025)] == 1
    assert isinstance(p, Policy)


# ---- effective dating --------------------------------------------------------------------------------------


def test_versions_are_effective_dated(tmp_path: Path) -> None:
    book = PolicyBook.load(
        folder(
            tmp_path,
            provinces={
                "12-tianjin": version(
                    "t1", "2025-01-01", "restoration_points_per_activity = 1\nrestoration_cap_per_year = 4"
                )
                + version("t2", "2026-01-01", "restoration_points_per_activity = 1\nrestoration_cap_per_year = 2")
            },
        )
    )
    assert book.policy_for("120101", date(2025, 12, 31)).version == "t1"
    t2 = book.policy_for("120101", date(2026, 1, 1))
    assert (t2.version, t2.effective_from, t2.restoration_cap_per_year) == ("t2", date(2026, 1, 1), 2)
    assert book.policy_for("110101", D2025).jurisdiction == "national"  # no Beijing file here


def test_a_later_national_version_reaches_provinces_that_do_not_override_it(tmp_path: Path) -> None:
    later = NATIONAL_TOML.replace("2025", "2026").replace("objection_days = 15", "objection_days = 30")
    book = PolicyBook.load(
        folder(tmp_path, NATIONAL_TOML + later, {"12-tianjin": version("t1", "2025-01-01", "statement_days = 5")})
    )
    assert book.policy_for("520201", date(2026, 3, 1)).objection_days == 30
    early, late = book.policy_for("120101", date(2025, 3, 1)), book.policy_for("120101", date(2026, 3, 1))
    assert (early.version, early.objection_days, early.statement_days) == ("t1", 15, 5)
    assert (late.version, late.objection_days, late.statement_days) == ("t1+national-2026.1", 30, 5)
    assert late.effective_from == date(2026, 1, 1) and late.jurisdiction == "12"


def test_before_a_province_s_first_version_the_national_policy_applies(tmp_path: Path) -> None:
    book = PolicyBook.load(
        folder(tmp_path, provinces={"31-shanghai": version("s1", "2025-07-01", "statement_days = 10")})
    )
    assert book.policy_for("310101", date(2025, 6, 30)).jurisdiction == "national"
    assert book.policy_for("310101", date(2025, 7, 1)).version == "s1"
    assert [p.version for p in book.versions("31")] == ["national-2025.1", "s1"]


def test_interview_can_be_switched_off_with_false(tmp_path: Path) -> None:
    book = PolicyBook.load(
        folder(tmp_path, provinces={"12-tianjin": version("t", "2025-01-01", "interview_threshold = false")})
    )
    assert book.policy_for("120101", D2025).interview_threshold is None


# ---- invalid files -----------------------------------------------------------------------------------------

BAD_PROVINCE = {
    "unknown key": ("surprise = 1", "unknown keys"),
    "max months above 6": ("max_suspension_months = 7", r"1\.\.6"),
    "min months 0": ("min_suspension_months = 0", r"1\.\.6"),
    "min above max": ("min_suspension_months = 4\nmax_suspension_months = 3", r"1\.\.6"),
    "default table beyond max": ("max_suspension_months = 5", "outside 1..5"),
    "table month out of range": ("default_months_single = { 9 = 2, 10 = 4, 11 = 8 }", "outside"),
    "table missing a total": ("default_months_accumulated = { 9 = 1, 10 = 2 }", "exactly"),
    "table with a word key": ("default_months_accumulated = { nine = 1, 10 = 2, 11 = 3 }", "whole points"),
    "suspension at termination": ("suspension_threshold = 12", "out of order"),
    "interview above suspension": ("interview_threshold = 10", "out of order"),
    "interview true": ("interview_threshold = true", "integer or false"),
    "string for an integer": ('statement_days = "7"', "statement_days must be an integer"),
    "boolean for an integer": ("objection_days = true", "objection_days must be an integer"),
    "integer for a boolean": ("emergency_during_termination = 1", "true or false"),
    "no statement window": ("statement_days = 0", "statement_days must be at least 1"),
    "bars out of order": ("bar_years_accumulated = 4", "bar_years"),
    "cap below one activity": (
        "restoration_points_per_activity = 2\nrestoration_cap_per_year = 1",
        "restoration",
    ),
    "cap without activity points": ("restoration_cap_per_year = 4", "restoration"),
}


@pytest.mark.parametrize(("body", "message"), BAD_PROVINCE.values(), ids=BAD_PROVINCE.keys())
def test_bad_province_values_name_the_file(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        PolicyBook.load(folder(tmp_path, provinces={"12-tianjin": version("t", "2025-01-01", body)}))
    assert "12-tianjin.toml" in str(caught.value)


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("objection_days = 15", "", "missing keys"),
        ("objection_days = 15", "objection_days = 15\nextra = 1", "unknown keys"),
        ("termination_threshold = 12", "termination_threshold = 9", "out of order"),
        ("effective_from = 2025-01-01", "effective_from = 2025-01-01T00:00:00", "must be a date"),
        ("effective_from = 2025-01-01", 'effective_from = "2025-01-01"', "must be a date"),
        ('version = "national-2025.1"', 'version = ""', "non-empty"),
        ("[[versions]]", "[versions]", r"\[\[versions\]\]"),
        ("[[versions]]", 'title = "x"\n[[versions]]', r"\[\[versions\]\]"),
        ("bar_years_single = 3", "bar_years_single = [", "national.toml"),
    ],
)
def test_bad_national_values_name_the_file(tmp_path: Path, replace: str, by: str, message: str) -> None:
    assert replace in NATIONAL_TOML
    with pytest.raises(ValueError, match=message) as caught:
        PolicyBook.load(folder(tmp_path, NATIONAL_TOML.replace(replace, by, 1)))
    assert "national.toml" in str(caught.value)


def test_two_versions_of_one_day_are_refused(tmp_path: Path) -> None:
    twice = version("a", "2025-01-01") + version("b", "2025-01-01")
    with pytest.raises(ValueError, match=re.escape("12-tianjin.toml: two versions take effect on the same day")):
        PolicyBook.load(folder(tmp_path, provinces={"12-tianjin": twice}))


def test_version_names_are_unique_across_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("national-2025.1")):
        PolicyBook.load(folder(tmp_path, provinces={"12-tianjin": version("national-2025.1", "2025-01-01")}))


@pytest.mark.parametrize("stem", ["tianjin", "1-tianjin", "ab-tianjin", "00-nowhere", "12"])
def test_file_names_must_carry_a_province_code(tmp_path: Path, stem: str) -> None:
    (tmp_path / f"{stem}.toml").write_text(version("x", "2025-01-01"), encoding="utf-8")
    with pytest.raises(ValueError, match=f"{stem}.toml: name it"):
        PolicyBook.load(folder(tmp_path))


def test_one_file_per_province(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("province 12 already has 12-a.toml")):
        PolicyBook.load(
            folder(tmp_path, provinces={"12-a": version("a", "2025-01-01"), "12-b": version("b", "2025-01-01")})
        )


def test_national_toml_is_required(tmp_path: Path) -> None:
    (tmp_path / "12-tianjin.toml").write_text(version("t", "2025-01-01"), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("national.toml is missing")):
        PolicyBook.load(tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        PolicyBook.load(tmp_path / "nowhere")


def test_other_files_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("notes", encoding="utf-8")
    assert PolicyBook.load(str(folder(tmp_path))).jurisdictions() == ["national"]
