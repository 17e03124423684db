"""An import is federated like any registration: Guizhou's node imports a CSV file (with `registry import`, while
it serves), and the national node, which follows it, pulls the sealed facts and holds the same people."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.factories import resident_id
from tests.federation.harness import Node, started_network, wait_for

PEOPLE = 1_200  # pages of 500 facts, each ending on a checkpoint
INSTITUTIONS = [("H52020100001", "贵阳市第一人民医院", "MEDICAL_INSTITUTION", "520201"),
                ("P52030100001", "遵义市药房", "RETAIL_PHARMACY", "520301")]  # fmt: skip


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Node, Node]]:
    with started_network("import", "520000") as nodes:
        yield nodes["000000"], nodes["520000"]


def write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def people() -> list[tuple[str, ...]]:
    rows = []
    for n in range(PEOPLE):
        born = f"{date(1980, 1, 1) + timedelta(days=n // 1000):%Y%m%d}"
        institutions = "H52020100001" if n % 3 else "P52030100001|H52020100001"
        number = resident_id("520201", birth=born, serial=f"{n % 1000:03d}")
        rows.append((f"D52020102{n:04d}", f"医生{n}", number, "NURSE", "520201", institutions, "2024-06-01"))
    return rows


def test_the_national_node_receives_the_people_guizhou_imported(pair: tuple[Node, Node], tmp_path: Path) -> None:
    national, guizhou = pair
    institutions = write(tmp_path / "i.csv", ("code", "name", "kind", "region_code"), INSTITUTIONS)
    columns = ("code", "name", "id_number", "category", "region_code", "institution_codes", "registered_on")
    practitioners = write(tmp_path / "p.csv", columns, people())

    # Peers that joined a moment ago may have refused each other's first pulls: count from here.
    rejected = national.peer("520000")["rejectedCount"]
    assert "imported 2 institutions" in guizhou.cli("import", "institutions", str(institutions)).stdout
    done = guizhou.cli("import", "practitioners", str(practitioners)).stdout
    assert f"imported {PEOPLE:,} practitioners" in done and f"facts 520000#3..{PEOPLE + 2}" in done

    # Guizhou's chain reaches the national node whole, verified against Guizhou's signed checkpoints.
    def guizhou_chain() -> dict[str, int] | None:
        origin = next((o for o in national.status()["origins"] if o["region"] == "520000"), None)
        return origin if origin and origin["seq"] == PEOPLE + 2 else None

    origin = wait_for(guizhou_chain, timeout=60, what="Guizhou's imported facts at the national node")
    assert origin["checkpointSeq"] == PEOPLE + 2
    assert national.peer("520000")["state"] == "OK" and national.peer("520000")["rejectedCount"] == rejected

    last = f"D52020102{PEOPLE - 1:04d}"
    variables = {"practitionerCode": last, "institutionCode": "H52020100001", "at": "2025-03-01T10:00:00+08:00"}
    answer = national.op("Eligibility", variables)["eligibility"]
    assert (answer["eligible"], answer["status"], answer["affiliated"]) == (True, "NORMAL", True)

    # The national node holds every imported person as Guizhou does: their exports are the same bytes.
    exported = {node.region: node.cli("export", "practitioners").stdout for node in (guizhou, national)}
    assert len(exported["520000"].splitlines()) == PEOPLE + 1
    assert exported["000000"] == exported["520000"]
