"""Identity: the cascade's service account, validation of tenants' tokens,
and the middlewares that put a `RequestContext` on every request.

    service_auth   ServiceAuth (own token and catalog), IdentityUnavailable
    tokens         TokenValidator (cached GET /v3/auth/tokens)
    middleware     request_id_middleware, identity_middleware
"""
from cascade.identity.middleware import identity_middleware, is_public, new_request_id, request_id_middleware
from cascade.identity.service_auth import EndpointNotFound, IdentityUnavailable, ServiceAuth, v3_url
from cascade.identity.tokens import TokenValidator

__all__ = [
    "EndpointNotFound", "IdentityUnavailable", "ServiceAuth", "TokenValidator", "identity_middleware",
    "is_public", "new_request_id", "request_id_middleware", "v3_url",
]
