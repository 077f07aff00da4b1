"""consent requests: an institution asks a person for consent; the person approves or denies

Revision ID: 0006_consent_requests
Revises: 0005_bulk
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_consent_requests"
down_revision = "0005_bulk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("requester_code", sa.String(length=32), nullable=False),
        sa.Column("requester_unit", sa.String(length=11), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("custodian_code", sa.String(length=32), nullable=False),
        sa.Column("subject_curp", sa.String(length=18), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("data_classes", sa.JSON(), nullable=False),
        sa.Column("data_from", sa.Date(), nullable=True),
        sa.Column("data_until", sa.Date(), nullable=True),
        sa.Column("access_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grant_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["requester_code"], ["institutions.code"]),
        sa.ForeignKeyConstraint(["custodian_code"], ["institutions.code"]),
        sa.ForeignKeyConstraint(["grant_id"], ["access_grants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_consent_requests_subject",
        "consent_requests",
        ["custodian_code", "subject_curp", "state"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_consent_requests_subject", table_name="consent_requests")
    op.drop_table("consent_requests")
