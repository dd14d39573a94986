"""WHEP (draft-ietf-wish-whep): any WebRTC player watches with one HTTP POST.

    POST   /whep          SDP offer (application/sdp) -> 201, SDP answer, Location, ETag
    PATCH  /whep/{id}     trickle ICE (application/trickle-ice-sdpfrag) -> 204
    DELETE /whep/{id}     end the session -> 200
    OPTIONS /whep[/{id}]  CORS preflight; Link headers name the ICE (STUN) servers

The viewer offers, so it chooses the payload types; the peer answers with the stream
numbered its way (fanout/repayload.py) and the answer carries every candidate (the server
does not trickle). Token and address checks are the access middleware's, as for /signal.
Deviations from the draft are listed in docs/whep.md.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from aiohttp import web

from aether.errors import ProtocolError
from aether.logsetup import viewer_log
from aether.peers.offers import AnswerPlan, plan_answer
from aether.peers.registry import Viewers
from aether.peers.sdp import MAX_SDP_BYTES
from aether.peers.viewer import ViewerPeer
from aether.web.access import CLIENT_ADDRESS
from aether.web.keys import CONFIG, VIEWERS

log = logging.getLogger(__name__)

PREFIX = "/whep"
SDP = "application/sdp"
SDPFRAG = "application/trickle-ice-sdpfrag"
ANSWER_TIMEOUT = 10.0  # seconds from POST to a complete answer (ICE gathered)
LIVENESS_INTERVAL = 1.0  # seconds between looks at a connected viewer's RTCP count
# WebRTC receivers send RTCP reports every second or so (RFC 8834: at least every 5 s at
# the lowest rate); this long without one, the viewer is taken for gone.
SILENCE_LIMIT = 10.0
CORS = {
    "Access-Control-Allow-Origin": "*",  # bearer tokens, not cookies: no ambient authority
    "Access-Control-Allow-Methods": "POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Patch",
    "Access-Control-Max-Age": "600",
}
STATUS_FOR_CODE = {
    "bad-sdp": 400,
    "bad-candidate": 400,
    "unexpected": 400,
    "unsupported-codec": 406,
    "server-full": 503,
}


class WhepSession:
    """One WHEP viewer: the observer of its peer (every method runs on the loop)."""

    def __init__(self, viewers: Viewers, sessions: dict[str, WhepSession], timeout: float) -> None:
        self.id = secrets.token_urlsafe(16)
        self.etag = f'"{secrets.token_hex(8)}"'
        self.viewers = viewers
        self.sessions = sessions
        self.timeout = timeout
        self.peer: ViewerPeer | None = None
        self.plan: AnswerPlan | None = None
        self.answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._ended = False
        self._watchdog: asyncio.Task[None] | None = None

    # --- PeerObserver ----------------------------------------------------------------

    def on_local_description(self, sdp: str) -> None:
        if not self.answer.done():
            self.answer.set_result(sdp)

    def on_local_candidate(self, mline: int, candidate: str) -> None:
        pass  # the answer carries them all

    def on_connection_state(self, state: str) -> None:
        if state == "closed":
            self.end("connection closed")

    def on_failure(self, reason: str) -> None:
        if not self.answer.done():
            self.answer.set_exception(ProtocolError("peer-failed", reason))
        self.end(reason)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, offer: str, plan: AnswerPlan, address: str) -> None:
        self.plan = plan
        self.peer = self.viewers.admit(self, address, (offer, plan))
        self.sessions[self.id] = self
        self._watchdog = asyncio.create_task(self._watch(), name=f"whep-{self.id[:6]}")

    async def _watch(self) -> None:
        """End a session that does not connect in time, or whose viewer vanished: with no
        socket to close, a viewer that is gone (no DELETE, no DTLS close) is noticed by
        its RTCP stopping (webrtcbin 1.22 stays `connected` for good)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        heard, heard_at = -1, loop.time()
        while not self._ended and self.peer is not None:
            now = loop.time()
            if self.peer.connected_at is None:
                if now > deadline:
                    self.end("negotiation did not complete in time")
                    return
            elif self.peer.rtcp_received != heard:
                heard, heard_at = self.peer.rtcp_received, now
            elif now - heard_at >= SILENCE_LIMIT:
                self.end(f"no RTCP from the viewer for {now - heard_at:.0f} s: it is gone")
                return
            await asyncio.sleep(LIVENESS_INTERVAL)

    def end(self, reason: str) -> None:
        """Remove the viewer (idempotent); its peer closes in the background."""
        if self._ended:
            return
        self._ended = True
        self.sessions.pop(self.id, None)
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        if self.peer is not None:
            viewer_log(log, self.peer.id).info("WHEP session ended: %s", reason)
            task = asyncio.get_running_loop().create_task(self.viewers.remove(self.peer))
            _background.add(task)
            task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()
SESSIONS = web.AppKey("whep_sessions", dict[str, WhepSession])


def _error(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=headers)


def _ice_links(request: web.Request, with_turn: bool = False) -> str:
    """`Link` headers naming the ICE servers (RFC 9725 section 4.6): STUN always; TURN,
    whose credentials they carry, only in an answer to an authorized POST."""
    ice = request.app[VIEWERS].ice
    links = [f'<{url}>; rel="ice-server"' for url in ice.stun]
    for server in ice.turn if with_turn else ():
        entry = server.browser()
        user, secret = _quoted(entry["username"]), _quoted(entry["credential"])
        links.extend(
            f'<{url}>; rel="ice-server"; username={user}; credential={secret}; '
            'credential-type="password"'
            for url in entry["urls"]
        )
    return ", ".join(links)


def _quoted(text: str) -> str:
    """An HTTP quoted-string (RFC 9110 section 5.6.4)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _read_body(request: web.Request, content_type: str) -> str | web.Response:
    if request.content_type != content_type:
        return _error(415, f"Content-Type must be {content_type}")
    if (request.content_length or 0) > MAX_SDP_BYTES:
        return _error(413, f"body larger than {MAX_SDP_BYTES} bytes")
    body = await request.content.read(MAX_SDP_BYTES + 1)
    if len(body) > MAX_SDP_BYTES:
        return _error(413, f"body larger than {MAX_SDP_BYTES} bytes")
    try:
        return body.decode()
    except UnicodeDecodeError:
        return _error(400, "body is not UTF-8 text")


async def post_offer(request: web.Request) -> web.StreamResponse:
    body = await _read_body(request, SDP)
    if isinstance(body, web.Response):
        return body
    viewers = request.app[VIEWERS]
    address = request.get(CLIENT_ADDRESS, request.remote or "unknown")
    session = WhepSession(viewers, request.app[SESSIONS], request.app[CONFIG].negotiation_timeout)
    try:
        plan = plan_answer(body, viewers.media.stream_profile, viewers.media.has_audio)
        session.start(body, plan, address)
        answer = await asyncio.wait_for(asyncio.shield(session.answer), ANSWER_TIMEOUT)
    except ProtocolError as exc:
        session.end(exc.code)
        log.info("WHEP offer from %s refused: %s (%s)", address, exc, exc.code)
        extra = {"Retry-After": "5"} if exc.code == "server-full" else {}
        return _error(STATUS_FOR_CODE.get(exc.code, 500), str(exc), **extra)
    except TimeoutError:
        session.end("no answer in time")
        return _error(500, f"no answer within {ANSWER_TIMEOUT:.0f} s")
    headers = {
        "Location": f"{PREFIX}/{session.id}",
        "ETag": session.etag,
        "Accept-Patch": SDPFRAG,
    }
    if links := _ice_links(request, with_turn=True):
        headers["Link"] = links
    return web.Response(status=201, text=answer, content_type=SDP, headers=headers)


def _session(request: web.Request) -> WhepSession:
    session = request.app[SESSIONS].get(request.match_info["session"])
    if session is None:
        raise web.HTTPNotFound(text="no such WHEP session (ended or never existed)\n")
    return session


async def patch_session(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if_match = request.headers.get("If-Match")
    if if_match is not None and if_match.strip() not in ("*", session.etag):
        return _error(412, "If-Match does not name this session's ICE session (ETag)")
    body = await _read_body(request, SDPFRAG)
    if isinstance(body, web.Response):
        return body
    assert session.peer is not None and session.plan is not None
    try:
        fragment = parse_sdpfrag(body)
        if fragment.restarts(session.plan):
            return _error(422, "ICE restart is not supported: end this session, start another")
        for mid, index, candidate in fragment.candidates:
            mline = session.plan.index_of_mid(mid) if mid is not None else index
            if mline is None:
                raise ProtocolError("bad-candidate", f"no media section with mid {mid!r}")
            session.peer.add_candidate(mline, candidate)
    except ProtocolError as exc:
        return _error(STATUS_FOR_CODE.get(exc.code, 400), str(exc))
    return web.Response(status=204)


async def delete_session(request: web.Request) -> web.StreamResponse:
    _session(request).end("viewer ended the session (DELETE)")
    return web.Response(status=200)


async def options(request: web.Request) -> web.StreamResponse:
    headers = {"Accept-Post": SDP, "Allow": "POST, PATCH, DELETE, OPTIONS"}
    if links := _ice_links(request):
        headers["Link"] = links
    return web.Response(status=204, headers=headers)


async def add_cors(request: web.Request, response: web.StreamResponse) -> None:
    """Every /whep response, errors included, so players on other origins read them."""
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        response.headers.update(CORS)


async def _end_sessions(app: web.Application):  # type: ignore[no-untyped-def]
    app[SESSIONS] = {}
    yield
    for session in list(app[SESSIONS].values()):
        session.end("server shutting down")
    if _background:
        await asyncio.gather(*_background, return_exceptions=True)


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_end_sessions)
    app.on_response_prepare.append(add_cors)
    app.router.add_post(PREFIX, post_offer)
    app.router.add_route("OPTIONS", PREFIX, options)
    app.router.add_patch(PREFIX + "/{session}", patch_session)
    app.router.add_delete(PREFIX + "/{session}", delete_session)
    app.router.add_route("OPTIONS", PREFIX + "/{session}", options)


# --- trickle-ice-sdpfrag (RFC 8840), pure ------------------------------------------------


class SdpFragment:
    def __init__(self) -> None:
        self.ufrag: str | None = None
        self.pwd: str | None = None
        self.candidates: list[tuple[str | None, int, str]] = []  # (mid, m-line, candidate)

    def restarts(self, plan: AnswerPlan) -> bool:
        """New ICE credentials: the viewer asks for an ICE restart."""
        return (self.ufrag is not None and self.ufrag != plan.ice_ufrag) or (
            self.pwd is not None and self.pwd != plan.ice_pwd
        )


def parse_sdpfrag(text: str) -> SdpFragment:
    fragment = SdpFragment()
    index, mid = -1, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise ProtocolError("bad-candidate", f"not an SDP fragment line: {line[:40]!r}")
        if line.startswith("m="):
            index, mid = index + 1, None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        elif line.startswith("a=ice-ufrag:"):
            fragment.ufrag = line[len("a=ice-ufrag:") :]
        elif line.startswith("a=ice-pwd:"):
            fragment.pwd = line[len("a=ice-pwd:") :]
        elif line.startswith("a=candidate:"):
            fragment.candidates.append((mid, max(index, 0), line[2:]))
    return fragment
