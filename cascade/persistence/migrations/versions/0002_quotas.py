"""Quotas: per-project (and per-user) limits, quota classes, reservations of
creates and resizes in flight, the per-project lock row, and the old flavor
of servers whose resize is not yet confirmed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamps(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.DateTime(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), server_default="", nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        *_timestamps("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("project_id", "user_id", "resource", name="pk_quotas"),
    )
    op.create_table(
        "quota_classes",
        sa.Column("class_name", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        *_timestamps("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("class_name", "resource", name="pk_quota_classes"),
    )
    op.create_table(
        "quota_reservations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("deltas", JSON, nullable=False),
        *_timestamps("expires_at", "created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_quota_reservations"),
    )
    op.create_index("ix_quota_reservations_project_id", "quota_reservations", ["project_id"])
    op.create_table(
        "quota_locks",
        sa.Column("project_id", sa.String(64), nullable=False),
        *_timestamps("touched_at"),
        sa.PrimaryKeyConstraint("project_id", name="pk_quota_locks"),
    )
    op.create_table(
        "quota_resizes",
        sa.Column("server_id", sa.String(36), nullable=False),
        sa.Column("old_flavor_id", sa.String(255), nullable=False),
        sa.Column("new_flavor_id", sa.String(255), nullable=False),
        *_timestamps("created_at"),
        sa.PrimaryKeyConstraint("server_id", name="pk_quota_resizes"),
    )


def downgrade() -> None:
    op.drop_table("quota_resizes")
    op.drop_table("quota_locks")
    op.drop_index("ix_quota_reservations_project_id", table_name="quota_reservations")
    op.drop_table("quota_reservations")
    op.drop_table("quota_classes")
    op.drop_table("quotas")
