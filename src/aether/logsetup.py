"""Logging set-up with an env-filter style spec: `info,aether.fanout=debug`."""

from __future__ import annotations

import logging
import sys

LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "off": logging.CRITICAL + 10,
}


def parse_filter(spec: str) -> tuple[int, dict[str, int]]:
    """Parse `LEVEL[,logger=LEVEL...]` into a default level and per-logger levels."""
    default = logging.INFO
    per_logger: dict[str, int] = {}
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        name, sep, level_name = part.rpartition("=")
        level = LEVELS.get(level_name.strip().lower())
        if level is None:
            raise ValueError("LEVEL[,logger=LEVEL...] with levels " + "/".join(LEVELS))
        if sep:
            if not name.strip():
                raise ValueError("logger=LEVEL with a logger name")
            per_logger[name.strip()] = level
        else:
            default = level
    return default, per_logger


def setup_logging(spec: str) -> None:
    default, per_logger = parse_filter(spec)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(default)
    for name, level in per_logger.items():
        logging.getLogger(name).setLevel(level)
    # aiohttp's access log is one line per request; keep it out of `info`.
    if "aiohttp.access" not in per_logger:
        logging.getLogger("aiohttp.access").setLevel(max(default, logging.WARNING))
