"""Jobs (the job engine and the journal of multi-step operations) and the
status sync's place in each site.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
LIVE = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_state_run_after", "jobs", ["state", "run_after"])
    op.create_index("ix_jobs_kind_state", "jobs", ["kind", "state"])
    op.create_index("uq_jobs_live_key", "jobs", ["key"], unique=True, sqlite_where=LIVE, postgresql_where=LIVE)

    op.create_table(
        "site_sync",
        sa.Column("site_id", sa.String(36), nullable=False),
        sa.Column("changes_since", sa.String(64), nullable=True),
        sa.Column("polled_at", sa.DateTime(), nullable=True),
        sa.Column("swept_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name="pk_site_sync"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE", name="fk_site_sync_site_id_sites"),
    )


def downgrade() -> None:
    op.drop_table("site_sync")
    op.drop_index("uq_jobs_live_key", table_name="jobs")
    op.drop_index("ix_jobs_kind_state", table_name="jobs")
    op.drop_index("ix_jobs_state_run_after", table_name="jobs")
    op.drop_table("jobs")
