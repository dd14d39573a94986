"""`GET /stats`: what the server and each viewer are doing, as JSON (admin only)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from aether.web.keys import CONFIG, STARTED_AT, VIEWERS


def snapshot(request: web.Request) -> dict[str, Any]:
    config = request.app[CONFIG]
    viewers = request.app[VIEWERS]
    media = viewers.media
    now = time.monotonic()
    return {
        "uptime_s": round(now - request.app[STARTED_AT], 1),
        "source": media.video.describe(),
        "audio": media.audio.describe(),
        "encoder": media.encoder.describe(),
        "width": config.width,
        "height": config.height,
        "fps": config.fps,
        "bitrate_kbps": config.bitrate,
        "frames_encoded": media.frames,
        "keyframes": {"requested": media.keyframes_requested, "sent": media.keyframes_sent},
        "viewers_now": len(viewers),
        "viewers_total": viewers.total_admitted,
        "max_viewers": viewers.max_viewers,
        "viewers": [
            {
                "id": peer.id,
                "address": peer.address,
                "state": peer.state,
                "since_s": round(now - peer.created_at, 1),
                "connected_s": round(now - peer.connected_at, 1) if peer.connected_at else None,
                "queue_overruns": peer.overruns,
                "keyframe_requests": peer.keyframe_requests,
            }
            for peer in viewers
        ],
    }


async def stats(request: web.Request) -> web.Response:
    return web.json_response(snapshot(request), headers={"Cache-Control": "no-store"})
