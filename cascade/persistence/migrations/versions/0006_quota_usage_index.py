"""Quota usage read from an index alone: a project's (or user's) live
servers and their flavors, without visiting the rows of the servers table
(at a million servers a create's quota check counted them row by row).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""
from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = "ix_servers_project_id_deleted_user_id_flavor_id"


def upgrade() -> None:
    op.create_index(NAME, "servers", ["project_id", "deleted", "user_id", "flavor_id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="servers")
