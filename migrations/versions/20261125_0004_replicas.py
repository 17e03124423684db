"""replicas: facts carry their origin and origin seq; periods and affiliation ends derived; sanction history

Every fact table gains `origin` and `origin_seq` (the issuing node and the fact's place in its log), which order a
person's facts the same way on every node. Existing rows were issued by this node: they take its recorded region
(000000 if none) and keep their local order as their seq. Deregistrations become facts of their own; an
affiliation keeps what its `affiliation.ended` fact said (`ended_on`) beside its derived end. Derived sanction
changes move out of the fact log into `sanction_changes`. Foreign keys from facts to people and institutions go:
a replica may arrive before the person it names (its origin checked it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 20:52:25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")
ORIGIN_TABLES = ("affiliations", "decisions", "objections", "registrations", "restorations", "reviews")
FOREIGN_KEYS = (
    ("affiliations", "institution_code", "institutions", "code"),
    ("affiliations", "practitioner_code", "practitioners", "code"),
    ("decisions", "institution_code", "institutions", "code"),
    ("point_records", "practitioner_code", "practitioners", "code"),
    ("restorations", "practitioner_code", "practitioners", "code"),
    ("sanctions", "practitioner_code", "practitioners", "code"),
)


def _origin_columns(table: str, order_by: str) -> None:
    op.add_column(table, sa.Column("origin", sa.String(length=6), nullable=True))
    op.add_column(table, sa.Column("origin_seq", sa.BigInteger(), nullable=True))
    op.execute(
        f"""UPDATE {table} t SET origin = coalesce((SELECT value FROM node_settings WHERE key = 'region'), '000000'),
                                 origin_seq = o.n
            FROM (SELECT {order_by} AS k, row_number() OVER (ORDER BY {order_by}) AS n FROM {table}) o
            WHERE t.{order_by} = o.k"""
    )
    op.alter_column(table, "origin", nullable=False)
    op.alter_column(table, "origin_seq", nullable=False)


def upgrade() -> None:
    for table, column, target, _ in FOREIGN_KEYS:
        op.drop_constraint(f"fk_{table}_{column}_{target}", table, type_="foreignkey")
    op.alter_column("objections", "filed_at", new_column_name="recorded_at")
    op.alter_column("objections", "filed_by", new_column_name="recorded_by")
    for table in ORIGIN_TABLES:
        _origin_columns(table, "id")
    _origin_columns("institutions", "code")
    _origin_columns("practitioners", "code")
    op.add_column("practitioners", sa.Column("registered_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE practitioners p SET registered_on = coalesce("
        "(SELECT max(starts_on) FROM registrations r WHERE r.practitioner_code = p.code), current_date)"
    )
    op.alter_column("practitioners", "registered_on", nullable=False)
    op.add_column("affiliations", sa.Column("ended_on", sa.Date(), nullable=True))
    op.execute("UPDATE affiliations SET ended_on = ends_on")
    op.create_table(
        "deregistrations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("practitioner_code", sa.String(length=20), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=6), nullable=False),
        sa.Column("origin_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deregistrations")),
    )
    op.create_index("ix_deregistrations_practitioner", "deregistrations", ["practitioner_code", "ends_on"])
    op.create_table(
        "sanction_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("practitioner_code", sa.String(length=20), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("reregistration_allowed_from", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "change IN ('imposed', 'lengthened', 'shortened', 'superseded', 'reinstated', 'lifted')",
            name=op.f("ck_sanction_changes_change"),
        ),
        sa.CheckConstraint("kind IN ('SUSPENSION', 'TERMINATION')", name=op.f("ck_sanction_changes_kind")),
        sa.CheckConstraint("state IN ('VALID', 'LIFTED', 'SUPERSEDED')", name=op.f("ck_sanction_changes_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanction_changes")),
    )
    op.create_index("ix_sanction_changes_person", "sanction_changes", ["practitioner_code", "id"])


def downgrade() -> None:
    op.drop_index("ix_sanction_changes_person", table_name="sanction_changes")
    op.drop_table("sanction_changes")
    op.drop_index("ix_deregistrations_practitioner", table_name="deregistrations")
    op.drop_table("deregistrations")
    op.drop_column("affiliations", "ended_on")
    op.drop_column("practitioners", "registered_on")
    for table in (*ORIGIN_TABLES, "institutions", "practitioners"):
        op.drop_column(table, "origin_seq")
        op.drop_column(table, "origin")
    op.alter_column("objections", "recorded_by", new_column_name="filed_by")
    op.alter_column("objections", "recorded_at", new_column_name="filed_at")
    for table, column, target, key in FOREIGN_KEYS:
        op.create_foreign_key(f"fk_{table}_{column}_{target}", table, target, [column], [key])
