"""`GET /metrics`: the /stats snapshot in Prometheus' exposition format (admin only)."""

from __future__ import annotations

from aiohttp import web

from aether.telemetry.prometheus import render
from aether.web.stats import fresh_snapshot


async def metrics(request: web.Request) -> web.Response:
    body, content_type = render(await fresh_snapshot(request), request.headers.get("Accept", ""))
    return web.Response(
        body=body, headers={"Content-Type": content_type, "Cache-Control": "no-store"}
    )
