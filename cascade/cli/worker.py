"""`cascade worker --config FILE`: job workers alone, beside any number of
`cascade serve` processes over the same database (set `[jobs] run_in_api =
false` there to keep the API processes free of jobs)."""
from __future__ import annotations

import argparse
import asyncio
import signal

from cascade import config
from cascade.runtime import Runtime


def register(sub) -> None:
    p = sub.add_parser("worker", help="run job workers (no API)")
    p.add_argument("--config", default="cascade.conf", help="path of cascade.conf")
    p.add_argument("--concurrency", type=int, help="jobs run at once (default: [jobs] concurrency)")
    p.set_defaults(func=run)


async def work_forever(settings: config.Settings, *, concurrency: int | None = None) -> None:
    rt = await Runtime.start(settings, background=False, worker=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        rt.start_worker(concurrency=concurrency)
        print("ready", flush=True)
        await stop.wait()
    finally:
        await rt.stop()


def run(args: argparse.Namespace) -> int:
    asyncio.run(work_forever(config.load(args.config), concurrency=args.concurrency))
    return 0
