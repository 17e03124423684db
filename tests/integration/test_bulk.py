"""`registry import` and `registry export` on real CSV files and the embedded PostgreSQL: a good import, each kind
of bad row reported by line with nothing written, the round trip, and the events written."""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from registry.app import create_app
from registry.auth import Actor, Role, issue_token, load_key
from registry.bulk import importer
from registry.bulk.importer import RowsRejected, import_institutions, import_practitioners
from registry.bulk.rows import BadFile
from registry.config import Settings
from registry.db import Database, create_database, libpq_url, make_engine
from registry.migrate import upgrade
from registry.validation import hash_resident_id, mask_resident_id
from tests.conftest import TEST_DATA
from tests.factories import resident_id
from tests.ops import DOCUMENTS

DATABASE = "registry_bulk"
TODAY = date(2026, 11, 25)
SECRET = b"s" * 32
TABLES = "events, event_counters, affiliations, registrations, practitioners, institutions"

INSTITUTIONS = [
    ("H52020100001", "贵阳市第一人民医院", "MEDICAL_INSTITUTION", "520201"),
    ("H52020100002", 'Clinic "North", Block 2', "MEDICAL_INSTITUTION", "520201"),
    ("P11010100001", "Pharmacy\tone", "RETAIL_PHARMACY", "110101"),
]


def practitioner_row(n: int, institutions: str = "H52020100001", **changes: str) -> dict[str, str]:
    row = {
        "code": f"D52020100000{n}",
        "name": f"医生{n}",
        "id_number": resident_id("520201", serial=f"{n:03d}"),
        "category": "PHYSICIAN",
        "region_code": "520201",
        "institution_codes": institutions,
        "registered_on": "2024-06-01",
    }
    return {**row, **changes}


def write_csv(
    path: Path, rows: list[dict[str, str]] | list[tuple[str, ...]], header: tuple[str, ...] | None = None
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if rows and isinstance(rows[0], dict):
            names = tuple(rows[0])  # type: ignore[arg-type]
            w.writerow(header or names)
            w.writerows([tuple(r[n] for n in names) for r in rows])  # type: ignore[index]
        else:
            w.writerow(header or ("code", "name", "kind", "region_code"))
            w.writerows(rows)  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="module")
def url(admin_url: str) -> str:
    create_database(admin_url, DATABASE, drop_first=True)
    url = libpq_url(admin_url.replace("/postgres?", f"/{DATABASE}?", 1))
    upgrade(url)
    return url


@pytest.fixture
def conn(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        yield conn


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index,no-any-return]


def import_people(conn: psycopg.Connection, path: Path, **kwargs: Any) -> importer.Imported:
    return import_practitioners(conn, path, node_region="520000", id_secret=SECRET, today=TODAY, **kwargs)


@pytest.fixture
def institutions(conn: psycopg.Connection, tmp_path: Path) -> Path:
    path = write_csv(tmp_path / "institutions.csv", INSTITUTIONS)
    import_institutions(conn, path, node_region="520000")
    return path


@pytest.mark.parametrize("trusted", [True, False], ids=["reference-checks-skipped", "reference-checks-kept"])
def test_good_import_writes_people_registrations_affiliations_and_events(
    conn: psycopg.Connection, institutions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    if not trusted:
        monkeypatch.setattr(importer, "_may_skip_reference_checks", lambda conn, tables: False)
    rows = [
        practitioner_row(1),
        practitioner_row(2, "H52020100002;H52020100001", category="NURSE"),
        practitioner_row(3, "P11010100001|H52020100002", name='Wang\\Li, "Jr"'),
    ]
    done = import_people(conn, write_csv(tmp_path / "p.csv", rows), chunk_rows=2)  # two chunks

    assert (done.rows, done.events) == (3, (4, 6))  # after the 3 institutions' events
    person = conn.execute(
        "SELECT name, category, region_code, id_hash, id_masked FROM practitioners WHERE code = 'D520201000003'"
    ).fetchone()
    number = rows[2]["id_number"]
    assert person == (
        'Wang\\Li, "Jr"',
        "PHYSICIAN",
        "520201",
        hash_resident_id(SECRET, number),
        mask_resident_id(number),
    )
    assert conn.execute("SELECT practitioner_code, starts_on, ends_on FROM registrations ORDER BY 1").fetchall() == [
        (f"D52020100000{n}", date(2024, 6, 1), None) for n in (1, 2, 3)
    ]
    affiliations = conn.execute(
        "SELECT practitioner_code, institution_code FROM affiliations WHERE ends_on IS NULL ORDER BY id"
    ).fetchall()
    assert affiliations == [
        ("D520201000001", "H52020100001"),
        ("D520201000002", "H52020100002"),
        ("D520201000002", "H52020100001"),
        ("D520201000003", "P11010100001"),
        ("D520201000003", "H52020100002"),
    ]
    events = conn.execute("SELECT seq, kind, subject, payload, actor FROM events ORDER BY seq").fetchall()
    assert [e[0] for e in events] == [1, 2, 3, 4, 5, 6]
    assert conn.execute("SELECT last_seq FROM event_counters WHERE node_region = '520000'").fetchone() == (6,)
    assert events[0][1:3] == ("institution.registered", "H52020100001")
    assert events[0][3] == {
        "type": "institution.registered",
        "v": 1,
        "code": "H52020100001",
        "name": "贵阳市第一人民医院",
        "kind": "MEDICAL_INSTITUTION",
        "region_code": "520201",
    }
    assert events[4][3] == {
        "type": "practitioner.registered",
        "v": 1,
        "code": "D520201000002",
        "name": "医生2",
        "category": "NURSE",
        "region_code": "520201",
        "id_digest": hash_resident_id(SECRET, rows[1]["id_number"]),
        "id_masked": mask_resident_id(rows[1]["id_number"]),
        "institution_codes": ["H52020100002", "H52020100001"],  # as given
        "registered_on": "2024-06-01",
    }
    assert {e[4] for e in events} == {"import"}


BAD_ROWS: list[tuple[str, dict[str, str], str, str | None]] = [
    ("code", {"code": "D-1"}, "INVALID_CODE", "code"),
    ("checksum", {"id_number": "52020119800101123X"}, "INVALID_ID_NUMBER", "id_number"),
    ("name", {"name": "  "}, "INVALID_INPUT", "name"),
    ("category", {"category": "SURGEON"}, "INVALID_INPUT", "category"),
    ("region", {"region_code": "990000"}, "INVALID_CODE", "region_code"),
    ("institution format", {"institution_codes": "H1"}, "INVALID_CODE", "institution_codes"),
    ("no institution", {"institution_codes": ""}, "INVALID_INPUT", "institution_codes"),
    ("institution twice", {"institution_codes": "H52020100001|H52020100001"}, "INVALID_INPUT", "institution_codes"),
    ("unknown institution", {"institution_codes": "H52020100001|H52020199999"}, "UNKNOWN_INSTITUTION",
     "institution_codes"),
    ("date", {"registered_on": "2024-13-01"}, "INVALID_INPUT", "registered_on"),
    ("future", {"registered_on": "2026-11-26"}, "DATE_IN_FUTURE", "registered_on"),
    ("code twice", {"code": "D520201000001"}, "ALREADY_REGISTERED", "code"),
    ("person twice", {"id_number": resident_id("520201", serial="001")}, "ALREADY_REGISTERED", "id_number"),
    ("known code", {"code": "D999"}, "ALREADY_REGISTERED", "code"),
    ("known person", {"id_number": resident_id("520201", serial="999")}, "ALREADY_REGISTERED", "id_number"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "code", "field"), [b[1:] for b in BAD_ROWS], ids=[b[0] for b in BAD_ROWS])
def test_a_bad_row_is_reported_by_line_and_nothing_is_written(
    conn: psycopg.Connection, institutions: Path, tmp_path: Path, bad: dict[str, str], code: str, field: str
) -> None:
    # Someone the node knows already: code D999, resident ID serial 999.
    known = practitioner_row(9, code="D999", id_number=resident_id("520201", serial="999"))
    import_people(conn, write_csv(tmp_path / "known.csv", [known]))
    before = {t: count(conn, t) for t in ("practitioners", "registrations", "affiliations", "events")}

    rows = [practitioner_row(1), practitioner_row(2), practitioner_row(3, **bad), practitioner_row(4)]
    with pytest.raises(RowsRejected) as rejected:
        import_people(conn, write_csv(tmp_path / "p.csv", rows), chunk_rows=1)  # the bad row comes after writes

    errors = rejected.value.errors
    assert [(e.line, e.code, e.field) for e in errors] == [(4, code, field)]  # the header is line 1
    assert {t: count(conn, t) for t in before} == before
    assert conn.execute("SELECT last_seq FROM event_counters").fetchone() == (before["events"],)


def test_every_bad_row_is_counted_the_first_are_listed(
    conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    import_people(conn, write_csv(tmp_path / "known.csv", [practitioner_row(9, code="D999")]))
    rows = [practitioner_row(n, category="SURGEON" if n % 2 else "NURSE") for n in range(1, 8)]
    rows[1]["institution_codes"] = "H52020199999"
    rows[3]["code"] = "D999"  # known to the node: found by SQL, between rows found while reading
    with pytest.raises(RowsRejected) as rejected:
        import_people(conn, write_csv(tmp_path / "p.csv", rows), max_errors=4, chunk_rows=2)
    assert rejected.value.count == 6
    assert [(e.line, e.code) for e in rejected.value.errors] == [
        (2, "INVALID_INPUT"),
        (3, "UNKNOWN_INSTITUTION"),
        (4, "INVALID_INPUT"),
        (5, "ALREADY_REGISTERED"),
    ]
    assert count(conn, "practitioners") == 1


def test_bad_institutions_are_refused_a_second_import_as_given_changes_nothing(
    conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    again = import_institutions(conn, institutions, node_region="520000")
    assert (again.rows, again.unchanged, again.events) == (0, 3, None)

    changed = [("H52020100001", "renamed", "MEDICAL_INSTITUTION", "520201"), ("P52020100003", "x", "MEDICAL_INSTITUTION",
               "520201"), ("H52020100004", "new", "MEDICAL_INSTITUTION", "520201"), ("H52020100004", "twice",
               "MEDICAL_INSTITUTION", "520201")]  # fmt: skip
    with pytest.raises(RowsRejected) as rejected:
        import_institutions(conn, write_csv(tmp_path / "i.csv", changed), node_region="520000")
    assert [(e.line, e.code, e.field) for e in rejected.value.errors] == [
        (2, "ALREADY_REGISTERED", "code"),
        (3, "INVALID_CODE", "code"),
        (5, "ALREADY_REGISTERED", "code"),
    ]
    assert count(conn, "institutions") == 3 and count(conn, "events") == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("code,name,kind\nH52020100001,x,MEDICAL_INSTITUTION\n", "the header must be code,name,kind,region_code"),
        ("code,name,kind,region_code,code\n", "names code twice"),
        (b"code,name,kind,region_code\nH52020100001,\xff,MEDICAL_INSTITUTION,520201\n", "not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(
    conn: psycopg.Connection, tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "i.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(BadFile, match=message):
        import_institutions(conn, path, node_region="520000")
    assert count(conn, "institutions") == 0


# ---- the command line --------------------------------------------------------------------------------------


@pytest.fixture
def node(url: str, conn: psycopg.Connection) -> Iterator[tuple[Path, dict[str, str]]]:
    path = TEST_DATA / "node-bulk"
    shutil.rmtree(path, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    yield path, {**env, "REGISTRY_DATABASE_URL": url, "REGISTRY_NODE_REGION": "520000"}
    shutil.rmtree(path, ignore_errors=True)


def registry(node: tuple[Path, dict[str, str]], *args: str) -> subprocess.CompletedProcess[str]:
    path, env = node
    command = [sys.executable, "-m", "registry.cli", *args, "--data-dir", str(path)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_import_export_round_trip(node: tuple[Path, dict[str, str]], conn: psycopg.Connection, tmp_path: Path) -> None:
    institutions = write_csv(tmp_path / "institutions.csv", sorted(INSTITUTIONS))
    rows = [
        practitioner_row(2, "H52020100002;H52020100001", name="多行\n姓名"),
        practitioner_row(1, "P11010100001", name='Tab\there, "quoted"'),
    ]
    people = write_csv(tmp_path / "practitioners.csv", rows)

    done = registry(node, "import", "institutions", str(institutions))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported 3 institutions in ") and "events 1..3" in done.stdout
    done = registry(node, "import", "practitioners", str(people))
    assert done.returncode == 0, done.stderr
    assert "imported 2 practitioners in " in done.stdout and "rows/s" in done.stdout

    exported = tmp_path / "institutions.out.csv"
    assert registry(node, "export", "institutions", "--output", str(exported)).returncode == 0
    assert exported.read_bytes() == institutions.read_bytes()

    # Practitioners come back sorted by code, as id_digest and id_masked, institutions joined with "|".
    first = registry(node, "export", "practitioners")
    assert first.returncode == 0, first.stderr
    key = load_key(node[0] / "keys", "id-hash.key")
    expected = [
        {
            "code": r["code"],
            "name": r["name"],
            "id_digest": hash_resident_id(key, r["id_number"]),
            "id_masked": mask_resident_id(r["id_number"]),
            "category": r["category"],
            "region_code": r["region_code"],
            "institution_codes": r["institution_codes"].replace(";", "|"),
            "registered_on": r["registered_on"],
        }
        for r in sorted(rows, key=lambda r: r["code"])
    ]
    assert first.stdout.encode() == write_csv(tmp_path / "expected.csv", expected).read_bytes()  # type: ignore[arg-type]

    # That file imports into an empty node (with the same id key) and exports to the same bytes.
    conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    assert registry(node, "import", "institutions", str(institutions)).returncode == 0
    again = tmp_path / "again.csv"
    again.write_text(first.stdout, encoding="utf-8")
    done = registry(node, "import", "practitioners", str(again))
    assert done.returncode == 0, done.stderr
    assert registry(node, "export", "practitioners").stdout == first.stdout


def test_the_command_reports_bad_rows_and_exits_non_zero(
    node: tuple[Path, dict[str, str]], conn: psycopg.Connection, tmp_path: Path
) -> None:
    assert registry(node, "import", "institutions", str(write_csv(tmp_path / "i.csv", INSTITUTIONS))).returncode == 0
    rows = [practitioner_row(n, id_number="11010119800101000X") for n in range(1, 5)]
    done = registry(node, "import", "practitioners", str(write_csv(tmp_path / "p.csv", rows)), "--max-errors", "2")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-3:] == [
        f"{tmp_path / 'p.csv'}: line 2: INVALID_ID_NUMBER id_number: not a valid 18-character resident ID number",
        f"{tmp_path / 'p.csv'}: line 3: INVALID_ID_NUMBER id_number: not a valid 18-character resident ID number",
        f"registry import: 4 problems in {tmp_path / 'p.csv'} (and 2 more); nothing was written",
    ]
    assert count(conn, "practitioners") == 0

    missing = registry(node, "import", "practitioners", str(tmp_path / "nowhere.csv"))
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        f"registry import: {tmp_path / 'nowhere.csv'}: no such file",
    )
    header = tmp_path / "header.csv"
    header.write_text("code,name\n", encoding="utf-8")
    bad = registry(node, "import", "practitioners", str(header))
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("registry import: the header must be")

    nowhere = registry(node, "export", "institutions", "--output", str(tmp_path / "missing" / "i.csv"))
    assert nowhere.returncode == 1 and nowhere.stderr.strip().endswith("No such file or directory")
    assert not (tmp_path / "missing").exists()


async def test_imported_people_answer_the_contract_eligibility_check(
    url: str, conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    import_people(conn, write_csv(tmp_path / "p.csv", [practitioner_row(1)]))
    settings = Settings(data_dir=TEST_DATA / "node-bulk-app", database_url=url)
    db = Database(make_engine(url))
    app = create_app(settings, db)
    token = issue_token(load_key(settings.keys_dir, "token.key"), Actor(Role.NATIONAL), ttl=timedelta(minutes=5))
    variables = {
        "practitionerCode": "D520201000001",
        "institutionCode": "H52020100001",
        "at": "2025-03-01T10:00:00+08:00",
    }
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as http:
            body = {"query": DOCUMENTS["Eligibility"], "operationName": "Eligibility", "variables": variables}
            response = await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
    finally:
        await db.dispose()
    answer = response.json()["data"]["eligibility"]
    assert (answer["eligible"], answer["status"], answer["affiliated"]) == (True, "NORMAL", True)


def test_chunks_and_threads_stop_cleanly_when_the_file_turns_bad(
    conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    # Far enough into the file that the first chunks are written before the reader meets the bad bytes.
    path = write_csv(tmp_path / "p.csv", [practitioner_row(n) for n in range(1, 301)])
    assert path.stat().st_size > 3 * 8192
    with path.open("ab") as f:
        f.write(b"D520201000999,\xff\xfe,1,PHYSICIAN,520201,H52020100001,2024-06-01\n")
    with pytest.raises(BadFile, match="not UTF-8"):
        import_people(conn, path, chunk_rows=20)
    assert count(conn, "practitioners") == 0 and count(conn, "events") == 3


def test_a_database_error_mid_import_leaves_nothing_and_stops_the_reader(
    conn: psycopg.Connection, institutions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second chunk's write fails (as a lost connection or a full disk would), while the reader is ahead.
    failing = [*importer.PRACTITIONERS.writes, "SELECT 1 / (SELECT count(*) - 2 FROM practitioners)"]
    monkeypatch.setattr(importer, "PRACTITIONERS", dataclasses.replace(importer.PRACTITIONERS, writes=failing))
    path = write_csv(tmp_path / "p.csv", [practitioner_row(n) for n in range(1, 9)])
    with pytest.raises(psycopg.errors.DivisionByZero):
        import_people(conn, path, chunk_rows=1)
    assert count(conn, "practitioners") == 0 and count(conn, "events") == 3
    assert not [t for t in threading.enumerate() if t.name == "import-reader"]
