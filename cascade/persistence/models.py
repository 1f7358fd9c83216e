"""The cascade's tables, declared once. The Alembic migrations under
`migrations/versions` create exactly these; the typed query modules beside
this one (`sites.py`, `servers.py`, ...) are the only code that reads them,
except `routing.table`, the one owner of `routes`.

Timestamps are stored as UTC and always read back timezone-aware, on SQLite as
on PostgreSQL.
"""
from __future__ import annotations

import datetime
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Text,
                        UniqueConstraint, false)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class UTCDateTime(TypeDecorator[datetime.datetime]):
    """A datetime stored as naive UTC and returned aware, whatever the backend keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime.datetime], dialect: Dialect) -> Optional[datetime.datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime.datetime], dialect: Dialect) -> Optional[datetime.datetime]:
        if value is None:
            return None
        return value.replace(tzinfo=datetime.timezone.utc)


# JSONB on PostgreSQL (compact, comparable), JSON text elsewhere
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

UUID_LEN = 36
ID_LEN = 255


class Base(DeclarativeBase):
    # constraint names fixed here so that migrations can name them on every backend
    metadata = MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })
    type_annotation_map = {datetime.datetime: UTCDateTime, dict[str, Any]: JSONDocument}


class SiteRow(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    availability_zone: Mapped[str] = mapped_column(String(255), unique=True)
    region_name: Mapped[str] = mapped_column(String(255))
    auth_url: Mapped[str] = mapped_column(String(1024))
    auth: Mapped[dict[str, Any]]
    endpoints: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    health: Mapped[str] = mapped_column(String(16))
    compute_min_version: Mapped[str] = mapped_column(String(16))
    compute_max_version: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[dict[str, Any]]
    position: Mapped[int] = mapped_column(Integer, unique=True)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RouteRow(Base):
    __tablename__ = "routes"
    __table_args__ = (
        UniqueConstraint("kind", "site_id", "bottom_id"),
        Index(None, "kind", "project_id"),
        Index(None, "site_id"),
    )

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    top_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    # no cascade: a site that still has routes cannot be deleted by accident
    site_id: Mapped[str] = mapped_column(
        String(UUID_LEN), ForeignKey("sites.id"), primary_key=True)
    bottom_id: Mapped[Optional[str]] = mapped_column(String(ID_LEN))
    project_id: Mapped[Optional[str]] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ServerRow(Base):
    """The cached projection of one top server, as last seen in its site."""

    __tablename__ = "servers"
    __table_args__ = (
        Index(None, "project_id", "created_at"),
        Index(None, "site_id"),
        Index(None, "site_id", "deleted"),
        Index(None, "project_id", "deleted", "user_id", "flavor_id"),   # quota usage, from the index alone
    )

    top_id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(UUID_LEN))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    task_state: Mapped[Optional[str]] = mapped_column(String(64))
    flavor_id: Mapped[str] = mapped_column(String(ID_LEN))
    image_id: Mapped[Optional[str]] = mapped_column(String(ID_LEN))
    # the server's timestamps exactly as Nova wrote them, and parsed for sorting
    created: Mapped[str] = mapped_column(String(64))
    updated: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime]
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # when status sync last wrote what the site said of it (None: never yet)
    synced_at: Mapped[Optional[datetime.datetime]]


class ProjectSiteRow(Base):
    """That a project has (or had) servers in a site: the sites a tenant's
    server list asks. Written with every projection row, never removed but
    with its site."""

    __tablename__ = "project_sites"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)


class FlavorRow(Base):
    __tablename__ = "flavors"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    vcpus: Mapped[int]
    ram: Mapped[int]
    disk: Mapped[int]
    ephemeral: Mapped[int] = mapped_column(default=0)
    swap: Mapped[int] = mapped_column(default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[Optional[str]] = mapped_column(Text)
    extra_specs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# names are unique among live flavors only: a deleted flavor's name may be taken again
Index("uq_flavors_live_name", FlavorRow.name, unique=True,
      sqlite_where=FlavorRow.deleted == false(), postgresql_where=FlavorRow.deleted == false())


class FlavorAccessRow(Base):
    __tablename__ = "flavor_access"

    flavor_id: Mapped[str] = mapped_column(
        String(ID_LEN), ForeignKey("flavors.id"), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class KeypairRow(Base):
    __tablename__ = "keypairs"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class ImageRow(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    owner: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    name: Mapped[Optional[str]] = mapped_column(String(255))
    checksum: Mapped[Optional[str]] = mapped_column(String(32))
    # (owner, name, checksum) folded into one never-null value, because a
    # unique constraint treats NULLs as distinct on both backends
    identity_key: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuotaRow(Base):
    """A project's limit on one resource; with a user id, that user's limit
    inside the project ("" is the project's own row)."""

    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, default="", server_default="")
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int]
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuotaClassRow(Base):
    """A quota class's limit on one resource; class "default" overrides the
    configured defaults of every project."""

    __tablename__ = "quota_classes"

    class_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int]
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuotaReservationRow(Base):
    """Resources claimed by a create or resize still in flight, counted as
    used until it ends (or, if its process died, until `expires_at`)."""

    __tablename__ = "quota_reservations"
    __table_args__ = (Index(None, "project_id"),)

    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    deltas: Mapped[dict[str, Any]]
    expires_at: Mapped[datetime.datetime]
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class QuotaLockRow(Base):
    """One row per project, written first by every quota check that reserves:
    its row lock (PostgreSQL) or the write lock (SQLite) serialises them."""

    __tablename__ = "quota_locks"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    touched_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class QuotaResizeRow(Base):
    """The flavor a server had before a resize not yet confirmed or
    reverted: a revert is charged back to it."""

    __tablename__ = "quota_resizes"

    server_id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    old_flavor_id: Mapped[str] = mapped_column(String(ID_LEN))
    new_flavor_id: Mapped[str] = mapped_column(String(ID_LEN))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class ServerGroupRow(Base):
    """A top server group. Each site its members run in holds a bottom group
    of the same policy (a `server_group` route per site)."""

    __tablename__ = "server_groups"
    __table_args__ = (Index(None, "project_id"),)

    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str] = mapped_column(String(32))
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the one site an affinity group's members run in, while it has members
    site_id: Mapped[Optional[str]] = mapped_column(String(UUID_LEN))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class ServerGroupMemberRow(Base):
    __tablename__ = "server_group_members"
    __table_args__ = (Index(None, "server_id"),)

    group_id: Mapped[str] = mapped_column(
        String(UUID_LEN), ForeignKey("server_groups.id", ondelete="CASCADE"), primary_key=True)
    server_id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class JobRow(Base):
    """One job: work a worker leases, runs, retries with backoff, and ends.
    A journal entry is a job begun already leased by the process doing the
    work inline; if that process dies, its lease ends and a worker runs the
    kind's recovery."""

    __tablename__ = "jobs"
    __table_args__ = (Index(None, "state", "run_after"), Index(None, "kind", "state"))

    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # at most one unfinished job per key (see uq_jobs_live_key below)
    key: Mapped[Optional[str]] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    run_after: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[Optional[str]] = mapped_column(String(255))
    lease_expires_at: Mapped[Optional[datetime.datetime]]
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    result: Mapped[Optional[dict[str, Any]]]
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[Optional[datetime.datetime]]


_LIVE_JOB = JobRow.state.in_(("queued", "running"))
Index("uq_jobs_live_key", JobRow.key, unique=True, sqlite_where=_LIVE_JOB, postgresql_where=_LIVE_JOB)


class SiteSyncRow(Base):
    """Where the status sync of one site stands: the site's own timestamp to
    ask changes-since from next, and when it last polled and swept."""

    __tablename__ = "site_sync"

    site_id: Mapped[str] = mapped_column(
        String(UUID_LEN), ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    changes_since: Mapped[Optional[str]] = mapped_column(String(64))
    polled_at: Mapped[Optional[datetime.datetime]]
    swept_at: Mapped[Optional[datetime.datetime]]
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
