"""`cascade serve --config FILE`: the API (and, by default, its background
loops and a job worker) in one process. Any number of them may serve one
database; with `[DEFAULT] reuse_port` those of one host share one address."""
from __future__ import annotations

import argparse
import asyncio
import gc
import signal

from aiohttp import web

from cascade import config
from cascade.app import build_app


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the cascade API")
    p.add_argument("--config", default="cascade.conf", help="path of cascade.conf")
    p.set_defaults(func=run)


async def start(settings: config.Settings) -> web.AppRunner:
    """Start serving on the configured address; returns the runner to stop it."""
    host, _, port = settings.DEFAULT.listen.rpartition(":")
    runner = web.AppRunner(build_app(settings), access_log=None)
    await runner.setup()
    # What exists once started (modules, the runtime) lives as long as the
    # process: frozen out of the cycle collector's sight, a full collection
    # walks only what requests made. And a young collection waits for 50,000
    # more live containers than there were (CPython counts allocations less
    # frees) instead of 700: a 1,000-row page makes some 20,000 while it is
    # answered and frees them all after, so it no longer sets off dozens of
    # collections that walk it again and again (docs/performance.md).
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    await web.TCPSite(runner, host or "127.0.0.1", int(port), backlog=2048,
                      reuse_port=settings.DEFAULT.reuse_port).start()
    return runner


async def serve_forever(settings: config.Settings, *, on_ready=None) -> None:
    runner = await start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if on_ready is not None:
            await on_ready()
        print("ready", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    asyncio.run(serve_forever(config.load(args.config)))
    return 0
