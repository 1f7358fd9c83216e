"""The exception tree of the cascade. No HTTP here: `api.faults` turns these
into each service's own error body and status code.

    CascadeError
    ├── BadRequest            the request itself is wrong (body, query, reference)
    ├── NotAuthenticated      no token, or a token Keystone refuses
    ├── Forbidden             authenticated but not allowed (policy, locked)
    ├── NotFound              no such resource visible to this project
    ├── Conflict              the resource's state forbids it right now
    ├── NotAcceptable         a microversion the cascade or the site cannot honour
    ├── OverLimit             quota or capacity exhausted
    ├── NotImplementedYet     an API the cascade does not serve (yet)
    ├── SiteUnavailable       the site that must do the work is down, open-circuit or timed out
    │   └── SiteUnreachable   ...and nothing of the request reached it (refused, open circuit)
    └── SiteError             a site answered with an error that is relayed to the tenant
"""
from __future__ import annotations


class CascadeError(Exception):
    """Base of every error the cascade raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(CascadeError):
    pass


class NotAuthenticated(CascadeError):
    def __init__(self, message: str = "The request you have made requires authentication.") -> None:
        super().__init__(message)


class Forbidden(CascadeError):
    pass


class NotFound(CascadeError):
    def __init__(self, message: str, *, kind: str | None = None, resource_id: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.resource_id = resource_id


class Conflict(CascadeError):
    pass


class NotAcceptable(CascadeError):
    pass


class OverLimit(CascadeError):
    pass


class NotImplementedYet(CascadeError):
    pass


class SiteUnavailable(CascadeError):
    """The site needed for this request cannot be reached in time.

    `site` is the site's name, kept for logs; tenant-facing text must only use
    the availability zone.
    """

    def __init__(self, message: str, *, site: str) -> None:
        super().__init__(message)
        self.site = site


class SiteUnreachable(SiteUnavailable):
    """The site could not be reached and certainly received nothing of the
    request (the connection was refused or never opened, or its breaker is
    open): a create may safely be placed on another site."""


class SiteError(CascadeError):
    """A site answered 4xx/5xx. `status` is the site's status; `message` the
    text of its error body, already scrubbed of bottom ids and site URLs."""

    def __init__(self, message: str, *, status: int, site: str) -> None:
        super().__init__(message)
        self.status = status
        self.site = site
