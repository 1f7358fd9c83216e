"""Server groups: the top groups and their members.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "server_groups",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("rules", JSON, nullable=False),
        sa.Column("site_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_server_groups"),
    )
    op.create_index("ix_server_groups_project_id", "server_groups", ["project_id"])

    op.create_table(
        "server_group_members",
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("server_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "server_id", name="pk_server_group_members"),
        sa.ForeignKeyConstraint(["group_id"], ["server_groups.id"], ondelete="CASCADE",
                                name="fk_server_group_members_group_id_server_groups"),
    )
    op.create_index("ix_server_group_members_server_id", "server_group_members", ["server_id"])


def downgrade() -> None:
    op.drop_table("server_group_members")
    op.drop_index("ix_server_groups_project_id", table_name="server_groups")
    op.drop_table("server_groups")
