"""Status sync: when the sync last wrote each projected server.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("synced_at", sa.DateTime(), nullable=True))
    op.create_index("ix_servers_site_id_deleted", "servers", ["site_id", "deleted"])


def downgrade() -> None:
    op.drop_index("ix_servers_site_id_deleted", table_name="servers")
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("synced_at")
