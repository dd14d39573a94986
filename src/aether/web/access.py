"""Access control at the HTTP edge: one middleware in front of every route.

Order of checks: client address (allow-list, through trusted proxies) -> public paths ->
WebSocket Origin -> failed-auth back-off -> token and role. `/health` and `/ready` stay
open to every address so liveness and readiness probes need no secret; they reveal only
whether frames flow.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from aether.access.backoff import AuthBackoff
from aether.access.policy import NetworkPolicy, is_loopback_host, origin_allowed
from aether.access.tokens import Role, Token, TokenStore
from aether.config import Config
from aether.signaling import protocol

log = logging.getLogger(__name__)

PROBE_PATHS = frozenset({"/health", "/ready"})  # open even to addresses off the allow-list
# /favicon.ico: browsers ask for it on their own; it must never count as a failed token.
PAGE_PATHS = ("/", "/player.js", "/player.css", "/charts.js", "/overlay.js",
              "/admin", "/admin.js", "/admin.css", "/favicon.ico")  # fmt: skip
PUBLIC_PATHS = frozenset({*PAGE_PATHS, *PROBE_PATHS})
# Paths not listed here (and not public) need the admin role: new endpoints start closed.
REQUIRED_ROLE = {"/signal": Role.VIEW, "/stats": Role.ADMIN, "/metrics": Role.ADMIN,
                 "/whep": Role.VIEW}  # fmt: skip
# Paths under these need the same role as the path itself (/whep/{session}).
ROLE_PREFIXES = ("/whep/",)
# CORS preflights carry no credentials; these paths answer them without a token.
PREFLIGHT_PATHS = ("/whep",)
SUBPROTOCOL = "aether.v1"
TOKEN_SUBPROTOCOL_PREFIX = "aether-token."  # noqa: S105 - a prefix, not a secret

CLIENT_ADDRESS = web.RequestKey("client_address", str)
ROLE = web.RequestKey("role", Role)


class AccessControl:
    def __init__(self, config: Config, generated: tuple[Token, ...] = ()) -> None:
        self.update(config, generated)
        self.backoff = AuthBackoff()

    def update(self, config: Config, generated: tuple[Token, ...] = ()) -> None:
        """Take (new) tokens and address rules; used at start and on reload (SIGHUP)."""
        self.tokens = TokenStore(config.tokens + generated)
        # Tokens are required when configured, and whenever other machines can connect.
        self.required = bool(self.tokens) or not is_loopback_host(config.host)
        self.network = NetworkPolicy(config.allow_ips, config.trusted_proxies)
        self.allowed_origins = config.allowed_origins

    def authenticate(self, request: web.Request) -> Role | None:
        if not self.required:
            return Role.ADMIN
        return self.tokens.check(presented_token(request))


ACCESS = web.AppKey("access", AccessControl)


def required_role(path: str) -> Role:
    for prefix in ROLE_PREFIXES:
        if path.startswith(prefix):
            path = prefix.rstrip("/")
    return REQUIRED_ROLE.get(path, Role.ADMIN)


def needs_generated_token(config: Config) -> bool:
    return not config.tokens and not is_loopback_host(config.host)


def presented_token(request: web.Request) -> str | None:
    """The token from `Authorization: Bearer …` or a WebSocket subprotocol
    `aether-token.…` (browsers cannot set headers on WebSockets). Never from the URL query,
    which ends up in access logs."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    for offered in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        proto = offered.strip()
        if proto.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return proto[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    return None


def is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


async def _deny(request: web.Request, status: int, code: str, message: str) -> web.StreamResponse:
    if is_websocket(request) and request.path == "/signal":
        # Upgrade and say why, so the player can tell the user instead of retrying blindly.
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,))
        await ws.prepare(request)
        await ws.send_json(protocol.error(code, message))
        await ws.send_json(protocol.bye(code))
        await ws.close(code=4000 + status)
        return ws
    if status == 401:
        raise web.HTTPUnauthorized(
            text=message + "\n", headers={"WWW-Authenticate": 'Bearer realm="aether"'}
        )
    raise web.HTTPForbidden(text=message + "\n")


@web.middleware
async def access_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    access = request.app[ACCESS]
    address = access.network.client_address(request.remote, request.headers)
    client = str(address) if address is not None else "unknown"
    request[CLIENT_ADDRESS] = client
    path = request.path
    if path in PROBE_PATHS:
        return await handler(request)
    if not access.network.allowed(address):
        log.info("refused %s %s from %s: address not allowed", request.method, path, client)
        raise web.HTTPForbidden(text="your address is not allowed\n")
    if path in PUBLIC_PATHS:
        return await handler(request)
    if request.method == "OPTIONS" and path.startswith(PREFLIGHT_PATHS):
        return await handler(request)
    # A page on any site may open a WebSocket, or (CORS allowing) POST a WHEP offer, to
    # this server; without a token to ask for, only the Origin tells it apart.
    checked = is_websocket(request) or (not access.required and path.startswith("/whep"))
    if checked and not origin_allowed(
        request.headers.get("Origin"), request.host, request.scheme, access.allowed_origins
    ):
        log.warning("refused %s %s from %s: foreign Origin %r", request.method, path, client,
                    request.headers.get("Origin"))  # fmt: skip
        raise web.HTTPForbidden(text="origin not allowed\n")
    if not access.required and not is_loopback_host(request.url.host or ""):
        # No token on loopback relies on only local pages reaching us. A DNS-rebound name
        # (attacker.example -> 127.0.0.1) would be same-origin: refuse foreign Host names.
        log.warning("refused %s %s from %s: Host %r is not a loopback name", request.method,
                    path, client, request.host)  # fmt: skip
        raise web.HTTPForbidden(
            text="open this server as http://localhost:PORT/ or 127.0.0.1, or configure "
            "tokens to use other host names\n"
        )
    wait = access.backoff.retry_after(client)
    if wait > 0:
        raise web.HTTPTooManyRequests(
            text="too many failed attempts; try again later\n",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    role = access.authenticate(request)
    if role is None:
        access.backoff.failed(client)
        log.info("refused %s %s from %s: no valid token", request.method, path, client)
        return await _deny(request, 401, "unauthorized", "a valid access token is required")
    required = required_role(path)
    if role < required:
        log.info("refused %s %s from %s: %s role, needs %s", request.method, path, client,
                 role, required)  # fmt: skip
        return await _deny(request, 403, "forbidden", f"this needs the {required} role")
    if access.required:
        access.backoff.succeeded(client)
    request[ROLE] = role
    return await handler(request)
