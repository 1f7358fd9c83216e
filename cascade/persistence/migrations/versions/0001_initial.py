"""The initial schema: sites, routes, the servers projection, flavors and
their access lists, keypairs and images.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamps(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.DateTime(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("availability_zone", sa.String(255), nullable=False),
        sa.Column("region_name", sa.String(255), nullable=False),
        sa.Column("auth_url", sa.String(1024), nullable=False),
        sa.Column("auth", JSON, nullable=False),
        sa.Column("endpoints", JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("compute_min_version", sa.String(16), nullable=False),
        sa.Column("compute_max_version", sa.String(16), nullable=False),
        sa.Column("capacity", JSON, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        *_timestamps("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
        sa.UniqueConstraint("name", name="uq_sites_name"),
        sa.UniqueConstraint("availability_zone", name="uq_sites_availability_zone"),
        sa.UniqueConstraint("position", name="uq_sites_position"),
    )

    op.create_table(
        "routes",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("top_id", sa.String(255), nullable=False),
        sa.Column("site_id", sa.String(36), nullable=False),
        sa.Column("bottom_id", sa.String(255), nullable=True),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        *_timestamps("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("kind", "top_id", "site_id", name="pk_routes"),
        sa.UniqueConstraint("kind", "site_id", "bottom_id", name="uq_routes_kind_site_id_bottom_id"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_routes_site_id_sites"),
    )
    op.create_index("ix_routes_kind_project_id", "routes", ["kind", "project_id"])
    op.create_index("ix_routes_site_id", "routes", ["site_id"])

    op.create_table(
        "servers",
        sa.Column("top_id", sa.String(36), nullable=False),
        sa.Column("site_id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("task_state", sa.String(64), nullable=True),
        sa.Column("flavor_id", sa.String(255), nullable=False),
        sa.Column("image_id", sa.String(255), nullable=True),
        sa.Column("created", sa.String(64), nullable=False),
        sa.Column("updated", sa.String(64), nullable=True),
        *_timestamps("created_at", "updated_at"),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("top_id", name="pk_servers"),
    )
    op.create_index("ix_servers_project_id_created_at", "servers", ["project_id", "created_at"])
    op.create_index("ix_servers_site_id", "servers", ["site_id"])

    op.create_table(
        "flavors",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("ram", sa.Integer(), nullable=False),
        sa.Column("disk", sa.Integer(), nullable=False),
        sa.Column("ephemeral", sa.Integer(), nullable=False),
        sa.Column("swap", sa.Integer(), nullable=False),
        sa.Column("rxtx_factor", sa.Float(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("extra_specs", JSON, nullable=False),
        *_timestamps("created_at"),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_flavors"),
    )
    live = sa.column("deleted") == sa.false()
    op.create_index("uq_flavors_live_name", "flavors", ["name"], unique=True,
                    sqlite_where=live, postgresql_where=live)

    op.create_table(
        "flavor_access",
        sa.Column("flavor_id", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("flavor_id", "project_id", name="pk_flavor_access"),
        sa.ForeignKeyConstraint(["flavor_id"], ["flavors.id"], name="fk_flavor_access_flavor_id_flavors"),
    )

    op.create_table(
        "keypairs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        *_timestamps("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_keypairs"),
        sa.UniqueConstraint("user_id", "name", name="uq_keypairs_user_id_name"),
    )

    op.create_table(
        "images",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("checksum", sa.String(32), nullable=True),
        sa.Column("identity_key", sa.String(64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        *_timestamps("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.UniqueConstraint("identity_key", name="uq_images_identity_key"),
    )
    op.create_index("ix_images_owner", "images", ["owner"])


def downgrade() -> None:
    op.drop_table("images")
    op.drop_table("keypairs")
    op.drop_table("flavor_access")
    op.drop_index("uq_flavors_live_name", table_name="flavors")
    op.drop_table("flavors")
    op.drop_table("servers")
    op.drop_table("routes")
    op.drop_table("sites")
