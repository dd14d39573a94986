"""`POST /encoder` (admin): change the video bitrate while streaming, without dropping a
viewer. Body `{"bitrate_kbps": N}`; the answer is the bitrate now in force.

The change reaches the running encoder at once (each encoder knows its own property and
unit); it lasts until the next restart (set --bitrate for a lasting change).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from aether.errors import ConfigError
from aether.web.keys import VIEWERS

log = logging.getLogger(__name__)

BITRATE_RANGE = (100, 100_000)  # kbit/s, as --bitrate


async def encoder_settings(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text='expected JSON: {"bitrate_kbps": N}') from None
    kbps = body.get("bitrate_kbps") if isinstance(body, dict) else None
    low, high = BITRATE_RANGE
    if isinstance(kbps, bool) or not isinstance(kbps, int) or not low <= kbps <= high:
        raise web.HTTPBadRequest(text=f"bitrate_kbps: an integer from {low} to {high}")
    media = request.app[VIEWERS].media
    try:
        media.encoder.set_bitrate(kbps)
    except ConfigError as exc:  # e.g. --encoder copy has no bitrate to change
        raise web.HTTPConflict(text=str(exc)) from None
    previous, media.target_bitrate = media.target_bitrate, kbps
    log.info("video bitrate %s -> %d kbit/s (admin request)", previous, kbps)
    return web.json_response({"bitrate_kbps": kbps, "previous_kbps": previous})
