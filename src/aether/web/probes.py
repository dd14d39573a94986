"""`GET /health` (liveness: the process answers) and `GET /ready` (readiness: frames flow).

Both are open to every client, so probes need no secret; neither reveals the source.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

from aiohttp import web

from aether.fanout.pipeline import MediaPipeline
from aether.telemetry import readiness
from aether.web.keys import VIEWERS

NO_STORE = {"Cache-Control": "no-store"}


def probe(media: MediaPipeline) -> readiness.Readiness:
    state = readiness.check(media.state(), media.meter.age())
    if media.source_state == "lost":
        # Public endpoint: the why (display name, feed address) is in /stats, for admins.
        return dataclasses.replace(state, ready=False, reason="video source lost; reopening it")
    return state


async def health(_request: web.Request) -> web.Response:
    return web.Response(text="ok", headers=NO_STORE)


async def ready(request: web.Request) -> web.Response:
    state = probe(request.app[VIEWERS].media)
    return web.json_response(state.as_dict(), status=200 if state.ready else 503, headers=NO_STORE)


async def watch_readiness(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: log when the stream stops being ready and when it recovers."""
    media = app[VIEWERS].media
    task = asyncio.create_task(readiness.watch(lambda: probe(media)), name="readiness-watch")
    yield
    task.cancel()
