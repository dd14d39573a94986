"""Command line: `aether serve [options]`. Every option also reads an AETHER_* variable."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from aether import __version__
from aether.config import SETTINGS, Config, load_config
from aether.errors import AetherError
from aether.logsetup import setup_logging

log = logging.getLogger("aether")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aether",
        description="Low-latency screen and audio streaming to any browser over WebRTC.",
    )
    parser.add_argument("--version", action="version", version=f"aether {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="capture, encode and serve the stream",
        description="Capture, encode once and serve the stream to browsers over WebRTC. "
        "Each option can also be set with the environment variable shown.",
    )
    defaults = Config()
    for setting in SETTINGS:
        default = getattr(defaults, setting.field)
        if isinstance(default, tuple):
            default = ",".join(default) or "none"
        env = setting.env + (f" or {setting.env_fallback}" if setting.env_fallback else "")
        serve.add_argument(
            setting.flag,
            dest=setting.field,
            metavar=setting.metavar or setting.field.upper(),
            default=None,
            help=f"{setting.help} [env {env}; default {default}]",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 2
    flags = {s.field: getattr(args, s.field) for s in SETTINGS}
    try:
        config = load_config(flags, os.environ)
    except AetherError as exc:
        print(f"aether: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log)
    try:
        return asyncio.run(_serve(config))
    except AetherError as exc:  # StartupError carries its fix in str(exc)
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - SIGINT before handlers are installed
        return 130


async def _serve(config: Config) -> int:
    from aether.server import serve  # imports GStreamer; keep --help fast and light

    return await serve(config)
