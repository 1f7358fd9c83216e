"""The cascade's own service account at Keystone.

Background work (health probes, status sync, replication) and the validation
of tenants' tokens need a token of the cascade itself: an account with the
admin role, configured in `[keystone]`. keystoneauth1 does the
authentication; it is synchronous, so every call into it runs in a thread and
the asyncio side keeps the answer (an `AccessInfoV3`) and renews it a little
before it expires. Concurrent callers share one renewal.

The same class authenticates with a site's own credentials (a `clouds.yaml`
entry) for sites that do not share the cascade's Keystone and for
`cascade site add` (`ServiceAuth.from_cloud`).
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, Callable, Mapping

from keystoneauth1 import access as ksa_access
from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import loading as ksa_loading
from keystoneauth1 import plugin as ksa_plugin
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

from cascade.config import KeystoneSection
from cascade.errors import CascadeError

LOG = logging.getLogger(__name__)

# auth types of clouds.yaml that have a v3-only equivalent, to skip discovery
_V3_AUTH_TYPES = {"password": "v3password", "token": "v3token",
                  "applicationcredential": "v3applicationcredential"}


class IdentityUnavailable(CascadeError):
    """Keystone cannot be reached or refuses the cascade's own account: the
    cascade cannot tell who is calling, so the front answers 503."""

    def __init__(self, message: str = "The identity service is unavailable.") -> None:
        super().__init__(message)


class EndpointNotFound(CascadeError):
    """The service token's catalog has no such endpoint."""


def v3_url(auth_url: str) -> str:
    """The Identity v3 root for an auth URL given with or without `/v3`."""
    url = auth_url.rstrip("/")
    return url if re.search(r"/v3(\.\d+)?$", url) else url + "/v3"


def _password_plugin(settings: KeystoneSection) -> ksa_plugin.BaseAuthPlugin:
    return v3.Password(
        auth_url=v3_url(settings.auth_url), username=settings.username, password=settings.password,
        user_domain_name=settings.user_domain_name, project_name=settings.project_name,
        project_domain_name=settings.project_domain_name)


def plugin_from_cloud(cloud_config: Mapping[str, Any]) -> ksa_plugin.BaseAuthPlugin:
    """A keystoneauth1 plugin from a cloud's settings (`OpenStackConfig().get_one(name).config`).

    Raises `IdentityUnavailable` with a message naming the missing options,
    never their values.
    """
    auth = dict(cloud_config.get("auth") or {})
    auth_type = cloud_config.get("auth_type") or auth.pop("auth_type", None) or "password"
    auth_type = _V3_AUTH_TYPES.get(auth_type, auth_type)
    if "auth_url" in auth:
        auth["auth_url"] = v3_url(auth["auth_url"])
    try:
        loader = ksa_loading.get_plugin_loader(auth_type)
        known = {option.dest for option in loader.get_options()}
        return loader.load_from_options(**{k: v for k, v in auth.items() if k in known and v is not None})
    except ksa_exc.NoMatchingPlugin:
        raise IdentityUnavailable(f"unsupported auth_type {auth_type!r}") from None
    except ksa_exc.MissingRequiredOptions as exc:
        names = ", ".join(option.dest for option in exc.options)
        raise IdentityUnavailable(f"the cloud's auth settings lack: {names}") from None
    except ksa_exc.OptionError as exc:
        raise IdentityUnavailable(f"the cloud's auth settings are incomplete: {exc}") from None


def catalog_url(access: ksa_access.AccessInfoV3, service_type: str, region_name: str | None,
                interface: str = "public") -> str | None:
    """The URL of a service in a token's catalog, or None."""
    try:
        return access.service_catalog.url_for(service_type=service_type, region_name=region_name,
                                              interface=interface)
    except ksa_exc.EndpointNotFound:
        return None


class ServiceAuth:
    """A cached, self-renewing token of one Keystone account."""

    def __init__(self, settings: KeystoneSection, *, plugin: ksa_plugin.BaseAuthPlugin | None = None,
                 verify: bool | str = True, timeout: float = 10.0, renew_before: float = 120.0,
                 catalog_refresh_seconds: float = 10.0, clock: Callable[[], float] = time.time,
                 account: str = "the cascade's service account") -> None:
        self.settings = settings
        self.account = account      # how messages name this account
        self._plugin = plugin or _password_plugin(settings)
        self._session = ksa_session.Session(auth=self._plugin, verify=verify, timeout=timeout,
                                            user_agent="cascade")
        self._renew_before = renew_before
        self._catalog_refresh_seconds = catalog_refresh_seconds
        self._clock = clock
        self._access: ksa_access.AccessInfoV3 | None = None
        self._fetched_at = float("-inf")
        self._renewal: asyncio.Future[ksa_access.AccessInfoV3] | None = None

    @classmethod
    def from_cloud(cls, cloud_config: Mapping[str, Any], **kwargs: Any) -> "ServiceAuth":
        """The account of a `clouds.yaml` entry (auth, auth_type, region_name, verify, cacert)."""
        auth = cloud_config.get("auth") or {}
        settings = KeystoneSection(auth_url=auth.get("auth_url", ""),
                                   region_name=cloud_config.get("region_name") or "")
        verify = cloud_config.get("cacert") or cloud_config.get("verify", True)
        kwargs.setdefault("account", "the cloud's account")
        return cls(settings, plugin=plugin_from_cloud(cloud_config), verify=verify, **kwargs)

    @property
    def auth_url(self) -> str:
        return v3_url(self.settings.auth_url)

    async def token(self) -> str:
        return (await self.access()).auth_token

    async def access(self) -> ksa_access.AccessInfoV3:
        """The current access info, renewed first when it expires soon."""
        current = self._access
        if current is not None and not self._expires_soon(current):
            return current
        return await self._renew_shared()

    catalog = access  # the name docs/architecture.md gives it: the catalog comes with the access info

    async def renew(self, stale_token: str | None = None) -> ksa_access.AccessInfoV3:
        """Authenticate again, e.g. after a site or Keystone refused `stale_token`.

        When another caller has already replaced `stale_token`, its fresh
        answer is returned instead of authenticating once more.
        """
        current = self._access
        if current is not None and stale_token is not None and current.auth_token != stale_token:
            return current
        return await self._renew_shared()

    async def endpoint_for(self, service_type: str, region_name: str | None = None,
                           interface: str = "public") -> str:
        """The URL of a service from the service token's catalog; on a miss
        the catalog is fetched again (at most every few seconds) in case the
        endpoint was registered since."""
        url = catalog_url(await self.access(), service_type, region_name, interface)
        if url is None and self._clock() - self._fetched_at >= self._catalog_refresh_seconds:
            url = catalog_url(await self._renew_shared(), service_type, region_name, interface)
        if url is None:
            raise EndpointNotFound(f"no {interface} {service_type} endpoint in region {region_name}")
        return url

    def _expires_soon(self, access: ksa_access.AccessInfoV3) -> bool:
        return access.expires.timestamp() - self._clock() <= self._renew_before

    async def _renew_shared(self) -> ksa_access.AccessInfoV3:
        if self._renewal is None:
            self._renewal = asyncio.ensure_future(self._authenticate())
            self._renewal.add_done_callback(self._renewal_done)
        return await asyncio.shield(self._renewal)

    def _renewal_done(self, future: asyncio.Future) -> None:
        self._renewal = None
        if not future.cancelled():
            future.exception()  # retrieved here so that a renewal nobody awaits any more is not reported

    async def _authenticate(self) -> ksa_access.AccessInfoV3:
        try:
            access = await asyncio.to_thread(self._fresh_access)
        except ksa_exc.Unauthorized:
            LOG.error("Keystone at %s refused %s", self.auth_url, self.account)
            raise IdentityUnavailable(f"The identity service refused {self.account}.") from None
        except ksa_exc.ClientException as exc:
            LOG.warning("authentication at %s failed: %s", self.auth_url, type(exc).__name__)
            raise IdentityUnavailable() from None
        self._access = access
        self._fetched_at = self._clock()
        return access

    def _fresh_access(self) -> ksa_access.AccessInfoV3:
        self._plugin.invalidate()
        return self._plugin.get_access(self._session)
