"""Per-request facts a compute handler needs: who asks (the token), at which
microversion, under which request id, and the URLs links are built from
(taken from the request's own Host, never configured)."""
from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

from aiohttp import web

from simcloud.nova.microversion import Version
from simcloud.tokens import TokenInfo

REQUEST_ID_KEY = web.RequestKey("simcloud.request_id", str)


@dataclasses.dataclass(frozen=True)
class ComputeContext:
    token: TokenInfo
    version: Version
    request_id: str
    origin: str            # "http://127.0.0.1:8774"

    @property
    def is_admin(self) -> bool:
        return self.token.is_admin

    @property
    def project_id(self) -> str:
        return self.token.project_id or ""

    @property
    def user_id(self) -> str:
        return self.token.user_id

    @property
    def base(self) -> str:
        return f"{self.origin}/compute/v2.1"

    @property
    def bookmark_base(self) -> str:
        return f"{self.origin}/compute"

    def links(self, collection: str, ident: str) -> list[dict]:
        return [{"rel": "self", "href": f"{self.base}/{collection}/{ident}"},
                {"rel": "bookmark", "href": f"{self.bookmark_base}/{collection}/{ident}"}]

    def bookmark(self, collection: str, ident: str) -> list[dict]:
        return [{"rel": "bookmark", "href": f"{self.bookmark_base}/{collection}/{ident}"}]

    def next_link(self, request: web.Request, collection: str, marker: str) -> list[dict]:
        """Nova's `*_links`: the query sorted, one value per name (the last),
        and the new marker in place of the old one or last."""
        params = dict(sorted(request.query.items()))
        params["marker"] = marker
        return [{"rel": "next", "href": f"{self.base}/{collection}?{urlencode(params)}"}]


CONTEXT_KEY = web.RequestKey("simcloud.nova.context", ComputeContext)


def ctx(request: web.Request) -> ComputeContext:
    return request[CONTEXT_KEY]
