"""Project sites: which sites hold a project's servers, so that a tenant's
server list asks only those; filled from the projection already there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_sites",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "site_id", name="pk_project_sites"),
    )
    op.execute("INSERT INTO project_sites (project_id, site_id) "
               "SELECT DISTINCT project_id, site_id FROM servers WHERE NOT deleted")


def downgrade() -> None:
    op.drop_table("project_sites")
