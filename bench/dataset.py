"""A province-sized data set with a fixed seed: institutions and practitioners as the import's CSV, and the
sanctions of ~5% of the practitioners derived by the points engine itself.

    .venv/bin/python bench/dataset.py --people 1000000 --institutions 200000 --out .data/bench/data

Practitioner i has the code D000000001-style `D%09d`, so that pgbench can name one in SQL. Resident IDs are valid
(region, birth date, check character) and unique; names are Chinese, so the import handles UTF-8 throughout.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.validation import check_character

# Counties in several provinces; Beijing (11) and Tianjin (12) have policies of their own.
REGIONS = (
    "110101", "110105", "110108", "120101", "120104", "310101", "310115", "320102", "330106", "370102",
    "420106", "440103", "440305", "510104", "520102", "520201", "530102", "610103", "650102", "130102",
)  # fmt: skip
CATEGORIES = (
    ("PHYSICIAN", 45),
    ("NURSE", 35),
    ("PHARMACIST", 8),
    ("MEDICAL_TECHNICIAN", 6),
    ("THERAPIST", 3),
    ("SETTLEMENT_REVIEWER", 2),
    ("PHARMACY_PRINCIPAL", 1),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏飞建华志强晓东海燕文"
FIRST_BIRTH = date(1960, 1, 1)
BIRTH_DAYS = 14_000  # born 1960-1998


def practitioner_code(i: int) -> str:
    return f"D{i:09d}"


def institution_code(j: int) -> str:
    """H (hospital) for most, P (pharmacy) for every tenth; the 6 digits after the letter are the region."""
    letter = "P" if j % 10 == 0 else "H"
    return f"{letter}{institution_region(j)}{j // len(REGIONS):05d}"


def institution_region(j: int) -> str:
    return REGIONS[j % len(REGIONS)]


def resident_id(i: int) -> str:
    """A valid, unique 18-character resident ID for practitioner i (unique for i below 14,000,000)."""
    born = FIRST_BIRTH + timedelta(days=i % BIRTH_DAYS)
    region = REGIONS[(i // BIRTH_DAYS // 1000) % len(REGIONS)]
    body = f"{region}{born:%Y%m%d}{(i // BIRTH_DAYS) % 1000:03d}"
    return body + check_character(body)


@dataclass(frozen=True)
class Person:
    i: int
    code: str
    region: str
    institutions: tuple[str, ...]
    registered_on: date


def home_institution(i: int, institutions: int) -> int:
    """Practitioner i's first institution: a function of i, so that load generators (wrk, pgbench) can name it."""
    return (i * 7919) % institutions + 1


def people(count: int, institutions: int, seed: int) -> Iterator[Person]:
    """Practitioner 1..count: one to three institutions in one region, registered 2015-2024."""
    rng = random.Random(seed)
    first_day = date(2015, 1, 1)
    for i in range(1, count + 1):
        home = home_institution(i, institutions)
        extra = rng.random()
        n = 1 if extra < 0.85 else 2 if extra < 0.97 else 3
        # Further institutions in the same region: same residue modulo the number of regions.
        others = [(home + len(REGIONS) * rng.randrange(1, 50)) for _ in range(n - 1)]
        codes = tuple(dict.fromkeys(institution_code((j - 1) % institutions + 1) for j in [home, *others]))
        yield Person(
            i, practitioner_code(i), institution_region(home), codes, first_day + timedelta(rng.randrange(3650))
        )


def write_institutions(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("code", "name", "kind", "region_code"))
        for j in range(1, count + 1):
            code = institution_code(j)
            kind = "RETAIL_PHARMACY" if code[0] == "P" else "MEDICAL_INSTITUTION"
            name = f"{'药房' if kind == 'RETAIL_PHARMACY' else '医院'}{j}号"
            w.writerow((code, name, kind, institution_region(j)))


def write_practitioners(path: Path, count: int, institutions: int, seed: int) -> None:
    rng = random.Random(seed + 1)
    names, weights = zip(*CATEGORIES, strict=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("code", "name", "id_number", "category", "region_code", "institution_codes", "registered_on"))
        for p in people(count, institutions, seed):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
            category = rng.choices(names, weights)[0]
            w.writerow((p.code, name, resident_id(p.i), category, p.region, "|".join(p.institutions), p.registered_on))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--institutions", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path(".data/bench/data"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_institutions(args.out / "institutions.csv", args.institutions)
    write_practitioners(args.out / "practitioners.csv", args.people, args.institutions, args.seed)


if __name__ == "__main__":
    main()
