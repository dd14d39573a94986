"""Per-viewer-encode baseline for bench/fanout.py: an aiortc server that encodes per viewer.

    .venv/bin/python -m bench.aiortc_baseline --port P [--codec h264|vp8]

Bench-only (aiortc is not a dependency of Aether; bench/fanout.py pip-installs it into .venv
when it is missing). It speaks the subset of Aether's signaling protocol (docs/signaling.md)
that bench/fanout_client/client.js uses: GET /signal upgraded to a WebSocket (subprotocol
aether.v1) -> welcome, offer (the server offers, sendonly, ICE candidates inline) <- answer
(candidates inline) -> state ... bye. GET /health answers 200; GET /stats gives the frames
each per-viewer video encoder produced, so the bench can tell whether it keeps up.

Media, the same as `aether serve --source test --audio test`: the same GStreamer test
elements (videotestsrc smpte moving 4 px a frame + timeoverlay at 1280x720@30 by default, and
audiotestsrc ticks), produced once in this process, pulled from appsinks and relayed to every
viewer (aiortc MediaRelay, unbuffered: a slow consumer gets the newest frame). Each viewer has
its own encoders, as aiortc does: H.264 by libx264 through PyAV with Aether's x264 settings
(ultrafast, zerolatency, no B-frames, key frame every 2 s, the given bitrate, pinned: REMB
cannot move it) or VP8 (aiortc's libvpx settings, bitrate pinned), and Opus.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import itertools
import json
import logging
import threading
from typing import Any

import aiortc.rtcrtpsender
import av
import gi
from aiohttp import WSMsgType, web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.codecs import h264, vpx
from aiortc.contrib.media import MediaRelay
from aiortc.sdp import candidate_from_sdp

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

log = logging.getLogger("aiortc-baseline")
SUBPROTOCOL = "aether.v1"
AUDIO_RATE, AUDIO_SAMPLES = 48000, 960  # 20 ms, aiortc's audio frame


def source_pipeline(width: int, height: int, fps: int) -> Any:
    """Aether's `--source test` and `--audio test` elements (capture/testsrc.py and
    capture/pulse.py), ending in appsinks that keep only the newest buffers."""
    Gst.init(None)
    font = f"Sans Bold {max(12, height // 24)}"
    return Gst.parse_launch(
        "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
        f"! video/x-raw,width={width},height={height},framerate={fps}/1 "
        "! timeoverlay time-mode=running-time halignment=center valignment=center "
        f'shaded-background=true font-desc="{font}" '
        f"! videoconvert ! video/x-raw,format=I420,width={width},height={height} "
        "! appsink name=video max-buffers=2 drop=true sync=false "
        "audiotestsrc is-live=true wave=ticks freq=880 volume=0.3 "
        f"samplesperbuffer={AUDIO_SAMPLES} "
        f"! audio/x-raw,format=S16LE,rate={AUDIO_RATE},channels=2,layout=interleaved "
        "! appsink name=audio max-buffers=10 drop=true sync=false"
    )


class AppSinkTrack(MediaStreamTrack):
    """A track fed by a GStreamer appsink: a thread pulls buffers, recv() hands out frames."""

    def __init__(self, kind: str, sink: Any, make: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.kind = kind
        self.make = make
        self.count = 0
        self.frames: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)
        self.loop = loop
        threading.Thread(target=self._pull, args=(sink,), daemon=True).start()

    def _pull(self, sink: Any) -> None:
        while True:
            sample = sink.emit("try-pull-sample", Gst.SECOND)
            if sample is None:
                continue
            buffer = sample.get_buffer()
            self.loop.call_soon_threadsafe(self._push, buffer.extract_dup(0, buffer.get_size()))

    def _push(self, data: bytes) -> None:
        if self.frames.full():
            self.frames.get_nowait()  # a slow reader gets the newest
        self.frames.put_nowait(data)

    async def recv(self) -> Any:
        frame = self.make(await self.frames.get(), self.count)
        self.count += 1
        return frame


def video_maker(width: int, height: int, fps: int) -> Any:
    sizes = (width * height, width * height // 4, width * height // 4)

    def make(data: bytes, n: int) -> av.VideoFrame:
        frame = av.VideoFrame(width, height, "yuv420p")
        offset = 0
        for plane, size in zip(frame.planes, sizes, strict=True):
            plane.update(data[offset : offset + size])  # I420: packed planes, no padding
            offset += size
        frame.pts = n * (90000 // fps)
        frame.time_base = fractions.Fraction(1, 90000)
        return frame

    return make


def audio_frame(data: bytes, n: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_SAMPLES)
    frame.planes[0].update(data)
    frame.sample_rate = AUDIO_RATE
    frame.pts = n * AUDIO_SAMPLES
    frame.time_base = fractions.Fraction(1, AUDIO_RATE)
    return frame


class PinnedH264Encoder(h264.H264Encoder):
    """aiortc's H.264 encoder with Aether's x264 settings and a fixed bitrate."""

    bitrate = 4_000_000
    fps = 30
    frames = 0

    def _encode_frame(self, frame: av.VideoFrame, force_keyframe: bool) -> Any:
        frame.pict_type = (
            av.video.frame.PictureType.I if force_keyframe else av.video.frame.PictureType.NONE
        )
        if self.codec is None:
            codec = av.CodecContext.create("libx264", "w")
            codec.width = frame.width
            codec.height = frame.height
            codec.bit_rate = self.bitrate
            codec.pix_fmt = "yuv420p"
            codec.framerate = fractions.Fraction(self.fps, 1)
            codec.time_base = fractions.Fraction(1, self.fps)
            codec.gop_size = 2 * self.fps
            codec.max_b_frames = 0
            codec.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "level": "31",
                "bufsize": str(self.bitrate * 4 // self.fps),  # ~4 frames of VBV, as Aether
                "maxrate": str(self.bitrate),
            }
            codec.profile = "Baseline"
            self.codec = codec
        data = b"".join(bytes(packet) for packet in self.codec.encode(frame))
        self.frames += 1
        if data:
            yield from self._split_bitstream(data)


class CountingVp8Encoder(vpx.Vp8Encoder):
    frames = 0

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        self.frames += 1
        return super().encode(frame, force_keyframe)


class Baseline:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        loop = asyncio.get_running_loop()
        self.pipeline = source_pipeline(opts.width, opts.height, opts.fps)
        self.video = AppSinkTrack(
            "video",
            self.pipeline.get_by_name("video"),
            video_maker(opts.width, opts.height, opts.fps),
            loop,
        )
        self.audio = AppSinkTrack("audio", self.pipeline.get_by_name("audio"), audio_frame, loop)
        self.pipeline.set_state(Gst.State.PLAYING)
        self.relay = MediaRelay()
        self.ids = itertools.count(1)
        self.encoders: list[Any] = []  # every video encoder made, in order
        self.peers: dict[str, RTCPeerConnection] = {}
        bitrate = opts.bitrate * 1000
        PinnedH264Encoder.bitrate = bitrate
        PinnedH264Encoder.fps = opts.fps
        vpx.DEFAULT_BITRATE = vpx.MIN_BITRATE = vpx.MAX_BITRATE = bitrate
        original = aiortc.rtcrtpsender.get_encoder

        def get_encoder(codec: Any) -> Any:
            mime = codec.mimeType.lower()
            if mime == "video/h264":
                encoder: Any = PinnedH264Encoder()
            elif mime == "video/vp8":
                encoder = CountingVp8Encoder()
            else:
                return original(codec)
            self.encoders.append(encoder)
            return encoder

        aiortc.rtcrtpsender.get_encoder = get_encoder

    def video_codecs(self) -> list[Any]:
        codecs = RTCRtpSender.getCapabilities("video").codecs
        if self.opts.codec == "h264":
            chosen = [
                c
                for c in codecs
                if c.mimeType == "video/H264" and c.parameters.get("profile-level-id") == "42e01f"
            ]
        else:
            chosen = [c for c in codecs if c.mimeType == "video/VP8"]
        return chosen + [c for c in codecs if c.mimeType == "video/rtx"]

    async def signal(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), heartbeat=20.0)
        await ws.prepare(request)
        viewer = str(next(self.ids))
        await ws.send_json({"type": "welcome", "v": 1, "viewer": viewer, "iceServers": []})
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: nothing outside
        self.peers[viewer] = pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if not ws.closed:
                await ws.send_json({"type": "state", "state": pc.connectionState})

        try:
            video = pc.addTransceiver(
                self.relay.subscribe(self.video, buffered=False), direction="sendonly"
            )
            video.setCodecPreferences(self.video_codecs())
            audio = self.relay.subscribe(self.audio, buffered=False)
            pc.addTransceiver(audio, direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())  # gathers: candidates inline
            await ws.send_json({"type": "offer", "sdp": pc.localDescription.sdp})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                data = json.loads(msg.data)
                if data.get("type") == "answer":
                    await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "answer"))
                elif data.get("type") == "ice" and data.get("candidate"):
                    candidate = candidate_from_sdp(data["candidate"].removeprefix("candidate:"))
                    candidate.sdpMLineIndex = data.get("sdpMLineIndex", 0)
                    await pc.addIceCandidate(candidate)
                elif data.get("type") == "bye":
                    await ws.send_json({"type": "bye", "reason": data.get("reason") or "bye"})
                    break
        finally:
            self.peers.pop(viewer, None)
            await pc.close()
            await ws.close()
        return ws

    async def health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "viewers_now": len(self.peers),
                "source_frames": self.video.count,
                "encoders": [{"frames": e.frames} for e in self.encoders],
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=4000, help="kbit/s")
    parser.add_argument("--codec", choices=("h264", "vp8"), default="h264")
    opts = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    async def make_app() -> web.Application:
        baseline = Baseline(opts)  # needs the running loop
        app = web.Application()
        app.router.add_get("/signal", baseline.signal)
        app.router.add_get("/health", baseline.health)
        app.router.add_get("/stats", baseline.stats)
        return app

    web.run_app(make_app(), host=opts.host, port=opts.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
