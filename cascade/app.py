"""Builds the web application: one aiohttp app with each front mounted under
its path (`/compute`, `/image`, `/cascade`), the shared middlewares (request
id, error bodies, admission, identity), and the runtime opened on start-up and closed
on shutdown."""
from __future__ import annotations

from aiohttp import web

from cascade.api import admin, compute, image
from cascade.api.admission import admission_middleware
from cascade.api.faults import faults_middleware
from cascade.config import Settings
from cascade.identity import identity_middleware, request_id_middleware
from cascade.runtime import RUNTIME_KEY, Runtime


def is_public(request: web.Request) -> bool:
    """Version documents answer without a token, as in OpenStack."""
    path = request.path.rstrip("/")
    return request.method in ("GET", "HEAD") and path in (
        "", "/compute", "/compute/v2", "/compute/v2.1", "/image", "/image/versions", "/cascade", "/cascade/v1")


class _LateValidator:
    """The runtime (and its validator) exists only once the app has started."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def validate(self, token: str):
        return await self._app[RUNTIME_KEY].validator.validate(token)


def build_app(settings: Settings, *, runtime: Runtime | None = None, background: bool = True) -> web.Application:
    app = web.Application(client_max_size=1024 ** 2 * 4)

    async def open_runtime(app: web.Application):
        rt = runtime or await Runtime.start(settings, background=background)
        app[RUNTIME_KEY] = rt
        yield
        if runtime is None:
            await rt.stop()

    app.cleanup_ctx.append(open_runtime)
    app.middlewares.append(request_id_middleware)
    app.middlewares.append(faults_middleware)
    app.middlewares.append(admission_middleware(lambda request: request.app[RUNTIME_KEY].request_turns,
                                                exempt=is_public))
    app.middlewares.append(identity_middleware(_LateValidator(app), public=is_public))
    app.add_subapp("/compute", compute.build_app())
    app.add_subapp("/image", image.build_app())
    app.add_subapp("/cascade", admin.build_app())
    return app
