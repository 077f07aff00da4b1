"""bulk batch of a credential

Revision ID: 0005_bulk
Revises: 0004_consent
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_bulk"
down_revision = "0004_consent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Which ``credencial-issuer bulk`` batch (output folder) issued a credential: a re-run of the
    # batch with a person's row changed is refused instead of issuing that person twice.
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bulk_batch", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("bulk_batch")
