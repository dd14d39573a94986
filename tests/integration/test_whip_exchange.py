"""A real `aether serve --whip-url` against a scripted WHIP endpoint in this process: what
the requests carry, redirects, Retry-After, and the DELETE of a session that failed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiohttp import web

from tests.helpers import ServerProcess, free_port

TOKEN = "integration-whip-token-1234"
# Parses, but offers nothing the publisher can use: set_answer refuses it.
UNUSABLE_ANSWER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: str
    at: float


@dataclass
class ScriptedIngest:
    """Answers each POST with the next scripted response; records every request."""

    script: list[web.Response]
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body,
                              time.monotonic()))  # fmt: skip
        if request.method == "DELETE":
            return web.Response(status=200)
        if not self.script:
            return web.Response(status=503, text="script over", headers={"Retry-After": "30"})
        return self.script.pop(0)


@contextlib.contextmanager
def scripted_ingest(script: list[web.Response]) -> Iterator[tuple[ScriptedIngest, str]]:
    """The ingest on its own loop in a thread: the main thread's loop may belong to
    Playwright (a browser fixture of another test module still alive)."""
    ingest = ScriptedIngest(script)
    port = free_port()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ingest.handle)
    runner = web.AppRunner(app, access_log=None)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    ready = threading.Event()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the scripted ingest did not start")
    try:
        yield ingest, f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def wait_until(predicate: object, timeout: float, what: str, server: ServerProcess) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{server.output()}")
        time.sleep(0.1)


def test_requests_redirects_retry_after_and_delete() -> None:
    script = [
        web.Response(status=503, text="busy, come back", headers={"Retry-After": "3"}),
        web.Response(status=307, headers={"Location": "/moved/here"}),  # for this attempt
        web.Response(
            status=201,
            text=UNUSABLE_ANSWER,
            content_type="application/sdp",
            headers={"Location": "resource/42"},  # relative to /moved/here
        ),
    ]
    with scripted_ingest(script) as (ingest, base):
        server = ServerProcess(
            "--source", "test", "--audio", "test", "--width", "320", "--height", "240",
            "--fps", "15", "--bitrate", "300", "--whip-url", f"{base}/whip/live",
            env={"AETHER_WHIP_TOKEN": TOKEN},
        )  # fmt: skip
        with server:
            wait_until(lambda: any(s.method == "DELETE" for s in ingest.seen), 30,
                       "the DELETE of the refused session", server)  # fmt: skip
            # The reason is logged once the session is torn down, after its DELETE.
            wait_until(lambda: "SDP answer is unusable" in server.output(), 10,
                       "the refused session's reason in the log", server)  # fmt: skip
            with urllib.request.urlopen(server.url + "/stats", timeout=5) as response:
                publisher = json.loads(response.read())["publisher"]
        log = server.output()

    posts = [s for s in ingest.seen if s.method == "POST"]
    assert [p.path for p in posts[:3]] == ["/whip/live", "/whip/live", "/moved/here"]
    for post in posts:
        assert post.headers["Content-Type"] == "application/sdp"  # exactly, no charset
        assert post.headers["Authorization"] == f"Bearer {TOKEN}"
        assert post.body.startswith("v=0") and "m=video" in post.body
        assert "a=sendonly" in post.body
    assert posts[2].body == posts[1].body  # the redirect kept the offer
    assert posts[1].at - posts[0].at >= 2.9  # Retry-After: 3 was honoured
    delete = next(s for s in ingest.seen if s.method == "DELETE")
    assert delete.path == "/moved/resource/42"  # Location resolved against the moved URL
    assert delete.headers["Authorization"] == f"Bearer {TOKEN}"

    assert "redirects to" in log
    assert "HTTP 503: the ingest is unavailable for now (busy, come back)" in log
    assert "SDP answer is unusable" in log
    assert publisher["attempts"] >= 2 and publisher["sessions"] == 0
    assert publisher["url"] == f"{base}/whip/live"
    assert TOKEN not in log and TOKEN not in json.dumps(publisher)
