"""Fuzz /signal with random and mutated messages while a real Chromium viewer watches.

Every message a fuzzing client sends is judged against an oracle built from the same pure
checks the server uses (protocol.parse_client_message, sdp.check_answer,
sdp.candidate_is_plausible, session.FATAL_CODES) plus what this connection has done so far
(offer received, answer applied). After each message that should get a reply and leave the
session open, the client sends a sentinel `ping` and reads up to its `pong`, so every reply
in between belongs to that message; a message that should end the session (a valid `bye`,
a frame over 1 MiB, a text frame that is not UTF-8) is judged by the session's end, and the
next message goes over a new connection. Meanwhile the legitimate viewer must keep
decoding, and the server must survive and clean up after every session.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from aether.errors import ProtocolError
from aether.peers.sdp import candidate_is_plausible, check_answer
from aether.signaling.protocol import Answer, Bye, Candidate, Ping, parse_client_message
from aether.signaling.session import FATAL_CODES, WS_HARD_LIMIT
from tests.e2e.conftest import decoded, open_player, stats, wait_for
from tests.helpers import ServerProcess, run_async
from tests.sdp_samples import ANSWER, ANSWER_LINES

pytestmark = pytest.mark.e2e

SERVER_ARGS = ("--source", "test", "--audio", "test", "--width", "320", "--height", "240",
               "--fps", "15", "--bitrate", "300", "--max-message-rate", "1000")  # fmt: skip
MEDIA_SECTIONS = 2  # video and audio
FUZZ_SECONDS = 30.0  # examples after this are skipped, to bound the run time
RECEIVE_TIMEOUT = 10.0

# Every `error` code the server may send on /signal (docs/signaling.md, section 4).
KNOWN_CODES = frozenset({
    "too-large", "bad-json", "bad-message", "unknown-type", "unsupported-version", "bad-sdp",
    "unsupported-codec", "bad-candidate", "unexpected", "rate-limited", "server-full",
    "timeout", "peer-failed", "unauthorized", "forbidden",
})  # fmt: skip
# Errors that end a session on the server's initiative, unrelated to the message just sent.
SERVER_ENDINGS = frozenset({"peer-failed", "timeout"})

# A candidate in the test namespace's address range; nothing listens on its port.
CANDIDATE = "candidate:1 1 udp 2122260223 10.213.0.1 40000 typ host generation 0"


# --- frames and what the server must do with them ---------------------------------------


class Frame:
    """One WebSocket frame: text, binary, or a text frame whose payload is not UTF-8.

    Not a dataclass, so that Hypothesis reports a failing example through this __repr__,
    which shortens megabyte payloads.
    """

    def __init__(self, data: str | bytes, opcode: str = "text") -> None:
        self.data = data
        self.opcode = opcode  # text | binary | bad-utf8

    def __repr__(self) -> str:
        if len(self.data) <= 300:
            return f"Frame({self.data!r}, {self.opcode!r})"
        return f"Frame({self.data[:300]!r} ... ({len(self.data)} long), {self.opcode!r})"


def text(message: Any) -> Frame:
    return Frame(json.dumps(message))


@dataclass(frozen=True)
class Expect:
    kind: str  # error | pong | bye | close
    codes: frozenset[str] = frozenset()  # error: acceptable codes
    silent_ok: bool = False  # error: no reply at all is also right (message accepted)
    applies_answer: bool = False  # silence means the answer was applied
    value: Any = None  # pong: the id; bye: the reason; close: acceptable close codes


def error(*codes: str, silent_ok: bool = False, applies_answer: bool = False) -> Expect:
    return Expect("error", frozenset(codes), silent_ok, applies_answer)


@dataclass
class Conn:
    ws: aiohttp.ClientWebSocketResponse
    offer: str
    answered: bool = False
    ended: bool = False


def expected(frame: Frame, conn: Conn) -> Expect:
    """The oracle: what the server must reply to this frame on this connection."""
    if frame.opcode == "binary":
        return error("bad-message")
    if frame.opcode == "bad-utf8":
        return Expect("close", value={WSCloseCode.INVALID_TEXT})
    assert isinstance(frame.data, str)
    if len(frame.data.encode()) > WS_HARD_LIMIT:
        # aiohttp refuses the frame from its header and closes with 1009 while the rest of
        # the payload is still unread, so the client may see the connection reset instead.
        return Expect("close", value={WSCloseCode.MESSAGE_TOO_BIG, WSCloseCode.ABNORMAL_CLOSURE})
    try:
        message = parse_client_message(frame.data)
    except ProtocolError as exc:
        return error(exc.code)
    except (RecursionError, ValueError):
        # Valid JSON that Python's json cannot load (nesting deeper than the recursion
        # limit, integers of more than 4300 digits): the viewer must still get an error.
        return error("bad-json", "bad-message")
    if isinstance(message, Ping):
        return Expect("pong", value=message.id)
    if isinstance(message, Bye):
        return Expect("bye", value=message.reason or "viewer said bye")
    if isinstance(message, Answer):
        if conn.answered:
            return error("unexpected")
        try:
            check_answer(conn.offer, message.sdp)
        except ProtocolError as exc:
            return error(exc.code)
        # Passed the pure checks; GStreamer's own SDP parser may still refuse it.
        return error("bad-sdp", silent_ok=True, applies_answer=True)
    assert isinstance(message, Candidate)
    if not message.candidate:
        return error(silent_ok=True)  # end of candidates: accepted, ignored
    if not candidate_is_plausible(message.candidate):
        return error("bad-candidate")
    if not 0 <= message.sdp_mline_index < MEDIA_SECTIONS:
        return error("bad-candidate")
    if not conn.answered:
        return error("unexpected")
    return error(silent_ok=True)  # handed to webrtcbin


# --- the fuzzing client ------------------------------------------------------------------


@dataclass
class Tally:
    frames: int = 0
    connections: int = 0
    codes: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.codes[what] = self.codes.get(what, 0) + 1


async def receive(ws: aiohttp.ClientWebSocketResponse, what: str) -> aiohttp.WSMessage:
    try:
        return await ws.receive(timeout=RECEIVE_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"no reply within {RECEIVE_TIMEOUT} s while waiting {what}") from None


async def connect(session: aiohttp.ClientSession, url: str, tally: Tally) -> Conn:
    ws = await session.ws_connect(url, protocols=("aether.v1",), max_msg_size=0)
    tally.connections += 1
    first = json.loads((await receive(ws, "for welcome")).data)
    assert first["type"] == "welcome", first
    while True:  # the offer follows once media reaches the new viewer's webrtcbin
        msg = await receive(ws, "for the offer")
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == "offer":
            return Conn(ws, offer=data["sdp"])
        assert data["type"] == "ice", data


async def send(conn: Conn, frame: Frame) -> None:
    if frame.opcode == "binary":
        assert isinstance(frame.data, bytes)
        await conn.ws.send_bytes(frame.data)
    elif frame.opcode == "bad-utf8":
        assert isinstance(frame.data, bytes)
        await conn.ws.send_frame(frame.data, aiohttp.WSMsgType.TEXT)
    else:
        assert isinstance(frame.data, str)
        await conn.ws.send_str(frame.data)


async def exchange(
    conn: Conn, frame: Frame, expect: Expect, sentinel: str
) -> tuple[list[dict[str, Any]], int | None]:
    """Send the frame, and a sentinel ping unless the frame should end the session; return
    the error/pong/bye replies before the sentinel's pong, and the close code if it closed."""
    await send(conn, frame)
    if expect.kind in ("error", "pong"):
        await conn.ws.send_str(json.dumps({"type": "ping", "id": sentinel}))
    replies: list[dict[str, Any]] = []
    while True:
        msg = await receive(conn.ws, f"for replies to {frame!r}")
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):  # fmt: skip
            conn.ended = True
            return replies, conn.ws.close_code
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        kind = data.get("type")
        if kind == "pong" and data.get("id") == sentinel:
            return replies, None
        if kind in ("error", "pong", "bye"):
            replies.append(data)
        else:  # the server's own ice and state messages arrive at any time
            assert kind in ("ice", "state"), data


def judge(frame: Frame, expect: Expect, conn: Conn, replies: list[dict[str, Any]],
          close: int | None, tally: Tally) -> None:  # fmt: skip
    context = f"{frame!r} -> replies {replies}, close code {close}; expected {expect}"
    for reply in replies:
        if reply["type"] == "error":
            assert reply["code"] in KNOWN_CODES, context
            assert isinstance(reply.get("message"), str), context
            assert reply["code"] != "rate-limited", context
    ending = [r for r in replies if r["type"] == "error" and r["code"] in SERVER_ENDINGS]
    if ending:
        # The server ended the session on its own (say webrtcbin refused the answer it was
        # given): its error and bye may replace the reply to this frame.
        if ending[0]["code"] == "peer-failed":
            assert conn.answered or expect.applies_answer, context
        # Our sentinel may still be unread when the server closes: then the bye and the
        # close frame can be lost to the connection reset.
        if replies[-1].get("type") == "bye":
            assert set(replies[-1]) == {"type", "reason"}, context
            assert close in (WSCloseCode.OK, WSCloseCode.ABNORMAL_CLOSURE), context
        else:
            assert close == WSCloseCode.ABNORMAL_CLOSURE, context
        tally.count("ended:" + ending[0]["code"])
        return
    if not replies and close == WSCloseCode.ABNORMAL_CLOSURE and conn.answered:
        # The same ending (ICE fails on the answer applied earlier) while a large frame of
        # ours was still unread: the reset can swallow the error and bye as well.
        tally.count("ended:reset")
        return
    if expect.kind == "close":
        assert not replies and close in expect.value, context
        tally.count(f"close:{close}")
    elif expect.kind == "bye":
        assert replies == [{"type": "bye", "reason": expect.value}], context
        assert close == WSCloseCode.OK, context
        tally.count("bye")
    elif expect.kind == "pong":
        assert replies == [{"type": "pong", "id": expect.value}], context
        assert close is None, context
        tally.count("pong")
    elif not replies and expect.silent_ok:
        assert close is None, context
        conn.answered = conn.answered or expect.applies_answer
        tally.count("accepted")
    else:
        assert replies, context
        code = replies[0].get("code")
        assert replies[0]["type"] == "error" and code in expect.codes, context
        if code in FATAL_CODES:  # the session cannot succeed: the server ends it
            assert replies[1:] == [{"type": "bye", "reason": code}], context
            assert close in (WSCloseCode.OK, WSCloseCode.ABNORMAL_CLOSURE), context
        else:
            assert len(replies) == 1 and close is None, context
        tally.count(code)


async def throw(url: str, frames: list[Frame], tally: Tally) -> None:
    """Send the frames over as few connections as the server allows, judging each reply."""
    async with aiohttp.ClientSession() as session:
        conn = await connect(session, url, tally)
        try:
            for n, frame in enumerate(frames):
                if conn.ended:
                    await conn.ws.close()
                    conn = await connect(session, url, tally)
                expect = expected(frame, conn)
                replies, close = await exchange(conn, frame, expect, f"\x00sentinel-{n}")
                judge(frame, expect, conn, replies, close, tally)
                tally.frames += 1
        finally:
            await conn.ws.close()


# --- strategies --------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**63, -(2**63), 10**30])
    | st.floats()
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
types = st.sampled_from(["answer", "ice", "bye", "ping", "offer", "welcome", "Answer", "",
                         "unknown", "x" * 100]) | st.text(max_size=10)  # fmt: skip
versions = st.sampled_from([1, 1.0, "1", 2, 0, -1, True, None, 10**20, [1]])
huge_sizes = st.sampled_from([300, 1100, 33_000, 66_000])
TRICKY_SDP_LINES = (
    "m=video 0 UDP/TLS/RTP/SAVPF 96", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=video x RTP 96",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "m=", "a=sendrecv", "a=sendonly",
    "a=inactive", "a=recvonly", "a=mid:video0", "a=ice-ufrag:", "a=fingerprint:", "v=0",
    "v=1", "c=IN IP6 ::", "b=AS:99999999999999999999", "=", "a", "a=", "x=y", " ", "\t",
    "a=group:BUNDLE audio1 video0", "a=rtpmap:96 VP8/90000", "a=ssrc:4294967296 cname:x",
    "a=candidate:1 1 udp 1 10.213.0.1 1 typ host", "a=end-of-candidates",
)  # fmt: skip


@st.composite
def mutated_sdp(draw: st.DrawFn) -> str:
    lines = list(ANSWER_LINES)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["drop", "dup", "garble", "insert", "huge", "swap",
                                   "flip", "truncate"]))  # fmt: skip
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if not lines:
            lines.append(draw(st.text(max_size=20)))
        elif op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "garble":
            line = lines[i]
            start = draw(st.integers(0, len(line)))
            end = draw(st.integers(start, len(line)))
            lines[i] = line[:start] + draw(st.text(max_size=12)) + line[end:]
        elif op == "insert":
            lines.insert(i, draw(st.sampled_from(TRICKY_SDP_LINES) | st.text(max_size=40)))
        elif op == "huge":
            lines[i] = lines[i] + draw(st.sampled_from("A ;:=\u00e9")) * draw(huge_sizes)
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "flip":
            for a, b in (("recvonly", "sendrecv"), (" 9 ", " 0 "), ("video", "audio"),
                         ("audio", "video"), ("96", "97"), ("v=0", "v=00")):  # fmt: skip
                if a in lines[i]:
                    lines[i] = lines[i].replace(a, b, 1)
                    break
        else:
            lines = lines[:i]
    eol = draw(st.sampled_from(["\r\n", "\n", "\r", "\r\n\r\n", " \r\n"]))
    return eol.join(lines) + draw(st.sampled_from([eol, ""]))


@st.composite
def mutated_candidate(draw: st.DrawFn) -> str:
    parts = CANDIDATE.split()
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["drop", "dup", "replace", "garble"]))
        i = draw(st.integers(0, max(0, len(parts) - 1)))
        if not parts:
            parts.append(draw(st.text(max_size=10)))
        elif op == "drop":
            del parts[i]
        elif op == "dup":
            parts.insert(i, parts[i])
        elif op == "replace":
            parts[i] = draw(st.sampled_from([
                "0", "-1", "65536", "4294967296", "99999999999999999999", "::1", "fe80::1%eth0",
                "999.1.1.1", "0.0.0.0", "255.255.255.255", "abcd.local", "tcp", "UDP", "sctp",
                "srflx", "relay", "prflx", "raddr", "tcptype", "passive", "", "candidate:",
                "candidate:" + "9" * 40,
            ]) | st.text(min_size=1, max_size=12))  # fmt: skip
        else:
            parts[i] = parts[i][: draw(st.integers(0, len(parts[i])))] + draw(st.text(max_size=5))
    line = " ".join(parts)
    prefix = draw(st.sampled_from(["", "", "a=", "a=a=", " "]))
    pad = draw(st.sampled_from([0, 0, 0, 1024, 1025]))  # around the 1024 character limit
    if pad:
        line += " x" * ((pad - len(prefix + line)) // 2) + " x"[: (pad - len(prefix + line)) % 2]
    return prefix + line


def without_missing(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not MISSING}


MISSING = object()
maybe = st.just(MISSING)


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of the strategies, chosen with the given relative weights."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


version_field = weighted((6, maybe), (1, st.just(1)), (2, versions))
mline_indexes = weighted(
    (6, st.sampled_from([0, 1])),
    (2, st.sampled_from([2, -1, 2**31 - 1, 2**31, 2**32, 2**63, -(2**63), 10**100])),
    (1, st.integers()),
    (1, json_values),
    (1, maybe),
)
answers = st.builds(
    lambda sdp, v: text(without_missing({"type": "answer", "sdp": sdp, "v": v})),
    weighted((6, mutated_sdp()), (1, json_values), (1, maybe)),
    version_field,
)
candidates = st.builds(
    lambda cand, index, extra: text(without_missing(
        {"type": "ice", "candidate": cand, "sdpMLineIndex": index, **extra})),
    weighted((6, mutated_candidate()), (1, st.none()), (1, st.just("")), (1, json_values),
             (1, maybe)),
    mline_indexes,
    st.fixed_dictionaries({}, optional={"sdpMid": json_values, "usernameFragment": json_values}),
)  # fmt: skip
pings = st.builds(
    lambda ping_id, v: text(without_missing({"type": "ping", "id": ping_id, "v": v})),
    weighted((2, st.integers()), (2, st.text(max_size=20)), (1, json_values), (1, maybe)),
    version_field,
)
byes = st.builds(
    lambda reason, v: text(without_missing({"type": "bye", "reason": reason, "v": v})),
    weighted((1, json_values), (1, st.text(max_size=30)), (1, maybe)),
    version_field,
)
shaped = st.builds(
    text,
    st.fixed_dictionaries(
        {"type": types | json_values},
        optional={name: json_values for name in ("sdp", "candidate", "sdpMLineIndex", "reason",
                                                  "id", "v", "viewer", "state")},
    ),
)  # fmt: skip
json_texts = st.builds(lambda value: Frame(json.dumps(value)), json_values)


@st.composite
def garbled_json(draw: st.DrawFn) -> Frame:
    """A valid message with characters deleted, replaced or inserted."""
    raw = json.dumps(draw(st.sampled_from([
        {"type": "ping", "id": 7}, {"type": "bye"}, {"type": "answer", "sdp": ANSWER},
        {"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": 0},
    ])))  # fmt: skip
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(raw)))
        end = draw(st.integers(start, min(len(raw), start + 3)))
        raw = raw[:start] + draw(encodable_text(max_size=3)) + raw[end:]
    return Frame(raw)


def encodable_text(max_size: int) -> st.SearchStrategy[str]:
    """Text a WebSocket text frame can carry (no lone surrogates)."""
    return st.text(st.characters(blacklist_categories=("Cs",)), max_size=max_size)


plain_text = st.builds(Frame, encodable_text(max_size=200))
binaries = st.builds(lambda data: Frame(data, "binary"), st.binary(max_size=200))
huge = st.builds(
    lambda size, message: Frame(json.dumps({**message, "pad": "A" * size})),
    st.sampled_from([60_000, 65_600, 200_000]),
    st.sampled_from([{"type": "ping", "id": 1}, {"type": "answer", "sdp": ANSWER}]),
)

frames = weighted(
    (4, answers), (5, candidates), (2, pings), (1, byes), (2, shaped), (1, json_texts),
    (2, garbled_json()), (1, plain_text), (1, binaries), (1, huge),
)  # fmt: skip


# --- the test ----------------------------------------------------------------------------


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*SERVER_ARGS) as srv:
        yield srv


@dataclass
class Sample:
    at: float
    frames: int
    state: str


def test_fuzzed_signaling_neither_crashes_the_server_nor_disturbs_a_viewer(
    browser: Any, server: ServerProcess
) -> None:
    page = open_player(browser, server.url)
    try:
        tally, samples = fuzz_while_watching(page, server)
        # The server is alive and well, and every fuzzing session has been cleaned up.
        assert server.proc is not None and server.proc.poll() is None, server.output()[-3000:]
        assert http_get(server.url + "/health") == (200, "ok")
        deadline = time.monotonic() + 10
        while (viewers := json.loads(http_get(server.url + "/stats")[1]))["viewers_now"] != 1:
            assert time.monotonic() < deadline, f"fuzz sessions left behind: {viewers}"
            time.sleep(0.2)
        # The legitimate viewer stayed connected (never reconnected) and kept decoding.
        assert viewers["viewers_total"] == tally.connections + 1, (viewers, tally)
        assert all(s.state == "connected" for s in samples), samples
        assert len(samples) >= 5, samples
        for before, after in itertools.pairwise(samples):
            assert after.frames > before.frames, f"viewer stalled: {before} -> {after}"
        elapsed = samples[-1].at - samples[0].at
        assert samples[-1].frames - samples[0].frames >= 15 * elapsed * 0.5, samples
        # The fuzzing reached the interesting places.
        assert tally.frames >= 300, tally
        for outcome in ("bad-json", "bad-message", "unknown-type", "unsupported-version",
                        "bad-sdp", "unsupported-codec", "bad-candidate", "unexpected",
                        "too-large", "accepted", "pong", "bye", "close:1007"):  # fmt: skip
            assert tally.codes.get(outcome, 0) > 0, (outcome, tally)
        assert "Traceback" not in server.output()
        print(f"fuzz: {tally}; viewer decoded {samples[0].frames} -> {samples[-1].frames}")
    finally:
        page.context.close()


def fuzz_while_watching(page: Any, server: ServerProcess) -> tuple[Tally, list[Sample]]:
    """Run the fuzzer against the server, sampling the viewer's stats about once a second."""
    tally = Tally()
    samples: list[Sample] = []

    def sample() -> None:
        now = stats(page) or {}
        samples.append(Sample(time.monotonic(), decoded(now), now.get("state", "none")))

    wait_for(page, lambda s: decoded(s) > 5 and s["state"] == "connected", what="frames")
    sample()
    stop_at = time.monotonic() + FUZZ_SECONDS

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],  # no shrinking against a live server
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large, HealthCheck.large_base_example],
    )  # fmt: skip
    @given(batch=st.lists(frames, min_size=1, max_size=16), answer_first=st.booleans())
    @example(batch=[Frame("A" * (WS_HARD_LIMIT + 1000))], answer_first=False)
    @example(batch=[Frame(b'{"type": "ping\xff"}', "bad-utf8")], answer_first=False)
    @example(
        # exactly at the 64 KiB soft limit, then one byte over it
        batch=[Frame('"' + "a" * (65536 - 2) + '"'), Frame('"' + "a" * (65537 - 2) + '"')],
        answer_first=False,
    )
    @example(
        batch=[
            Frame("{oops"),
            text({"type": "nope"}),
            text({"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": 0}),
            text({"type": "answer", "sdp": ANSWER.replace("v=0", "v=1", 1)}),
            text({"type": "answer", "sdp": ANSWER.replace("m=video 9", "m=video 0", 1)}),
            text({"type": "answer", "sdp": ANSWER}),
            text({"type": "answer", "sdp": ANSWER}),
            text({"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": 1}),
            text({"type": "ice", "candidate": "a=" + CANDIDATE, "sdpMLineIndex": 0}),
            text({"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": 2}),
            text({"type": "ice", "candidate": None}),
            text({"type": "ping", "id": True, "v": 1}),
            text({"type": "ping", "v": 2}),
            text({"type": "bye", "reason": "fuzz"}),
            text({"type": "ping"}),
        ],
        answer_first=False,
    )
    def fuzz(batch: list[Frame], answer_first: bool) -> None:
        if time.monotonic() > stop_at:
            return
        if answer_first:
            batch = [text({"type": "answer", "sdp": ANSWER}), *batch]
        run_async(throw(server.ws_url, batch, tally), timeout=60)
        if time.monotonic() - samples[-1].at >= 1.0:
            sample()
        assert server.proc is not None and server.proc.poll() is None, "server died"

    fuzz()
    page.wait_for_timeout(1000)
    sample()
    return tally, samples


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[" * 2000 + "]" * 2000, id="nested-2000-deep"),
        pytest.param('{"type": "ping", "id": ' + "7" * 5000 + "}", id="5000-digit-integer"),
    ],
)
def test_json_that_python_cannot_load_gets_an_error_reply(server: ServerProcess, raw: str) -> None:
    """Small, valid JSON (4-5 KB) that json.loads refuses with RecursionError or a plain
    ValueError rather than JSONDecodeError: the viewer must get an error and carry on."""
    tally = Tally()
    run_async(throw(server.ws_url, [Frame(raw), text({"type": "ping", "id": 1})], tally))
    assert tally.codes in ({"bad-json": 1, "pong": 1}, {"bad-message": 1, "pong": 1}), tally
    assert tally.connections == 1  # the session survived its bad message
