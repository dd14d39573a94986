"""`--rtp-forward`: the encoded stream as plain RTP to Janus streaming-plugin mountpoints.

One bin per target, linked to the shared tees like a viewer:

    video-tee -> queue (leaky) -> rtpbin send_rtp_sink_0 -> udpsink  HOST:VIDEOPORT
                                  rtpbin send_rtcp_src_0 -> udpsink  HOST:RTCPPORT  --+ one
                                  rtpbin recv_rtcp_sink_0 <- udpsrc  (PLI, REMB)    --+ socket
    audio-tee -> queue (leaky) -> rtpbin send_rtp_sink_1 -> udpsink  HOST:AUDIOPORT

Janus sends RTCP feedback only to the address its videortcpport *received* RTCP from, so
our sender reports leave from the socket that listens for the answer. rtpbin turns a PLI or
FIR into an upstream force-key-unit event; a pad probe takes it and asks the shared encoder
through MediaPipeline.request_keyframe (which coalesces requests from every viewer and
target). Packets never pass through Python; only the rare RTCP packets from the target are
counted in a probe.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import gi

from aether import gst
from aether.errors import StartupError
from aether.fanout.pipeline import Branch, MediaPipeline
from aether.publish.targets import RtpTarget

gi.require_version("Gio", "2.0")
from gi.repository import Gio  # noqa: E402

Gst = gst.Gst
GstVideo = gst.GstVideo
log = logging.getLogger(__name__)

FORWARD_PREFIX = "rtp-forward-"
QUEUE_MAX_TIME_NS = 200_000_000  # a stalled send path drops packets; the encode never waits
RTCP_MIN_INTERVAL_NS = 1_000_000_000  # sender reports each ~1 s: Janus learns our address fast
NO_PREROLL = {"async": False}  # sinks added to a playing pipeline must not wait for preroll


def videofmtp(media: MediaPipeline) -> str:
    """What the Janus mountpoint's `videofmtp` should say for the stream being sent."""
    profile = media.stream_profile.hex if media.stream_profile is not None else "42e01f"
    return f"profile-level-id={profile};packetization-mode=1"


class RtpForwarder:
    """One target: its bin in the pipeline, its RTCP socket, its counters."""

    def __init__(self, index: int, target: RtpTarget, address: str, media: MediaPipeline) -> None:
        self.index = index
        self.target = target
        self.address = address  # the resolved IP the packets go to
        self.media = media
        self.keyframe_requests = 0  # PLI/FIR from the target, as force-key-unit events
        self.rtcp_received = 0  # RTCP packets from the target (RR, PLI, REMB, ...)
        self.state = "new"  # "forwarding", "failed: ...", "stopped"
        self._socket: Any = None
        self._branch: Branch | None = None
        self._sinks: dict[str, tuple[Any, int]] = {}  # kind -> (udpsink, port)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"{FORWARD_PREFIX}{self.index}"

    def start(self) -> None:
        """Build the bin and link it to the running pipeline (on the loop thread)."""
        family = Gio.SocketFamily.IPV6 if ":" in self.address else Gio.SocketFamily.IPV4
        rtcp_socket = Gio.Socket.new(family, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP)
        any_address = "::" if family == Gio.SocketFamily.IPV6 else "0.0.0.0"
        rtcp_socket.bind(Gio.InetSocketAddress.new_from_string(any_address, 0), True)
        self._socket = rtcp_socket

        bin_ = Gst.Bin.new(self.name)
        rtpbin = gst.make("rtpbin", "rtpbin")
        bin_.add(rtpbin)
        self._add_media(bin_, rtpbin, "video", 0, self.target.video_port)
        if self.media.has_audio and self.target.audio_port is not None:
            self._add_media(bin_, rtpbin, "audio", 1, self.target.audio_port)
        elif self.media.has_audio:
            # attach() links every tee: audio that is not forwarded ends here.
            drop = gst.make("fakesink", "audio-drop", sync=False, **NO_PREROLL)
            bin_.add(drop)
            bin_.add_pad(Gst.GhostPad.new("audio", drop.get_static_pad("sink")))
        self._add_rtcp(bin_, rtpbin, rtcp_socket)

        self._branch = self.media.attach(bin_, on_error=self._on_error)
        self.state = "forwarding"
        self.media.request_keyframe(f"{self.name} started")
        local = rtcp_socket.get_local_address().get_port()
        log.info(
            "rtp-forward %d: video to %s:%d, audio %s, video RTCP %s:%d <-> local port %d",
            self.index,
            self.address,
            self.target.video_port,
            f"to {self.address}:{self.target.audio_port}"
            if "audio" in self._sinks
            else "not forwarded",
            self.address,
            self.target.video_rtcp_port,
            local,
        )

    def _add_media(self, bin_: Any, rtpbin: Any, kind: str, session: int, port: int) -> None:
        """ghost pad `kind` -> leaky queue -> rtpbin session -> udpsink HOST:port."""
        queue = gst.make(
            "queue",
            f"{kind}-queue",
            leaky="downstream",
            max_size_buffers=0,
            max_size_bytes=0,
            max_size_time=QUEUE_MAX_TIME_NS,
        )
        sink = gst.make(
            "udpsink", f"{kind}-rtp", host=self.address, port=port, sync=False, **NO_PREROLL
        )
        bin_.add(queue)
        bin_.add(sink)
        _link(queue.get_static_pad("src"), rtpbin.request_pad_simple(f"send_rtp_sink_{session}"))
        _link(rtpbin.get_static_pad(f"send_rtp_src_{session}"), sink.get_static_pad("sink"))
        bin_.add_pad(Gst.GhostPad.new(kind, queue.get_static_pad("sink")))
        self._sinks[kind] = (sink, port)
        if kind == "video":
            # rtpbin turns the target's PLI/FIR into upstream force-key-unit events.
            queue.get_static_pad("sink").add_probe(
                Gst.PadProbeType.EVENT_UPSTREAM, self._on_upstream_event_thread
            )

    def _add_rtcp(self, bin_: Any, rtpbin: Any, rtcp_socket: Any) -> None:
        """Video RTCP out to HOST:RTCPPORT and in, both on `rtcp_socket`."""
        rtcp_out = gst.make(
            "udpsink",
            "video-rtcp",
            host=self.address,
            port=self.target.video_rtcp_port,
            socket=rtcp_socket,
            close_socket=False,
            sync=False,
            **NO_PREROLL,
        )
        rtcp_in = gst.make(
            "udpsrc",
            "video-rtcp-in",
            socket=rtcp_socket,
            close_socket=False,
            caps=gst.caps("application/x-rtcp"),
        )
        bin_.add(rtcp_out)
        bin_.add(rtcp_in)
        _link(rtpbin.request_pad_simple("send_rtcp_src_0"), rtcp_out.get_static_pad("sink"))
        rtcp_in_pad = rtcp_in.get_static_pad("src")
        _link(rtcp_in_pad, rtpbin.request_pad_simple("recv_rtcp_sink_0"))
        rtcp_in_pad.add_probe(Gst.PadProbeType.BUFFER, self._on_rtcp_thread)
        session = rtpbin.emit("get-internal-session", 0)
        if session is not None:
            session.set_property("rtcp-min-interval", RTCP_MIN_INTERVAL_NS)

    def stop(self) -> None:
        """Unlink and free the bin, close the socket. Blocking: call from a worker thread."""
        if self._branch is not None:
            self.media.detach(self._branch)
            self._branch = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.state = "stopped"

    # --- GStreamer threads ------------------------------------------------------------

    def _on_upstream_event_thread(self, _pad: Any, info: Any) -> Any:
        if not GstVideo.video_event_is_force_key_unit(info.get_event()):
            return Gst.PadProbeReturn.OK
        with self._lock:
            self.keyframe_requests += 1
        self.media.request_keyframe(f"{self.name} asked (PLI/FIR from {self.target})")
        return Gst.PadProbeReturn.DROP

    def _on_rtcp_thread(self, _pad: Any, _info: Any) -> Any:
        with self._lock:
            self.rtcp_received += 1
        return Gst.PadProbeReturn.OK

    def _on_error(self, reason: str) -> None:
        """On the loop: an element of this target failed. Other targets and viewers go on."""
        log.error("rtp-forward %d to %s failed: %s", self.index, self.target, reason)
        self.state = f"failed: {reason}"

    # --- figures ----------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        sent: dict[str, Any] = {}
        for kind, (sink, port) in self._sinks.items():
            stats = sink.emit("get-stats", self.address, port) if self._branch else None
            if stats is None:
                sent[kind] = None
                continue
            _ok, packets = stats.get_uint64("packets-sent")
            _ok, octets = stats.get_uint64("bytes-sent")
            sent[kind] = {"packets_sent": packets, "bytes_sent": octets, "port": port}
        return {
            "target": str(self.target),
            "address": self.address,
            "state": self.state,
            "video": sent.get("video"),
            "audio": sent.get("audio"),
            "rtcp_port": self.target.video_rtcp_port,
            "rtcp_received": self.rtcp_received,
            "keyframe_requests": self.keyframe_requests,
        }


class RtpForwarding:
    """Every --rtp-forward target, started once the pipeline plays, stopped at shutdown."""

    def __init__(self, media: MediaPipeline, targets: tuple[RtpTarget, ...]) -> None:
        self.media = media
        self.targets = targets
        self.forwarders: list[RtpForwarder] = []

    async def start(self) -> None:
        if not self.targets:
            return
        gst.require("rtpbin", "udpsink", "udpsrc")
        addresses = [await _resolve(t) for t in self.targets]
        for index, (target, address) in enumerate(zip(self.targets, addresses, strict=True)):
            forwarder = RtpForwarder(index, target, address, self.media)
            forwarder.start()
            self.forwarders.append(forwarder)
        log.info(
            'rtp-forward: set each Janus mountpoint to videopt = 96, videocodec = "h264", '
            'videofmtp = "%s"%s',
            videofmtp(self.media),
            ', audiopt = 111, audiocodec = "opus"' if self.media.has_audio else "",
        )

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        for forwarder in self.forwarders:
            await loop.run_in_executor(None, forwarder.stop)

    def figures(self) -> list[dict[str, Any]]:
        return [f.figures() for f in self.forwarders]


async def _resolve(target: RtpTarget) -> str:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            target.host, target.video_port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP
        )
    except OSError as exc:
        raise StartupError(
            f"rtp_forward: cannot resolve {target.host!r} ({exc})",
            fix="give --rtp-forward/AETHER_RTP_FORWARD a reachable host name or IP address",
        ) from None
    return str(infos[0][4][0])


def _link(src: Any, sink: Any) -> None:
    result = src.link(sink)
    if result != Gst.PadLinkReturn.OK:
        raise RuntimeError(f"cannot link {src.get_name()} -> {sink.get_name()}: {result}")
