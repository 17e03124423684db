"""`registry import` and `registry export` on real CSV files and the embedded PostgreSQL: a good import, each kind
of bad row reported by line with nothing written, the round trip, and the facts sealed into the node's feed
exactly as the API's registrations are."""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import identity
from registry.auth import Actor, Role
from registry.bulk import importer
from registry.bulk.importer import RowsRejected, import_institutions, import_practitioners
from registry.bulk.rows import BadFile
from registry.config import Settings
from registry.db import Database, create_database, libpq_url, make_engine
from registry.federation import envelope
from registry.federation.runtime import Federation
from registry.migrate import upgrade
from registry.node import Node
from registry.practitioners.commands import RegisterInstitution, RegisterPractitioner
from registry.practitioners.enums import InstitutionKind, PractitionerCategory
from registry.practitioners.facts import InstitutionRegistered, PractitionerRegistered
from registry.practitioners.institutions import register_institution
from registry.practitioners.registration import register_practitioner
from registry.validation import hash_resident_id, mask_resident_id
from tests.conftest import TEST_DATA, app_client
from tests.factories import resident_id
from tests.processes import REGISTRY

DATABASE = "registry_bulk"
TODAY = date(2026, 11, 25)
REGION = "520000"  # the node: Guizhou
NODE = Node(REGION, b"s" * 32)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
RESET = """TRUNCATE events, checkpoints, origin_heads, node_settings, affiliations, registrations, deregistrations,
                    practitioners, institutions RESTART IDENTITY;
           UPDATE feed_head SET position = 0"""
WRITTEN = ("practitioners", "registrations", "affiliations", "events", "checkpoints")

INSTITUTIONS = [
    ("H52020100001", "贵阳市第一人民医院", "MEDICAL_INSTITUTION", "520201"),
    ("H52020100002", 'Clinic "North", Block 2', "MEDICAL_INSTITUTION", "520201"),
    ("P52030100001", "Pharmacy \\one\\", "RETAIL_PHARMACY", "520301"),  # backslashes: COPY escapes them
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
    """For the test's own reads; every test starts from a node with nothing registered."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RESET)
        yield conn


@pytest_asyncio.fixture(loop_scope="session")
async def engine(url: str, conn: psycopg.Connection) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture
def db(engine: AsyncEngine) -> Database:
    """The node's database as its use cases see it: what they log is sealed as Guizhou's, at commit."""
    return Federation(REGION, KEY).seal(Database(engine))


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index,no-any-return]


async def import_people(db: Database, path: Path, **kwargs: Any) -> importer.Imported:
    return await import_practitioners(db, path, node=NODE, today=TODAY, **kwargs)


@pytest_asyncio.fixture(loop_scope="session")
async def institutions(db: Database, tmp_path: Path) -> Path:
    path = write_csv(tmp_path / "institutions.csv", INSTITUTIONS)
    await import_institutions(db, path, node=REGION)
    return path


def feed(conn: psycopg.Connection) -> list[envelope.Sealed]:
    """The node's feed, checked as a peer checks it: one chain of Guizhou's, covered by its signed checkpoints."""
    raws = [r[0].encode() for r in conn.execute("SELECT envelope FROM events ORDER BY position")]
    checkpoints = [envelope.parse_checkpoint(r[0]) for r in conn.execute("SELECT raw FROM checkpoints")]
    verified = envelope.verify_run(REGION, None, raws, checkpoints, KEY.public_key())
    assert verified.uncovered == 0
    return list(verified.events)


@pytest.mark.parametrize("trusted", [True, False], ids=["reference-checks-skipped", "reference-checks-kept"])
async def test_good_import_writes_people_registrations_affiliations_and_sealed_facts(
    db: Database,
    conn: psycopg.Connection,
    institutions: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    trusted: bool,
) -> None:
    if not trusted:

        async def never(conn: Any, tables: Any) -> bool:
            return False

        monkeypatch.setattr(importer, "_may_skip_reference_checks", never)
    rows = [
        practitioner_row(1),
        practitioner_row(2, "H52020100002;H52020100001", category="NURSE"),
        practitioner_row(3, "P52030100001|H52020100002", name='Wang\\Li, "Jr"'),
    ]
    done = await import_people(db, write_csv(tmp_path / "p.csv", rows), chunk_rows=2)  # two chunks

    assert (done.rows, done.seqs) == (3, (4, 6))  # after the 3 institutions' facts
    person = conn.execute(
        "SELECT name, category, region_code, id_hash, id_masked, registered_on, origin, origin_seq FROM practitioners"
        " WHERE code = 'D520201000003'"
    ).fetchone()
    number = rows[2]["id_number"]
    assert person == (
        'Wang\\Li, "Jr"',
        "PHYSICIAN",
        "520201",
        hash_resident_id(NODE.id_secret, number),
        mask_resident_id(number),
        date(2024, 6, 1),
        REGION,
        6,
    )
    registrations = "SELECT practitioner_code, starts_on, ends_on, origin_seq, recorded_by FROM registrations"
    assert conn.execute(registrations + " ORDER BY id").fetchall() == [
        (f"D52020100000{n}", date(2024, 6, 1), None, 3 + n, "import") for n in (1, 2, 3)
    ]
    affiliations = conn.execute(
        "SELECT practitioner_code, institution_code, origin_seq FROM affiliations WHERE ends_on IS NULL ORDER BY id"
    ).fetchall()
    assert affiliations == [
        ("D520201000001", "H52020100001", 4),
        ("D520201000002", "H52020100002", 5),
        ("D520201000002", "H52020100001", 5),
        ("D520201000003", "P52030100001", 6),
        ("D520201000003", "H52020100002", 6),
    ]
    institution = conn.execute(
        "SELECT registered_by, origin, origin_seq FROM institutions WHERE code = %s", ("P52030100001",)
    )
    assert institution.fetchone() == ("import", REGION, 3)

    events = feed(conn)
    assert [(e.event.seq, e.event.type) for e in events] == [(n, "institution.registered") for n in (1, 2, 3)] + [
        (n, "practitioner.registered") for n in (4, 5, 6)
    ]
    assert (
        events[0].event.fact
        == InstitutionRegistered(
            "H52020100001", "贵阳市第一人民医院", InstitutionKind.MEDICAL_INSTITUTION, "520201"
        ).wire()
    )
    assert (
        events[4].event.fact
        == PractitionerRegistered(
            code="D520201000002",
            name="医生2",
            category=PractitionerCategory.NURSE,
            region_code="520201",
            id_digest=hash_resident_id(NODE.id_secret, rows[1]["id_number"]),
            id_masked=mask_resident_id(rows[1]["id_number"]),
            institution_codes=("H52020100002", "H52020100001"),  # as given
            registered_on=date(2024, 6, 1),
        ).wire()
    )
    assert conn.execute("SELECT DISTINCT actor FROM events").fetchall() == [("import",)]
    # One signed checkpoint per chunk (and one every 500 facts): each transaction's end, as one seal would give.
    assert [r[0] for r in conn.execute("SELECT seq FROM checkpoints ORDER BY seq")] == [3, 5, 6]


async def snapshot(engine: AsyncEngine, register: Callable[[Database], Awaitable[Any]]) -> dict[str, Any]:
    """What registering two institutions and then `register` leave in the tables and the feed, rolled back after:
    every column but serial ids and timestamps."""
    actor = Actor(Role.NATIONAL)
    async with engine.connect() as connection:
        outer = await connection.begin()
        db = Federation(REGION, KEY).seal(Database.bound(connection))
        for code, region in (("H52020100001", "520201"), ("P52030100001", "520301")):
            kind = InstitutionKind.MEDICAL_INSTITUTION if code[0] == "H" else InstitutionKind.RETAIL_PHARMACY
            await register_institution(db, RegisterInstitution(code, "医院", kind, region), actor=actor, node=NODE)
        await register(db)
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        tables = {}
        for table in ("institutions", "practitioners", "registrations", "affiliations", "events", "checkpoints"):
            query = f"SELECT to_jsonb(t) - 'id' - 'created_at' - 'registered_at' - 'recorded_at' FROM {table} t"
            tables[table] = sorted(str(r[0]) for r in await (await raw.execute(query)).fetchall())
        for table in ("origin_heads", "feed_head"):
            tables[table] = [tuple(r) for r in await (await raw.execute(f"SELECT * FROM {table}")).fetchall()]
        await outer.rollback()
    return tables


async def test_an_imported_person_is_stored_and_sealed_as_registration_stores_and_seals_them(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    row = practitioner_row(1, "P52030100001|H52020100001", category="NURSE")
    actor = Actor(Role.NATIONAL)
    path = write_csv(tmp_path / "p.csv", [row])
    cmd = RegisterPractitioner(
        row["code"],
        row["name"],
        row["id_number"],
        PractitionerCategory.NURSE,
        row["region_code"],
        ("P52030100001", "H52020100001"),
        date(2024, 6, 1),
    )

    async def imported(db: Database) -> Any:
        return await import_practitioners(db, path, node=NODE, today=TODAY, actor=actor.subject)

    async def registered(db: Database) -> Any:
        return await register_practitioner(db, cmd, actor=actor, node=NODE, today=TODAY)

    via_import, via_api = await snapshot(engine, imported), await snapshot(engine, registered)
    assert len(via_import["affiliations"]) == 2 and len(via_import["events"]) == 3
    # The same rows, the same envelope byte for byte (so the same hash chain), the same signed checkpoint.
    assert via_import == via_api


BAD_ROWS: list[tuple[str, dict[str, str], str, str | None]] = [
    ("code", {"code": "D-1"}, "INVALID_CODE", "code"),
    ("checksum", {"id_number": "52020119800101123X"}, "INVALID_ID_NUMBER", "id_number"),
    ("name", {"name": "  "}, "INVALID_INPUT", "name"),
    ("control character", {"name": "多行\n姓名"}, "INVALID_INPUT", "name"),
    ("category", {"category": "SURGEON"}, "INVALID_INPUT", "category"),
    ("region", {"region_code": "990000"}, "INVALID_CODE", "region_code"),
    ("another province", {"region_code": "110101"}, "WRONG_NODE", "region_code"),
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
async def test_a_bad_row_is_reported_by_line_and_nothing_is_written(
    db: Database,
    conn: psycopg.Connection,
    institutions: Path,
    tmp_path: Path,
    bad: dict[str, str],
    code: str,
    field: str,
) -> None:
    # Someone the node knows already: code D999, resident ID serial 999.
    known = practitioner_row(9, code="D999", id_number=resident_id("520201", serial="999"))
    await import_people(db, write_csv(tmp_path / "known.csv", [known]))
    before = {t: count(conn, t) for t in WRITTEN}
    head = conn.execute("SELECT seq, hash FROM origin_heads").fetchone()

    rows = [practitioner_row(1), practitioner_row(2), practitioner_row(3, **bad), practitioner_row(4)]
    with pytest.raises(RowsRejected) as rejected:
        await import_people(db, write_csv(tmp_path / "p.csv", rows), chunk_rows=1)  # the bad row comes after writes

    errors = rejected.value.errors
    assert [(e.line, e.code, e.field) for e in errors] == [(4, code, field)]  # the header is line 1
    assert {t: count(conn, t) for t in before} == before
    assert conn.execute("SELECT seq, hash FROM origin_heads").fetchone() == head
    assert conn.execute("SELECT position FROM feed_head").fetchone() == (before["events"],)


async def test_every_bad_row_is_counted_the_first_are_listed(
    db: Database, conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    await import_people(db, write_csv(tmp_path / "known.csv", [practitioner_row(9, code="D999")]))
    rows = [practitioner_row(n, category="SURGEON" if n % 2 else "NURSE") for n in range(1, 8)]
    rows[1]["institution_codes"] = "H52020199999"
    rows[3]["code"] = "D999"  # known to the node: found by SQL, between rows found while reading
    with pytest.raises(RowsRejected) as rejected:
        await import_people(db, write_csv(tmp_path / "p.csv", rows), max_errors=4, chunk_rows=2)
    assert rejected.value.count == 6
    assert [(e.line, e.code) for e in rejected.value.errors] == [
        (2, "INVALID_INPUT"),
        (3, "UNKNOWN_INSTITUTION"),
        (4, "INVALID_INPUT"),
        (5, "ALREADY_REGISTERED"),
    ]
    assert count(conn, "practitioners") == 1


async def test_bad_institutions_are_refused_a_second_import_as_given_changes_nothing(
    db: Database, conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    again = await import_institutions(db, institutions, node=REGION)
    assert (again.rows, again.unchanged, again.seqs) == (0, 3, None)

    changed = [("H52020100001", "renamed", "MEDICAL_INSTITUTION", "520201"), ("P52020100003", "x", "MEDICAL_INSTITUTION",
               "520201"), ("H52020100004", "new", "MEDICAL_INSTITUTION", "520201"), ("H52020100004", "twice",
               "MEDICAL_INSTITUTION", "520201"), ("H11010100001", "Beijing", "MEDICAL_INSTITUTION", "110101")]  # fmt: skip
    with pytest.raises(RowsRejected) as rejected:
        await import_institutions(db, write_csv(tmp_path / "i.csv", changed), node=REGION)
    assert [(e.line, e.code, e.field) for e in rejected.value.errors] == [
        (2, "ALREADY_REGISTERED", "code"),
        (3, "INVALID_CODE", "code"),
        (5, "ALREADY_REGISTERED", "code"),
        (6, "WRONG_NODE", "region_code"),
    ]
    assert count(conn, "institutions") == 3 and count(conn, "events") == 3


async def test_institutions_already_there_are_skipped_and_the_new_ones_take_the_next_seqs(
    db: Database, conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    more = [*INSTITUTIONS[:2], ("H52020100005", "new", "MEDICAL_INSTITUTION", "520201"), INSTITUTIONS[2],
            ("H52020100006", "newer", "MEDICAL_INSTITUTION", "520201")]  # fmt: skip
    done = await import_institutions(db, write_csv(tmp_path / "i.csv", more), node=REGION, chunk_rows=4)
    assert (done.rows, done.unchanged, done.seqs) == (2, 3, (4, 5))
    new = conn.execute("SELECT code, origin_seq FROM institutions WHERE origin_seq > 3 ORDER BY code").fetchall()
    assert new == [("H52020100005", 4), ("H52020100006", 5)]
    assert [e.event.fact["code"] for e in feed(conn)[3:]] == ["H52020100005", "H52020100006"]


async def test_a_large_import_has_a_checkpoint_every_500_facts_in_its_feed(
    db: Database, conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    people = 1_200
    born = [date(1980, 1, 1) + timedelta(days=n // 1000) for n in range(people)]
    rows = [
        practitioner_row(
            0, code=f"D52020101{n:04d}", id_number=resident_id(birth=f"{born[n]:%Y%m%d}", serial=f"{n % 1000:03d}")
        )
        for n in range(people)
    ]
    done = await import_people(db, write_csv(tmp_path / "p.csv", rows))
    assert done.rows == people
    events = feed(conn)
    assert len(events) == 3 + people
    checkpoints = [r[0] for r in conn.execute("SELECT seq FROM checkpoints ORDER BY seq")]
    assert checkpoints == [3, 503, 1003, 3 + people]
    assert conn.execute("SELECT position, seq FROM events ORDER BY position DESC LIMIT 1").fetchone() == (
        3 + people,
        3 + people,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("code,name,kind\nH52020100001,x,MEDICAL_INSTITUTION\n", "the header must be code,name,kind,region_code"),
        ("code,name,kind,region_code,code\n", "names code twice"),
        (b"code,name,kind,region_code\nH52020100001,\xff,MEDICAL_INSTITUTION,520201\n", "not UTF-8"),
    ],
)
async def test_a_file_that_cannot_be_read_is_refused_whole(
    db: Database, conn: psycopg.Connection, tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "i.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(BadFile, match=message):
        await import_institutions(db, path, node=REGION)
    assert count(conn, "institutions") == 0


# ---- the command line --------------------------------------------------------------------------------------


@pytest.fixture
def node(url: str, conn: psycopg.Connection) -> Iterator[tuple[Path, dict[str, str]]]:
    path = TEST_DATA / "node-bulk"
    shutil.rmtree(path, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    yield path, {**env, "REGISTRY_DATABASE_URL": url, "REGISTRY_NODE_REGION": REGION}
    shutil.rmtree(path, ignore_errors=True)


def registry(node: tuple[Path, dict[str, str]], *args: str) -> subprocess.CompletedProcess[str]:
    path, env = node
    command = [*REGISTRY, *args, "--data-dir", str(path)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_import_export_round_trip(node: tuple[Path, dict[str, str]], conn: psycopg.Connection, tmp_path: Path) -> None:
    institutions = write_csv(tmp_path / "institutions.csv", sorted(INSTITUTIONS))
    rows = [
        practitioner_row(2, "H52020100002;H52020100001", name="姓名 \\N"),  # \N is COPY's null, unless escaped
        practitioner_row(1, "P52030100001", name='Comma, "quoted"'),
    ]
    people = write_csv(tmp_path / "practitioners.csv", rows)

    done = registry(node, "import", "institutions", str(institutions))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported 3 institutions in ") and "facts 520000#1..3" in done.stdout
    done = registry(node, "import", "practitioners", str(people))
    assert done.returncode == 0, done.stderr
    assert "imported 2 practitioners in " in done.stdout and "facts 520000#4..5" in done.stdout

    exported = tmp_path / "institutions.out.csv"
    assert registry(node, "export", "institutions", "--output", str(exported)).returncode == 0
    assert exported.read_bytes() == institutions.read_bytes()

    # Practitioners come back sorted by code, as id_digest and id_masked, institutions joined with "|".
    first = registry(node, "export", "practitioners")
    assert first.returncode == 0, first.stderr
    key = identity.load_or_create(node[0] / "keys")  # the node's identity key, created by the first import
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

    # That file imports into an empty node (with the same identity key) and exports to the same bytes.
    conn.execute(RESET)
    assert registry(node, "import", "institutions", str(institutions)).returncode == 0
    again = tmp_path / "again.csv"
    again.write_text(first.stdout, encoding="utf-8")
    done = registry(node, "import", "practitioners", str(again))
    assert done.returncode == 0, done.stderr
    assert registry(node, "export", "practitioners").stdout == first.stdout
    # The import recorded the node as `serve` does: its region and the identity key its digests were made with.
    settings = dict(conn.execute("SELECT key, value FROM node_settings").fetchall())
    assert settings == {"region": REGION, "identity_fingerprint": identity.fingerprint(key)}


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

    other = registry(node, "import", "institutions", str(tmp_path / "i.csv"), "--region", "530000")
    assert other.returncode == 1
    assert other.stderr.strip() == f"registry import: {node[0]} serves region 520000; it cannot start as 530000"


async def test_imported_people_answer_the_contract_eligibility_check(
    url: str, db: Database, institutions: Path, tmp_path: Path
) -> None:
    await import_people(db, write_csv(tmp_path / "p.csv", [practitioner_row(1)]))
    settings = Settings(data_dir=TEST_DATA / "node-bulk-app", database_url=url, federation_worker=False)
    app_db = Database(make_engine(url))
    variables = {
        "practitionerCode": "D520201000001",
        "institutionCode": "H52020100001",
        "at": "2025-03-01T10:00:00+08:00",
    }
    try:
        async with app_client(app_db, settings) as client:
            answer = (await client.op("Eligibility", variables, token=client.token("national")))["eligibility"]
    finally:
        await app_db.dispose()
    assert (answer["eligible"], answer["status"], answer["affiliated"]) == (True, "NORMAL", True)


async def test_chunks_and_threads_stop_cleanly_when_the_file_turns_bad(
    db: Database, conn: psycopg.Connection, institutions: Path, tmp_path: Path
) -> None:
    # Far enough into the file that the first chunks are written before the reader meets the bad bytes.
    path = write_csv(tmp_path / "p.csv", [practitioner_row(n) for n in range(1, 301)])
    assert path.stat().st_size > 3 * 8192
    with path.open("ab") as f:
        f.write(b"D520201000999,\xff\xfe,1,PHYSICIAN,520201,H52020100001,2024-06-01\n")
    with pytest.raises(BadFile, match="not UTF-8"):
        await import_people(db, path, chunk_rows=20)
    assert count(conn, "practitioners") == 0 and count(conn, "events") == 3
    assert not [t for t in threading.enumerate() if t.name == "import-reader"]


async def test_a_database_error_mid_import_leaves_nothing_and_stops_the_reader(
    db: Database, conn: psycopg.Connection, institutions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second chunk's write fails (as a lost connection or a full disk would), while the reader is ahead.
    failing = [*importer.PRACTITIONERS.writes, "SELECT 1 / (SELECT count(*) - 2 FROM practitioners)"]
    monkeypatch.setattr(importer, "PRACTITIONERS", dataclasses.replace(importer.PRACTITIONERS, writes=failing))
    path = write_csv(tmp_path / "p.csv", [practitioner_row(n) for n in range(1, 9)])
    with pytest.raises(psycopg.errors.DivisionByZero):
        await import_people(db, path, chunk_rows=1)
    assert count(conn, "practitioners") == 0 and count(conn, "events") == 3
    assert conn.execute("SELECT seq FROM origin_heads").fetchone() == (3,)
    assert not [t for t in threading.enumerate() if t.name == "import-reader"]
