"""Logging set-up: an env-filter style spec (`info,aether.fanout=debug`) and two formats.

`human` (default) is one readable line per record; `json` is one JSON object per line for
log shippers. A record about a viewer carries its id as the `viewer` attribute (see
viewer_log): the human format prefixes `viewer N: `, the json format has a `viewer` key.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType

LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "off": logging.CRITICAL + 10,
}
FORMATS = ("human", "json")


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


def viewer_log(logger: logging.Logger, viewer_id: str) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records carry the viewer's id."""
    return logging.LoggerAdapter(logger, {"viewer": viewer_id})


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s",
                         "%H:%M:%S")  # fmt: skip

    def formatMessage(self, record: logging.LogRecord) -> str:
        viewer = getattr(record, "viewer", None)
        if viewer is not None:
            record.message = f"viewer {viewer}: {record.message}"
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message[, viewer]."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        viewer = getattr(record, "viewer", None)
        if viewer is not None:
            entry["viewer"] = str(viewer)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("aether").error("uncaught exception", exc_info=(kind, value, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    name = args.thread.name if args.thread is not None else "?"
    if args.exc_value is None:
        logging.getLogger("aether").error("uncaught %s in thread %s", args.exc_type, name)
        return
    logging.getLogger("aether").error(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def setup_logging(spec: str, log_format: str = "human") -> None:
    default, per_logger = parse_filter(spec)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else HumanFormatter())
    if log_format == "json":
        # Exceptions raised in GStreamer callbacks (PyGObject prints them through
        # sys.excepthook) and in threads become JSON lines too, not raw tracebacks.
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(default)
    for name, level in per_logger.items():
        logging.getLogger(name).setLevel(level)
    # aiohttp's access log is one line per request; keep it out of `info`.
    if "aiohttp.access" not in per_logger:
        logging.getLogger("aiohttp.access").setLevel(max(default, logging.WARNING))
