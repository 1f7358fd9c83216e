"""Typed settings, read once from an INI file (`cascade.conf`) and passed
explicitly to whatever needs them. No global state.

Every option is declared once below, with its type, default and help; the
sample file is generated from these declarations (`cascade config sample`).
"""
from __future__ import annotations

import configparser
import dataclasses
import pathlib
import textwrap
from typing import Any


def _opt(default: Any, help: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class DefaultSection:
    listen: str = _opt("127.0.0.1:8780", "host:port the API listens on")
    reuse_port: bool = _opt(False, "let several `cascade serve` processes of this host listen on the same "
                                   "address (SO_REUSEPORT): the kernel spreads connections among them")
    public_url: str = _opt("", "URL tenants reach the cascade at; empty means the request's own host")
    state_dir: str = _opt(".", "directory for the embedded database and other local state")
    requests_in_progress: int = _opt(100, "tenant API requests one process works on at once; more wait their "
                                          "turn in order of arrival (the admin API never waits)")


@dataclasses.dataclass(frozen=True)
class DatabaseSection:
    connection: str = _opt("sqlite:///cascade.sqlite", "SQLAlchemy URL; relative SQLite paths are under state_dir")


@dataclasses.dataclass(frozen=True)
class KeystoneSection:
    auth_url: str = _opt("http://127.0.0.1:5000/v3", "the shared Keystone")
    username: str = _opt("admin", "service user (needs the admin role)")
    password: str = _opt("password", "service user's password")
    project_name: str = _opt("admin", "service user's project")
    user_domain_name: str = _opt("Default", "")
    project_domain_name: str = _opt("Default", "")
    region_name: str = _opt("Cascade", "region the cascade's own endpoints are registered under")
    token_cache_seconds: int = _opt(300, "how long a validated token is trusted without asking Keystone again")


@dataclasses.dataclass(frozen=True)
class SitesSection:
    connect_timeout: float = _opt(2.0, "seconds to open a connection to a site")
    request_timeout: float = _opt(30.0, "deadline of one call to a site")
    list_deadline: float = _opt(5.0, "deadline of one site's part of a fanned-out list")
    probe_interval: float = _opt(5.0, "seconds between health probes of each site")
    failure_threshold: int = _opt(3, "consecutive failures that open a site's circuit breaker")
    open_seconds: float = _opt(10.0, "how long an open breaker refuses calls before a trial call")
    pool_size: int = _opt(100, "connections per site")
    probe_deadline: float = _opt(3.0, "deadline of one health probe; a site that does not answer within it is down")
    recovery_seconds: float = _opt(30.0, "after a site comes back, how long placements take to ramp back up to "
                                         "its full share")


@dataclasses.dataclass(frozen=True)
class ComputeSection:
    max_limit: int = _opt(1000, "largest page a list answers, as Nova's [api]max_limit")
    list_concurrency: int = _opt(24, "server lists one process builds at once; more wait their turn (a "
                                     "1,000-row page holds several MB while it is built)")
    max_microversion: str = _opt("2.104", "highest compute microversion the cascade serves")


@dataclasses.dataclass(frozen=True)
class JobsSection:
    """The job engine: rows in the database leased by workers. `cascade serve`
    runs one worker in the API process unless `run_in_api` is off, and
    `cascade worker` runs workers alone."""
    run_in_api: bool = _opt(True, "run a worker inside each `cascade serve` process")
    concurrency: int = _opt(4, "jobs one worker runs at once")
    poll_interval: float = _opt(1.0, "seconds an idle worker waits before looking for due jobs again")
    lease_seconds: float = _opt(30.0, "how long a worker's claim on a job lasts without a heartbeat; a job "
                                      "whose worker died is taken over once its lease ends")
    max_attempts: int = _opt(8, "attempts before a job is marked failed")
    backoff_base: float = _opt(1.0, "seconds before the first retry; each retry waits twice as long")
    backoff_max: float = _opt(300.0, "longest wait between two attempts")
    retention: float = _opt(86400.0, "seconds finished jobs are kept before they are purged")


@dataclasses.dataclass(frozen=True)
class SyncSection:
    """Status sync: the cached projection of servers follows the sites."""
    changes_period: float = _opt(10.0, "seconds between two polls of a site for servers changed "
                                       "(changes-since): the longest a status change takes to show")
    sweep_period: float = _opt(3600.0, "seconds between two full sweeps of a site (every server), which "
                                       "catch what changes-since cannot show and find orphans; a sweep "
                                       "reads every server (about 2.3 s of CPU per 10,000)")
    page_size: int = _opt(1000, "servers asked of a site per page")
    concurrency: int = _opt(8, "sync jobs (polls, sweeps) one worker runs at once, in slots of their own "
                               "beside [jobs] concurrency")
    deleted_retention: float = _opt(86400.0, "seconds a deleted server's route is kept (changes-since "
                                             "lists and instance actions still show it) before it is purged")


@dataclasses.dataclass(frozen=True)
class QuotaSection:
    """The cascade's global quotas (Nova's [quota] options and defaults): the
    default limits of every project, which os-quota-sets and os-quota-class-sets
    override. -1 is unlimited."""
    instances: int = _opt(10, "servers per project")
    cores: int = _opt(20, "vCPUs per project")
    ram: int = _opt(51200, "MiB of RAM per project")
    metadata_items: int = _opt(128, "metadata items per server")
    injected_files: int = _opt(5, "files injected into a server (personality, before 2.57)")
    injected_file_content_bytes: int = _opt(10240, "bytes of one injected file's content")
    injected_file_path_length: int = _opt(255, "characters of one injected file's path")
    key_pairs: int = _opt(100, "key pairs per user")
    server_groups: int = _opt(10, "server groups per project")
    server_group_members: int = _opt(10, "servers per server group")
    reservation_expire: int = _opt(600, "seconds a create or resize in flight holds its reservation "
                                        "if its process dies before releasing it")


@dataclasses.dataclass(frozen=True)
class Settings:
    DEFAULT: DefaultSection = dataclasses.field(default_factory=DefaultSection)
    database: DatabaseSection = dataclasses.field(default_factory=DatabaseSection)
    keystone: KeystoneSection = dataclasses.field(default_factory=KeystoneSection)
    sites: SitesSection = dataclasses.field(default_factory=SitesSection)
    compute: ComputeSection = dataclasses.field(default_factory=ComputeSection)
    quota: QuotaSection = dataclasses.field(default_factory=QuotaSection)
    jobs: JobsSection = dataclasses.field(default_factory=JobsSection)
    sync: SyncSection = dataclasses.field(default_factory=SyncSection)

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path resolved under state_dir."""
        url = self.database.connection
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            url = prefix + str(pathlib.Path(self.DEFAULT.state_dir, url[len(prefix):]).resolve())
        return url


def _convert(value: str, to: type) -> Any:
    if to is bool:
        return value.strip().lower() in ("1", "true", "yes", "on")
    return to(value)


def load(path: str | pathlib.Path) -> Settings:
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path):
        raise FileNotFoundError(f"configuration file {path} not found")
    sections = {}
    for section in dataclasses.fields(Settings):
        cls = _SECTION_TYPES[section.name]
        values = {}
        for option in dataclasses.fields(cls):
            source = parser.defaults() if section.name == "DEFAULT" else (
                parser[section.name] if parser.has_section(section.name) else {})
            if option.name in source:
                default_type = type(option.default)
                values[option.name] = _convert(source[option.name], default_type)
        sections[section.name] = cls(**values)
    return Settings(**sections)


def override(settings: Settings, assignments: list[str]) -> Settings:
    """Settings with `section.option=value` assignments applied (e.g. from
    `cascade demo --option sites.list_deadline=2`); a ValueError names a bad one."""
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        section, _, option = name.strip().partition(".")
        cls = _SECTION_TYPES.get(section)
        fields = {f.name: f for f in dataclasses.fields(cls)} if cls else {}
        if not sep or option not in fields:
            raise ValueError(f"not an option assignment: {assignment!r} (use section.option=value)")
        current = getattr(settings, section)
        typed = _convert(value, type(fields[option].default))
        settings = dataclasses.replace(settings, **{section: dataclasses.replace(current, **{option: typed})})
    return settings


_TYPE_NAMES = {bool: "boolean", int: "integer", float: "floating point", str: "string"}


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=77, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)


def sample() -> str:
    """The sample configuration, generated from the declarations above, in
    the layout of OpenStack's samples: each option commented out at its
    default, after its help and type. etc/cascade.conf.sample is this text."""
    lines = ["# cascade.conf: every option with its default.", "# Generated by `cascade config sample`.", ""]
    for section in dataclasses.fields(Settings):
        cls = _SECTION_TYPES[section.name]
        lines += [f"[{section.name}]", ""]
        if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):   # a written docstring
            lines += _comment(" ".join(cls.__doc__.split())) + [""]
        for option in dataclasses.fields(cls):
            help_text = option.metadata.get("help") or ""
            lines += _comment(f"{help_text} ({_TYPE_NAMES[type(option.default)]} value)".strip())
            lines += [f"#{option.name} = {option.default}".rstrip(), ""]
    return "\n".join(lines)


def write(settings: Settings, path: str | pathlib.Path) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    for section in dataclasses.fields(Settings):
        values = {k: str(v) for k, v in dataclasses.asdict(getattr(settings, section.name)).items()}
        if section.name == "DEFAULT":
            parser.defaults().update(values)
        else:
            parser[section.name] = values
    with open(path, "w") as f:
        parser.write(f)


_SECTION_TYPES = {
    "DEFAULT": DefaultSection,
    "database": DatabaseSection,
    "keystone": KeystoneSection,
    "sites": SitesSection,
    "compute": ComputeSection,
    "quota": QuotaSection,
    "jobs": JobsSection,
    "sync": SyncSection,
}
