"""`POST /encoder` (admin): change the video bitrate and frame rate while streaming,
without dropping a viewer. Body `{"bitrate_kbps": N}`, `{"fps": N}` or both; the answer
is what is now in force, with the previous values.

A bitrate reaches the running encoder at once (each encoder knows its own property and
unit). A frame rate changes the source's caps and rebuilds the encode branch (its
keyframe interval and VBV buffer count frames) while the source's frames are held: the
stream pauses for a moment and goes on with a keyframe. Both last until the next restart
(set --bitrate and --fps for a lasting change).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from aether.encode.base import remade
from aether.errors import ConfigError
from aether.web.keys import VIEWERS

log = logging.getLogger(__name__)

BITRATE_RANGE = (100, 100_000)  # kbit/s, as --bitrate
FPS_RANGE = (1, 240)  # as --fps
USAGE = 'expected JSON: {"bitrate_kbps": N, "fps": N} (either or both)'


def _integer(body: dict[str, Any], key: str, low: int, high: int) -> int | None:
    if key not in body:
        return None
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise web.HTTPBadRequest(text=f"{key}: an integer from {low} to {high}")
    return value


async def encoder_settings(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=USAGE) from None
    if not isinstance(body, dict) or not body or set(body) - {"bitrate_kbps", "fps"}:
        raise web.HTTPBadRequest(text=USAGE)
    kbps = _integer(body, "bitrate_kbps", *BITRATE_RANGE)
    fps = _integer(body, "fps", *FPS_RANGE)
    media = request.app[VIEWERS].media
    answer: dict[str, int | None] = {}
    try:
        if fps is not None:
            if media.encoder.name == "copy":
                raise ConfigError("fps", fps, "fixed: --encoder copy passes the feed through")
            bitrate = kbps or media.target_bitrate or media.encoder.config.bitrate
            previous_fps = media.fps
            await media.set_fps(fps, remade(media.encoder, fps=fps, bitrate=bitrate))
            log.info("video frame rate %d -> %d fps (admin request)", previous_fps, fps)
            answer |= {"fps": fps, "previous_fps": previous_fps}
        elif kbps is not None:
            media.encoder.set_bitrate(kbps)
    except ConfigError as exc:  # e.g. --encoder copy, or the source is lost just now
        raise web.HTTPConflict(text=str(exc)) from None
    if kbps is not None:
        previous, media.target_bitrate = media.target_bitrate, kbps
        log.info("video bitrate %s -> %d kbit/s (admin request)", previous, kbps)
        answer = {"bitrate_kbps": kbps, "previous_kbps": previous} | answer
    return web.json_response(answer)
