"""Events hold facts in their stable wire form: `type`, version `v`, `fact` (snake_case).

Events written before keep their camelCase payloads and get `v = 0`, which marks that older form. A subject names
a case as `region/case number`, up to 71 characters, so the column grows to 80. Decisions' content hashes are
recomputed over the wire form of the decision, so that a resend of an older decision is still recognised.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("events", "kind", new_column_name="type")
    op.alter_column("events", "payload", new_column_name="fact")
    op.add_column("events", sa.Column("v", sa.SmallInteger(), nullable=False, server_default="0"))
    op.alter_column("events", "v", server_default=None)
    op.alter_column("events", "subject", type_=sa.String(length=80), existing_nullable=False)
    _rehash(_wire_digest)


def downgrade() -> None:
    _rehash(_camel_digest)
    op.alter_column("events", "subject", type_=sa.String(length=64), existing_nullable=False)
    op.drop_column("events", "v")
    op.alter_column("events", "fact", new_column_name="payload")
    op.alter_column("events", "type", new_column_name="kind")


# The digests as each revision computes them, frozen here so that later code changes cannot alter this migration.


def _wire_digest(decision: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    amount = decision["amount_involved"]
    wire = {
        **{k: _iso(v) for k, v in decision.items() if k != "id"},
        "amount_involved": None if amount is None else f"{amount:.2f}",
        "entries": entries,
    }
    text = json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _camel_digest(decision: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    amount = decision["amount_involved"]
    content = {
        "caseNumber": decision["case_number"],
        "regionCode": decision["region_code"],
        "institutionCode": decision["institution_code"],
        "basis": decision["basis"],
        "decidedOn": decision["decided_on"],
        "conductFrom": decision["conduct_from"],
        "conductTo": decision["conduct_to"],
        "behaviour": decision["behaviour"],
        "amountInvolved": None if amount is None else f"{amount:.2f}",
        "entries": entries,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rehash(digest: Callable[[dict[str, Any], list[dict[str, Any]]], str]) -> None:
    conn = op.get_bind()
    entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(
        sa.text(
            "SELECT decision_id, practitioner_code, points, responsibility, suspension_months FROM point_records "
            "ORDER BY decision_id, practitioner_code"
        )
    ).mappings():
        entries[row["decision_id"]].append({k: v for k, v in row.items() if k != "decision_id"})
    decisions = conn.execute(
        sa.text(
            "SELECT id, case_number, region_code, institution_code, basis, decided_on, conduct_from, conduct_to, "
            "behaviour, amount_involved FROM decisions"
        )
    ).mappings()
    for decision in decisions.all():
        conn.execute(
            sa.text("UPDATE decisions SET content_hash = :hash WHERE id = :id"),
            {"hash": digest(dict(decision), entries[decision["id"]]), "id": decision["id"]},
        )
