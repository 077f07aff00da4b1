"""OpenID4VCI offers, access tokens, wallet credentials; presentation challenges and c_nonces

Revision ID: 0003_oid4vci
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_oid4vci"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oid4vci_offers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("tx_code_sha256", sa.String(length=64), nullable=True),
        sa.Column("tx_code_failures", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"]),
        sa.ForeignKeyConstraint(["institution_code"], ["institutions.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_sha256"),
    )
    op.create_table(
        "oid4vci_access_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["offer_id"], ["oid4vci_offers.id"]),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_table(
        "wallet_credentials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("base_credential_id", sa.String(length=64), nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["base_credential_id"], ["credentials.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_wallet_credentials_base", "wallet_credentials", ["base_credential_id"], unique=False
    )
    op.create_table(
        "presentation_challenges",
        sa.Column("challenge_sha256", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("challenge_sha256"),
    )
    op.create_index(
        "ix_presentation_challenges_expiry", "presentation_challenges", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_presentation_challenges_expiry", table_name="presentation_challenges")
    op.drop_table("presentation_challenges")
    op.drop_index("ix_wallet_credentials_base", table_name="wallet_credentials")
    op.drop_table("wallet_credentials")
    op.drop_table("oid4vci_access_tokens")
    op.drop_table("oid4vci_offers")
