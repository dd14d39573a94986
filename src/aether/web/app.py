"""The aiohttp application: player page, static files, probes, stats and signaling."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from aether.config import Config
from aether.peers.registry import Viewers
from aether.publish.rtpforward import RtpForwarding
from aether.signaling.session import handle_signal
from aether.web import whep
from aether.web.access import ACCESS, AccessControl, access_middleware
from aether.web.control import encoder_settings
from aether.web.keys import CONFIG, FORWARDING, STARTED_AT, VIEWERS
from aether.web.metrics import metrics
from aether.web.pages import STATIC, csp, inline_page
from aether.web.probes import health, ready, watch_readiness
from aether.web.stats import stats

# The pages load only their own scripts and styles; media arrives over WebRTC.
SECURITY_HEADERS = {
    "Content-Security-Policy": csp(),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The page, its scripts and styles inlined (web/pages.py), built once."""
    built = inline_page(name)
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": built.csp}

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(text=built.html, content_type="text/html", headers=headers)

    return handler


def static_file(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_request: web.Request) -> web.Response:
        body = (STATIC / name).read_text(encoding="utf-8")
        return web.Response(
            text=body,
            content_type=content_type,
            headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
        )

    return handler


async def no_icon(_request: web.Request) -> web.Response:
    """Browsers ask for it by themselves; without a token that would count as a failed
    attempt and lead to back-off. There is no icon: 204."""
    return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})


def create_app(
    config: Config,
    viewers: Viewers,
    access: AccessControl,
    forwarding: RtpForwarding | None = None,
) -> web.Application:
    app = web.Application(middlewares=[access_middleware])
    app[CONFIG] = config
    app[VIEWERS] = viewers
    app[ACCESS] = access
    app[FORWARDING] = forwarding or RtpForwarding(viewers.media, ())
    app[STARTED_AT] = time.monotonic()
    app.cleanup_ctx.append(watch_readiness)
    app.router.add_get("/", page("index.html"))
    # The operator page loads without a token; the figures it fetches (/stats) need admin.
    app.router.add_get("/admin", page("admin.html"))
    app.router.add_get("/health", health)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/ready", ready)
    app.router.add_get("/signal", handle_signal)
    app.router.add_get("/stats", stats)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/encoder", encoder_settings)
    app.router.add_get("/player.js", static_file("player.js", "text/javascript"))
    app.router.add_get("/player.css", static_file("player.css", "text/css"))
    for script in ("charts.js", "overlay.js", "admin.js"):
        app.router.add_get(f"/{script}", static_file(script, "text/javascript"))
    app.router.add_get("/admin.css", static_file("admin.css", "text/css"))
    whep.setup(app)
    return app
