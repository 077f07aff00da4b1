"""consent and judicial-order grants, record store, unit feeds, biometric templates

Revision ID: 0004_consent
Revises: 0003_oid4vci
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_consent"
down_revision = "0003_oid4vci"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_subject_action", "audit_log", ["subject", "action"], unique=False)
    op.create_table(
        "access_grants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_curp", sa.String(length=18), nullable=False),
        sa.Column("grantor", sa.String(length=200), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("presentation", sa.JSON(), nullable=True),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("receipt_list_number", sa.Integer(), nullable=True),
        sa.Column("receipt_index", sa.Integer(), nullable=True),
        sa.Column("notify_subject_after", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["institution_code"], ["institutions.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("institution_code", "receipt_list_number", "receipt_index"),
    )
    op.create_index("ix_access_grants_subject", "access_grants", ["subject_curp"], unique=False)
    op.create_table(
        "judicial_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["grant_id"], ["access_grants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("grant_id", "role"),
    )
    op.create_table(
        "subject_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("subject_curp", sa.String(length=18), nullable=False),
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["grant_id"], ["access_grants.id"]),
        sa.ForeignKeyConstraint(["institution_code"], ["institutions.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_subject_notifications_curp", "subject_notifications", ["subject_curp"], unique=False
    )
    op.create_table(
        "clinical_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("subject_curp", sa.String(length=18), nullable=False),
        sa.Column("data_class", sa.String(length=32), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["institution_code"], ["institutions.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_clinical_records_subject",
        "clinical_records",
        ["institution_code", "subject_curp"],
        unique=False,
    )
    op.create_table(
        "unit_feeds",
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["institution_code"], ["institutions.code"]),
        sa.PrimaryKeyConstraint("institution_code"),
    )
    op.create_table(
        "biometric_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("subject_curp", sa.String(length=18), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("template", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["institution_code"], ["institutions.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("institution_code", "subject_curp", "modality"),
    )


def downgrade() -> None:
    op.drop_table("biometric_templates")
    op.drop_table("unit_feeds")
    op.drop_index("ix_clinical_records_subject", table_name="clinical_records")
    op.drop_table("clinical_records")
    op.drop_index("ix_subject_notifications_curp", table_name="subject_notifications")
    op.drop_table("subject_notifications")
    op.drop_table("judicial_approvals")
    op.drop_index("ix_access_grants_subject", table_name="access_grants")
    op.drop_table("access_grants")
    op.drop_index("ix_audit_log_subject_action", table_name="audit_log")
