"""The HTTP face of a simulated Glance v2 (read-only): version documents,
image list and show, with Glance's relative links (`/v2/images/...`), its
filters, sort and `next` pagination, and its webob-style error bodies."""
from __future__ import annotations

import datetime
import json
from urllib.parse import urlencode

from aiohttp import web

from simcloud.glance.store import Image, ImageStore
from simcloud.tokens import TokenInfo, Validator

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 500: "Internal Server Error"}
_SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id",
              "created_at", "updated_at")
_VISIBILITIES = ("community", "public", "private", "shared", "all")
# the list's own parameters; any other names an image property to match
_LIST_PARAMS = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir", "name", "status",
                          "visibility", "owner", "disk_format", "container_format", "id", "tag",
                          "protected", "os_hidden", "size_min", "size_max", "member_status",
                          "created_at", "updated_at", "checksum", "os_hash_value",
                          "changes-since"})
_DEFAULT_LIMIT, _MAX_LIMIT = 25, 1000
# As Glance lists them with multiple stores enabled and no image cache: in
# its own order, the current one in the middle.
_VERSIONS = ("2.15", "2.13", "2.12", "2.11", "2.10", "2.9", "2.8", "2.17", "2.7", "2.6", "2.5",
             "2.4", "2.3", "2.2", "2.1", "2.0")
_CURRENT = "2.17"
STORE = "fs"          # the one (file) store of the simulated Glance
TOKEN_KEY = web.RequestKey("simcloud.glance.token", TokenInfo)
WITHOUT_REQUEST_ID = web.ResponseKey("simcloud.without_request_id", bool)


class GlanceError(Exception):
    def __init__(self, status: int, explanation: str) -> None:
        super().__init__(explanation)
        self.status = status
        self.explanation = explanation


JSON = "application/json"
UNAUTHORIZED = ("This server could not verify that you are authorized to access the document "
                "you requested. Either you supplied the wrong credentials (e.g., bad password), "
                "or your browser does not understand how to supply the credentials required.")


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status,
                        headers={"Content-Type": JSON})


def error_response(request: web.Request, status: int, explanation: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    """What webob renders for Glance: JSON when asked for, HTML otherwise."""
    title = _TITLES.get(status, "Error")
    message = f"{explanation}<br /><br />\n\n\n"
    if "application/json" in request.headers.get("Accept", ""):
        body = json.dumps({"message": message, "code": f"{status} {title}", "title": title})
        content_type = JSON
    else:
        body = (f"<html>\n <head>\n  <title>{status} {title}</title>\n </head>\n <body>\n"
                f"  <h1>{status} {title}</h1>\n  {message}\n </body>\n</html>")
        content_type = "text/html; charset=UTF-8"
    return web.Response(status=status, body=body.encode(),
                        headers={**(headers or {}), "Content-Type": content_type})


def _isotime(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def image_view(image: Image) -> dict:
    view: dict = dict(image.properties)
    view.update({
        "id": image.id, "name": image.name, "status": image.status,
        "visibility": image.visibility, "protected": image.protected,
        "os_hidden": image.os_hidden, "checksum": image.checksum,
        "os_hash_algo": "sha512" if image.os_hash_value else None,
        "os_hash_value": image.os_hash_value, "owner": image.owner, "size": image.size,
        "virtual_size": image.virtual_size, "min_ram": image.min_ram, "min_disk": image.min_disk,
        "disk_format": image.disk_format, "container_format": image.container_format,
        "created_at": _isotime(image.created_at), "updated_at": _isotime(image.updated_at),
        "tags": list(image.tags), "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file", "schema": "/v2/schemas/image",
    })
    if image.status == "active":      # image data in a store
        view["stores"] = STORE
    return view


class _Desc:
    """Inverts the order of a sort value (None first in asc, as SQL does)."""
    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __lt__(self, other: "_Desc") -> bool:
        return _asc_key(other.value) < _asc_key(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and _asc_key(self.value) == _asc_key(other.value)


def _asc_key(value: object) -> tuple:
    return (0, "") if value is None else (1, value)


class GlanceAPI:
    def __init__(self, store: ImageStore, validate: Validator,
                 auth_uri: str | None = None) -> None:
        self.store = store
        self.validate = validate
        self.auth_uri = auth_uri

    def app(self) -> web.Application:
        @web.middleware
        async def glance_middleware(request: web.Request, handler) -> web.StreamResponse:
            return await self._handle(request, handler)
        app = web.Application(middlewares=[glance_middleware])
        app.router.add_get("/", self.root)
        app.router.add_get("/versions", self.versions)
        app.router.add_get("/v2/images", self.list_images)
        app.router.add_get("/v2/images/{image_id}", self.show_image)
        app.router.add_route("*", "/v2/{tail:.*}", self.read_only)
        return app

    async def _handle(self, request: web.Request, handler) -> web.StreamResponse:
        if request.path.rstrip("/") not in ("/image", "/image/versions"):
            token = request.headers.get("X-Auth-Token")
            info = self.validate(token) if token else None
            if info is None:
                return self._unauthorized(request)
            request[TOKEN_KEY] = info
        try:
            return await handler(request)
        except GlanceError as err:
            return error_response(request, err.status, err.explanation)
        except web.HTTPNotFound:
            return error_response(request, 404, "The resource could not be found.")
        except web.HTTPMethodNotAllowed:
            return error_response(request, 405, "The method specified is not allowed.")

    def _unauthorized(self, request: web.Request) -> web.Response:
        """keystonemiddleware's refusal, rendered by webob as Glance's errors are."""
        headers = {"WWW-Authenticate": f'Keystone uri="{self.auth_uri}"'} if self.auth_uri else None
        response = error_response(request, 401, UNAUTHORIZED, headers)
        response[WITHOUT_REQUEST_ID] = True    # refused before Glance's request-id middleware
        return response

    def _versions(self, request: web.Request) -> dict:
        href = f"{request.url.origin()}/image/v2/"
        return {"versions": [
            {"id": f"v{v}", "status": "CURRENT" if v == _CURRENT else "SUPPORTED",
             "links": [{"rel": "self", "href": href}]}
            for v in _VERSIONS]}

    async def root(self, request: web.Request) -> web.Response:
        return json_response(self._versions(request), status=300)

    async def versions(self, request: web.Request) -> web.Response:
        return json_response(self._versions(request))

    async def read_only(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            raise GlanceError(404, "The resource could not be found.")
        raise GlanceError(405, "The method specified is not allowed.")

    async def show_image(self, request: web.Request) -> web.Response:
        token: TokenInfo = request[TOKEN_KEY]
        image_id = request.match_info["image_id"]
        image = self.store.get(image_id)
        if image is None or not self.store.visible(image, token.project_id, token.is_admin):
            raise GlanceError(404, f"No image found with ID {image_id}")
        return json_response(image_view(image))

    async def list_images(self, request: web.Request) -> web.Response:
        token: TokenInfo = request[TOKEN_KEY]
        query = request.query
        limit = _parse_limit(query.get("limit"))
        keys, dirs = _sorting(query)
        candidates = [img for img in self.store.all()
                      if self.store.visible(img, token.project_id, token.is_admin)]
        candidates = [img for img in candidates
                      if _matches(img, query, token.project_id, token.is_admin)]

        def sort_key(img: Image) -> tuple:
            return tuple(_asc_key(_sort_value(img, k)) if d == "asc" else _Desc(_sort_value(img, k))
                         for k, d in zip(keys, dirs))
        candidates.sort(key=sort_key)
        marker = query.get("marker")
        if marker is not None:
            marker_image = self.store.get(marker)
            if marker_image is None or not self.store.visible(
                    marker_image, token.project_id, token.is_admin):
                raise GlanceError(400, f"No image found with ID {marker}")
            after = sort_key(marker_image)
            candidates = [img for img in candidates if after < sort_key(img)]
        page = candidates[:limit]
        params = [(k, v) for k, v in query.items() if k != "marker"]
        body: dict = {"images": [image_view(img) for img in page],
                      "first": "/v2/images" + (f"?{urlencode(params)}" if params else ""),
                      "schema": "/v2/schemas/images"}
        if page and len(page) == limit:
            body["next"] = "/v2/images?" + urlencode(params + [("marker", page[-1].id)])
        return json_response(body)


def _sort_value(image: Image, key: str) -> object:
    """Times compare at whole seconds, as Glance's MySQL columns keep them."""
    value = getattr(image, key)
    return int(value) if key in ("created_at", "updated_at") else value


def _parse_limit(text: str | None) -> int:
    if text is None:
        return _DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        raise GlanceError(400, "limit param must be an integer") from None
    if limit < 0:
        raise GlanceError(400, "limit param must be positive")
    return min(limit, _MAX_LIMIT)


def _sorting(query) -> tuple[list[str], list[str]]:
    keys: list[str] = []
    dirs: list[str] = []
    if "sort" in query:
        if "sort_key" in query or "sort_dir" in query:
            raise GlanceError(400, "Old and new sorting syntax cannot be combined")
        for part in query["sort"].strip().split(","):
            key, _, direction = part.partition(":")
            keys.append(_sort_key(key.strip()))
            dirs.append(_sort_dir((direction or "desc").strip()))
    else:
        keys = [_sort_key(k.strip()) for k in query.getall("sort_key", [])]
        dirs = [_sort_dir(d.strip()) for d in query.getall("sort_dir", [])]
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise GlanceError(400, "Number of sort dirs does not match the number of sort keys")
    keys = keys or ["created_at"]
    default_dir = dirs[0] if len(dirs) == 1 else "desc"
    if len(dirs) <= 1:
        dirs = [default_dir] * len(keys)
    for extra in ("created_at", "id"):
        if extra not in keys:
            keys.append(extra)
            dirs.append(default_dir)
    return keys, dirs


def _sort_key(key: str) -> str:
    if key not in _SORT_KEYS:
        raise GlanceError(400, f"Invalid sort key: {key}. It must be one of the following: "
                               f"{', '.join(_SORT_KEYS)}.")
    return key


def _sort_dir(direction: str) -> str:
    if direction not in ("asc", "desc"):
        raise GlanceError(400, f"Invalid sort direction: {direction}")
    return direction


def _matches(image: Image, query, project_id: str | None, is_admin: bool) -> bool:
    visibility = query.get("visibility")
    if visibility is not None:
        if visibility not in _VISIBILITIES:
            raise GlanceError(400, f"Invalid visibility value: {visibility}")
        if visibility != "all" and image.visibility != visibility:
            return False
    elif image.visibility == "community" and image.owner != project_id:
        return False
    hidden = query.get("os_hidden", "false").lower()
    if hidden not in ("true", "false"):
        raise GlanceError(400, f"Invalid value '{hidden}' for 'os_hidden' filter. "
                               "Valid values are 'true' or 'false'.")
    if image.os_hidden != (hidden == "true"):
        return False
    protected = query.get("protected")
    if protected is not None:
        if protected not in ("true", "false"):
            raise GlanceError(400, f"Invalid value '{protected}' for 'protected' filter. "
                                   "Valid values are 'true' or 'false'.")
        if image.protected != (protected == "true"):
            return False
    for field in ("name", "status", "owner", "disk_format", "container_format", "id"):
        wanted = query.get(field)
        if wanted is not None and _in_filter(wanted) is not None:
            if str(getattr(image, field)) not in _in_filter(wanted):
                return False
        elif wanted is not None and str(getattr(image, field)) != wanted:
            return False
    if "changes-since" in query:
        raise GlanceError(400, 'The "changes-since" filter is no longer available on v2.')
    for tag in query.getall("tag", []):
        if tag not in image.tags:
            return False
    for name, wanted in query.items():
        if name not in _LIST_PARAMS and image.properties.get(name) != wanted:
            return False
    for bound, compare in (("size_min", lambda a, b: a >= b), ("size_max", lambda a, b: a <= b)):
        if bound in query:
            try:
                limit = int(query[bound])
            except ValueError:
                raise GlanceError(400, f"Invalid value for {bound}: {query[bound]}") from None
            if image.size is None or not compare(image.size, limit):
                return False
    return True


def _in_filter(value: str) -> list[str] | None:
    """Glance's `in:a,b` operator."""
    if value.startswith("in:"):
        return [v.strip('"') for v in value[3:].split(",")]
    return None
