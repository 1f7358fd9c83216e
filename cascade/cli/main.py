"""The `cascade` command: serve, worker, site, job, demo, config."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from cascade.cli import demo, job, serve, site, worker


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cascade", description="Many OpenStack clouds served as one.")
    p.add_argument("--debug", action="store_true", help="log at debug level")
    sub = p.add_subparsers(dest="command", required=True)
    serve.register(sub)
    site.register(sub)
    demo.register(sub)
    job.register(sub)
    worker.register(sub)
    config = sub.add_parser("config", help="configuration helpers")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    sample = config_sub.add_parser("sample", help="print a sample cascade.conf with every option "
                                                   "(etc/cascade.conf.sample is its output)")
    sample.set_defaults(func=_print_sample)
    return p


def _print_sample(args: argparse.Namespace) -> int:
    from cascade.config import sample
    sys.stdout.write(sample())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else getattr(logging, os.environ.get("CASCADE_LOG", "WARNING")),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
