"""One viewer's WebRTC session: a bin of two bounded queues and a webrtcbin.

    video-tee -> [queue (leaky, bounded)] -> webrtcbin sink_0 (H.264, sendonly)
    audio-tee -> [queue (leaky, bounded)] -> webrtcbin sink_1 (Opus, sendonly)

With quality tiers (--tiers), a valve per tier and an rtpmux stand before the video queue
(fanout/selector.py); the viewer's receiver reports drive which valve is open
(peers/adapt.py, through video_report()).

The server makes the offer once both sink pads have caps (more reliable in webrtcbin 1.22
than on-negotiation-needed for branches added to a running pipeline). All GStreamer
callbacks hand over to the event loop; the observer is only ever called on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from typing import Any, Protocol

from aether import gst
from aether.errors import PeerError, ProtocolError
from aether.fanout.pipeline import VIEWER_PREFIX, Branch, MediaPipeline
from aether.fanout.repayload import Numbering
from aether.fanout.selector import TierSelector
from aether.logsetup import viewer_log
from aether.peers import bypass, ice
from aether.peers.certificate import dtls_certificate_pem, dtls_fingerprint, with_fingerprint
from aether.peers.offers import AnswerPlan
from aether.peers.resend import ResendBudget
from aether.peers.sdp import announce_h264, candidate_is_plausible, check_answer
from aether.peers.segments import SharedSegment
from aether.signaling.protocol import ClientStats
from aether.telemetry.webrtcstats import (
    PeerNetStats,
    SourceReport,
    send_rate,
    summarize,
    to_plain,
)

Gst = gst.Gst
GstVideo = gst.GstVideo
GstSdp = gst.GstSdp
GstWebRTC = gst.GstWebRTC
log = logging.getLogger(__name__)

# Per-viewer queue bound, in time: ~32 frames at 60 fps. A viewer whose queue stays full
# for LAG_LIMIT seconds is disconnected; the shared encode never waits for it.
QUEUE_MAX_TIME_NS = 500_000_000
QUEUE_MAX_BYTES = 8 * 1024 * 1024
# webrtcbin holds its sink pads until the session is negotiated. Until the viewer is
# connected its queues keep only the newest packet, so it starts with live media, not a
# stale half-second burst (and nothing counts as lagging yet).
QUEUE_LIMITS_CONNECTING = {"max-size-buffers": 1, "max-size-bytes": 0, "max-size-time": 0}
QUEUE_LIMITS_CONNECTED = {
    "max-size-buffers": 0,
    "max-size-bytes": QUEUE_MAX_BYTES,
    "max-size-time": QUEUE_MAX_TIME_NS,
}
LAG_LIMIT = 3.0
GATHERING_GRACE = 3.0  # seconds close() (and an answer) waits for ICE gathering to end
HOST_CANDIDATES_QUIET = 0.03  # without STUN: seconds after the last candidate to answer
OVERRUN_QUIET = 1.0  # seconds without an overrun that end a lagging episode
STATS_MAX_AGE = 0.5  # webrtcbin figures this fresh are reused, not asked for again
STATS_TIMEOUT = 1.0  # how long a stats request waits for webrtcbin's reply


class PeerObserver(Protocol):
    """Receives a peer's events, always on the event loop thread."""

    def on_local_description(self, sdp: str) -> None: ...

    def on_local_candidate(self, mline: int, candidate: str) -> None: ...

    def on_connection_state(self, state: str) -> None: ...

    def on_failure(self, reason: str) -> None: ...


class DetachedObserver:
    """The observer of a closed peer: hears nothing, holds nothing."""

    def on_local_description(self, sdp: str) -> None:
        pass

    def on_local_candidate(self, mline: int, candidate: str) -> None:
        pass

    def on_connection_state(self, state: str) -> None:
        pass

    def on_failure(self, reason: str) -> None:
        pass


DETACHED = DetachedObserver()


class ViewerPeer:
    def __init__(
        self,
        viewer_id: str,
        media: MediaPipeline,
        observer: PeerObserver,
        loop: asyncio.AbstractEventLoop,
        ice_settings: ice.IceSettings | None = None,
        *,
        offer: tuple[str, AnswerPlan] | None = None,
    ) -> None:
        self.id = viewer_id
        self.log = viewer_log(log, viewer_id)  # every line about this viewer carries its id
        self.media = media
        self.observer = observer
        self.loop = loop
        self.ice = ice_settings or ice.IceSettings()
        self.offer_sdp: str | None = None
        # A viewer that makes the offer itself (WHEP): we answer, numbering media its way.
        self.remote_offer = offer
        self.kind = "whep" if offer is not None else "websocket"
        self.address = ""
        self.state = "new"
        self.connected_at: float | None = None
        self.created_at = time.monotonic()
        self.overruns = 0
        self.keyframe_requests = 0  # PLI/FIR received from this viewer
        self.rtcp_received = 0  # RTCP packets from the viewer, once connected
        self._lag_started: float | None = None
        self._last_overrun = 0.0
        self._overrun_scheduled = False
        self._branch: Branch | None = None
        self._webrtc: Any = None
        self._sink_pads: list[Any] = []
        self._queues: list[Any] = []
        # Signal handlers and probes hold this object; close() removes them so the
        # elements (and their sockets and threads) are freed at once, not at the next
        # cyclic garbage collection.
        self._handlers: list[tuple[Any, int]] = []
        self._probes: list[tuple[Any, int]] = []
        self._gates: list[Any] = []  # valves that hold packets back until connected
        self.shared_segment = SharedSegment()  # for webrtcbin's rtpfunnel
        self._gate_lock = threading.Lock()
        self._offer_requested = False
        self._answered = False
        self._gathered = asyncio.Event()
        self._last_candidate_at = 0.0  # time.monotonic() of the latest local candidate
        self._tasks: set[asyncio.Task[None]] = set()
        self._udp_candidates = 0  # gathered so far; none in a pinned range: it is full
        self._closed = False
        # Statistics: webrtcbin's, fetched on demand; the browser's, as it reports them.
        self.ice_state = "new"  # webrtcbin's ice-connection-state, as last notified
        self.net = PeerNetStats()
        self.net_at: float | None = None
        self.send_rates: dict[str, float | None] = {"video": None, "audio": None}  # bit/s
        self.client: ClientStats | None = None
        self.client_at: float | None = None
        self._stats_pending: asyncio.Future[None] | None = None
        self._stats_asked_at = 0.0
        # The rtprtxsend webrtcbin makes when NACK is on: it counts the packets it resent
        # (get-stats in GStreamer 1.22 has no retransmission figures).
        self._rtx_senders: list[Any] = []
        # Quality tiers (--tiers): which one this viewer receives, and since when.
        self.selector: TierSelector | None = None
        self.tier_since = time.monotonic()
        self.estimate_kbps: float | None = None  # its bandwidth estimate (peers/adapt.py)
        self.resends = ResendBudget(self._resend_kbps)
        self._session: Any = None  # rtpbin's RTPSession, for video_report()
        self._video_sink: Any = None
        self._reporter: Any = None  # the viewer's RTPSource that reports on our video
        self._resent_at: tuple[float, int] | None = None
        self._fec_encoders: list[Any] = []  # webrtcbin's, one a stream (peers/bypass.py)

    # --- building -----------------------------------------------------------------

    def start(self) -> None:
        """Build the viewer's bin, link it into the running pipeline; the offer follows."""
        viewer_bin = Gst.Bin.new(VIEWER_PREFIX + self.id)
        webrtc = gst.make("webrtcbin", "webrtc", bundle_policy="max-bundle")
        ice.configure(webrtc, self.ice)  # STUN, TURN, the UDP port range
        viewer_bin.add(webrtc)
        kinds = ["video", "audio"] if self.media.has_audio else ["video"]
        numberings: dict[str, Numbering | None] = {}
        if self.remote_offer is not None:  # its kinds, in its order (transceivers follow)
            served = self.remote_offer[1].served()
            kinds = [m.kind for m in served if m.kind in kinds]
            numberings = {m.kind: m.numbering for m in served}
        for kind in kinds:
            queue = gst.make("queue", f"{kind}-queue", leaky="downstream", silent=False)
            set_limits(queue, QUEUE_LIMITS_CONNECTING)
            viewer_bin.add(queue)
            self._queues.append(queue)
            # Until connected, packets stop at a closed valve (caps and other sticky
            # events pass, for the offer): otherwise the packet that waits inside
            # webrtcbin for DTLS would go out first, from long ago, and the viewer would
            # count the gap as lost. A valve drops them in C: a Python probe here ran for
            # every packet of the spare peer, all the time, and took the GIL each time.
            # Once connected the valve leaves the path (_open_gates, peers/bypass.py).
            gate = gst.make("valve", f"{kind}-gate", drop=True, drop_mode="forward-sticky-events")
            viewer_bin.add(gate)
            queue.link(gate)
            self._gates.append(gate)
            sink = webrtc.request_pad_simple("sink_%u")
            # Separate stream ids: Chromium then does not hold video back to lip-sync it
            # with audio's larger jitter buffer (+30-60 ms measured).
            sink.set_property("msid", f"aether-{kind}")
            transceiver = sink.get_property("transceiver")
            transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
            if kind == "video":
                # NACK feedback and an RTX payload type in the offer (rtx/90000, apt=);
                # webrtcbin then adds an rtprtxsend that resends from a short history.
                transceiver.set_property("do-nack", self.media.nack)
                # The viewer's PLI/FIR arrive as upstream force-key-unit events: take them
                # here so requests from all viewers coalesce into one keyframe.
                pad = queue.get_static_pad("sink")
                probe = pad.add_probe(
                    Gst.PadProbeType.EVENT_UPSTREAM, self._on_upstream_event_thread
                )
                self._probes.append((pad, probe))
            gate.get_static_pad("src").link(sink)
            tiers = self.media.tiers_for(numberings.get(kind)) if kind == "video" else 1
            if tiers > 1:  # the tiers' valves and rtpmux in front of the queue
                self.selector = TierSelector(
                    viewer_bin, tiers, self._keyframe_for_tier, self._on_switched_thread
                )
                self.selector.src.link(queue.get_static_pad("sink"))
            else:
                viewer_bin.add_pad(Gst.GhostPad.new(kind, queue.get_static_pad("sink")))
            self._connect(queue, "overrun", self._on_overrun_thread)
            self._connect(sink, "notify::caps", self._on_caps_thread)
            self._sink_pads.append(sink)
            if kind == "video":
                self._video_sink = sink
        self._connect(webrtc, "deep-element-added", self._on_element_added_thread)
        self._connect(webrtc, "on-ice-candidate", self._on_ice_candidate_thread)
        self._connect(webrtc, "notify::connection-state", self._on_connection_state_thread)
        self._connect(webrtc, "notify::ice-connection-state", self._on_ice_state_thread)
        self._connect(webrtc, "notify::ice-gathering-state", self._on_gathering_thread)
        self._webrtc = webrtc
        self._branch = self.media.attach(viewer_bin, numberings)
        self._maybe_offer()

    def _resend_kbps(self) -> float:
        if self.estimate_kbps is not None:
            return self.estimate_kbps
        return float(self.media.target_bitrate or self.media.tiers[0].bitrate or 4000)

    @property
    def tier(self) -> int:
        """The quality tier this viewer receives (0: the top one)."""
        return self.selector.current if self.selector is not None else 0

    def _keyframe_for_tier(self, tier: int, reason: str) -> None:
        self.media.request_keyframe(f"viewer {self.id}: {reason}", tier)

    def _on_switched_thread(self, old: int, new: int) -> None:
        self._call(self._on_switched, old, new)

    def _on_switched(self, old: int, new: int) -> None:
        self.tier_since = time.monotonic()
        self.log.info("now on tier %d (was %d)", new, old)

    def switch_tier(self, tier: int, reason: str) -> None:
        """Move to `tier` at its next keyframe (loop thread)."""
        if self.selector is not None and not self._closed:
            self.selector.switch(tier, reason)

    def _connect(self, obj: Any, signal: str, handler: Any) -> None:
        self._handlers.append((obj, obj.connect(signal, handler)))

    # --- GStreamer threads -> loop ----------------------------------------------------

    def _call(self, func: Any, *args: Any) -> None:
        if not self._closed:
            self.loop.call_soon_threadsafe(func, *args)

    def _on_element_added_thread(self, _webrtc: Any, _bin: Any, element: Any) -> None:
        """Tune the elements webrtcbin makes for the transport, before they run."""
        name = gst.factory_name(element)
        if name == "rtprtxsend":
            self._rtx_senders.append(element)
            pad = element.get_static_pad("src")
            probe = pad.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, self.resends.probe)
            self._probes.append((pad, probe))
        if name == "rtpulpfecenc":
            with self._gate_lock:
                self._fec_encoders.append(element)
        if name == "rtpfunnel":
            # It bundles audio and video and re-sent a segment at each switch between
            # them, unless both pads hold one event (peers/segments.py).
            self._connect(element, "pad-added", self.shared_segment.on_pad_added)
        if name == "clocksync":
            # webrtcbin puts one in front of each stream, syncing every packet to its
            # running time plus the upstream latency: with a source that reports latency
            # (the test source, cameras) packets waited there, ~20 ms at 30 fps measured.
            # Our sources are live (or paced, capture/url.py): send at once.
            element.set_property("sync", False)
        if name == "dtlssrtpdec":
            # The DTLS connection already exists, made with GStreamer's certificate when
            # webrtcbin set its id: set the id again to remake it with the new certificate.
            connection_id = element.get_property("connection-id")
            element.set_property("pem", dtls_certificate_pem())
            element.set_property("connection-id", connection_id)

    def _on_caps_thread(self, _pad: Any, _pspec: Any) -> None:
        self._call(self._maybe_offer)

    def _on_ice_candidate_thread(self, _webrtc: Any, mline: int, candidate: str) -> None:
        self._last_candidate_at = time.monotonic()
        self._call(self._emit_candidate, mline, candidate)

    def _open_gates(self) -> None:
        """Connected: let packets through at once (on GStreamer's thread, not a loop hop
        later, so none is lost to the 1-packet queue meanwhile), and ask for the keyframe
        the viewer starts from (there too: the loop is busy at times). The gates, and
        webrtcbin's FEC encoders when no FEC was negotiated, leave the path: neither
        passes a frame's packets on as one list (peers/bypass.py)."""
        with self._gate_lock:
            gates, self._gates = self._gates, []
            encoders = list(self._fec_encoders)
        if not gates:
            return
        for queue in self._queues:
            set_limits(queue, QUEUE_LIMITS_CONNECTED)
        for gate in gates:
            gate.set_property("drop", False)
            bypass.bypass(gate, remove=True)
        for encoder in encoders:
            fec_bin = bypass.idle_fec_bin(encoder)
            if fec_bin is not None:
                bypass.bypass(fec_bin, remove=False)
        self.media.request_keyframe(f"viewer {self.id} connected", self.tier)

    def _on_connection_state_thread(self, webrtc: Any, _pspec: Any) -> None:
        state = webrtc.get_property("connection-state").value_nick
        if state == "connected":
            self._open_gates()
        self._call(self._on_connection_state, state)

    def _on_ice_state_thread(self, webrtc: Any, _pspec: Any) -> None:
        state = webrtc.get_property("ice-connection-state").value_nick
        self._call(setattr, self, "ice_state", str(state))

    def _on_upstream_event_thread(self, _pad: Any, info: Any) -> Any:
        if not GstVideo.video_event_is_force_key_unit(info.get_event()):
            return Gst.PadProbeReturn.OK
        self.keyframe_requests += 1
        self.media.request_keyframe(f"viewer {self.id} asked (PLI/FIR)", self.tier)
        return Gst.PadProbeReturn.DROP

    def _on_gathering_thread(self, webrtc: Any, _pspec: Any) -> None:
        state = webrtc.get_property("ice-gathering-state").value_nick
        if state == "complete":
            self.loop.call_soon_threadsafe(self._gathered.set)
        elif state == "gathering" and self.ice.udp_ports is not None:
            # A full range fails silently (no candidate; gathering may end or not): check.
            self._call(self.loop.call_later, ice.PORT_WAIT, self._check_port)

    def _on_overrun_thread(self, _queue: Any) -> None:
        # Called for every packet while the queue is full: schedule at most one hand-over.
        if self.connected_at is None:
            return  # the one-packet queue of a connecting viewer always overruns
        self.overruns += 1
        if not self._overrun_scheduled:
            self._overrun_scheduled = True
            self._call(self._on_overrun)

    # --- on the loop ------------------------------------------------------------------

    def _emit_candidate(self, mline: int, candidate: str) -> None:
        self._udp_candidates += ice.is_udp(candidate)
        if not self._closed:
            self.observer.on_local_candidate(mline, candidate)

    def _maybe_offer(self) -> None:
        if self._offer_requested or self._closed or self._webrtc is None:
            return
        if not all(pad.get_current_caps() is not None for pad in self._sink_pads):
            return
        self._offer_requested = True
        if self.remote_offer is not None:
            self._answer_offer(self.remote_offer[0])
            return
        promise = Gst.Promise.new_with_change_func(self._on_offer_created_thread, None)
        self._webrtc.emit("create-offer", None, promise)

    # --- answering a viewer's offer (WHEP) --------------------------------------------

    def _answer_offer(self, sdp: str) -> None:
        """Apply the viewer's offer, then answer it (once every sink pad has caps, so
        the answer carries our SSRCs). The answer goes out whole, candidates included."""
        result, message = GstSdp.SDPMessage.new_from_text(sdp)
        if result != GstSdp.SDPResult.OK:
            self._fail("the offer could not be parsed")
            return
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, message)
        promise = Gst.Promise.new_with_change_func(self._on_offer_set_thread, None)
        self._webrtc.emit("set-remote-description", offer, promise)
        self._answered = True  # the viewer's candidates may follow now

    async def _candidates_settled(self) -> None:
        """Wait until the answer can carry every candidate it will ever have.

        With a STUN or TURN server, that is when gathering completes. Without, only host
        candidates exist and they all come at once (~20 ms), while libnice declares
        gathering complete ~200 ms later: a short quiet spell after the last one is enough.
        """
        give_up = time.monotonic() + GATHERING_GRACE
        while not self._gathered.is_set() and time.monotonic() < give_up:
            quiet = time.monotonic() - self._last_candidate_at
            host_only = not (self.ice.stun or self.ice.turn)
            if host_only and self._last_candidate_at and quiet >= HOST_CANDIDATES_QUIET:
                return
            await asyncio.sleep(0.01)

    def _on_offer_set_thread(self, promise: Any, _data: Any) -> None:
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            self._call(self._fail, f"offer rejected by webrtcbin: {reply.get_value('error')}")
            return
        promise = Gst.Promise.new_with_change_func(self._on_answer_created_thread, None)
        self._webrtc.emit("create-answer", None, promise)

    def _on_answer_created_thread(self, promise: Any, _data: Any) -> None:
        reply = promise.get_reply()
        answer = reply.get_value("answer") if reply is not None else None
        if answer is None:
            error = reply.get_value("error") if reply is not None else None
            self._call(self._fail, f"could not answer the offer: {error}")
            return
        text = with_fingerprint(answer.sdp.as_text(), dtls_fingerprint())
        result, message = GstSdp.SDPMessage.new_from_text(text)
        if result != GstSdp.SDPResult.OK:
            self._call(self._fail, "could not rewrite the answer's fingerprint")
            return
        local = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        self._webrtc.emit("set-local-description", local, None)
        self._call(self._answer_after_gathering)

    def _answer_after_gathering(self) -> None:
        async def send() -> None:
            await self._candidates_settled()
            if self._closed or self._webrtc is None:
                return
            local = self._webrtc.get_property("local-description")
            self.offer_sdp = local.sdp.as_text()
            self.observer.on_local_description(self.offer_sdp)

        self._tasks.add(task := self.loop.create_task(send()))
        task.add_done_callback(self._tasks.discard)

    def _on_offer_created_thread(self, promise: Any, _data: Any) -> None:
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        if offer is None:
            error = reply.get_value("error") if reply is not None else None
            self._call(self._fail, f"could not create an offer: {error}")
            return
        text = with_fingerprint(offer.sdp.as_text(), dtls_fingerprint())
        # The SPS's own profile and level (RFC 6184), and an fmtp line for every H.264 format.
        text = announce_h264(text, self.media.stream_profile)
        result, message = GstSdp.SDPMessage.new_from_text(text)
        if result != GstSdp.SDPResult.OK:
            self._call(self._fail, "could not rewrite the offer's fingerprint")
            return
        local = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, message)
        self._webrtc.emit("set-local-description", local, None)
        self._call(self._offer_ready, text)

    def _check_port(self) -> None:
        if not self._udp_candidates:
            self._fail(f"no free UDP port in {self.ice.udp_ports} (--udp-ports): all in use")

    def _offer_ready(self, sdp: str) -> None:
        if self._closed:
            return
        self.offer_sdp = sdp
        self.observer.on_local_description(sdp)

    def _on_connection_state(self, state: str) -> None:
        if self._closed or state == self.state:
            return
        self.state = state
        self.log.info("connection %s", state)
        if state == "connected" and self.connected_at is None:
            self._open_gates()  # normally done already, on GStreamer's thread
            self.connected_at = time.monotonic()
            if self.remote_offer is not None:  # WHEP: no socket tells when it is gone
                self._count_rtcp()
        self.observer.on_connection_state(state)
        if state == "failed":
            self._fail("WebRTC connection failed (ICE or DTLS)")

    def _count_rtcp(self) -> None:
        """Count the RTCP packets the viewer sends (reports, NACK, PLI; a few a second):
        when they stop, it is gone (see web/whep.py; WebSocket viewers have their socket)."""
        rtpbin = self._webrtc.get_by_name("rtpbin") if self._webrtc is not None else None
        if rtpbin is None:
            return
        iterator = rtpbin.iterate_sink_pads()
        while True:
            result, pad = iterator.next()
            if result != Gst.IteratorResult.OK:
                break
            if pad.get_name().startswith("recv_rtcp_sink"):
                kinds = Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST
                self._probes.append((pad, pad.add_probe(kinds, self._on_rtcp_thread)))

    def _on_rtcp_thread(self, _pad: Any, _info: Any) -> Any:
        self.rtcp_received += 1
        return Gst.PadProbeReturn.OK

    def _on_overrun(self) -> None:
        self._overrun_scheduled = False
        if self._closed:
            return
        now = time.monotonic()
        if self._lag_started is None or now - self._last_overrun > OVERRUN_QUIET:
            self._lag_started = now
            self.log.warning("falling behind; dropping its oldest packets")
            # Dropped packets break the picture until the next keyframe: ask for one.
            self.media.request_keyframe(f"viewer {self.id} lagging", self.tier)
        self._last_overrun = now
        if now - self._lag_started >= LAG_LIMIT:
            self._fail(f"too slow: fell behind the stream for {LAG_LIMIT:.0f} s")

    def _fail(self, reason: str) -> None:
        if not self._closed:
            self.log.warning("%s", reason)
            self.observer.on_failure(reason)

    # --- statistics (loop thread; webrtcbin replies on its own) ------------------------

    async def refresh_stats(self, max_age: float = STATS_MAX_AGE) -> None:
        """Bring `net` up to date (within max_age) from webrtcbin's get-stats.

        Concurrent callers share one request; a reply that does not come within
        STATS_TIMEOUT leaves the previous figures in place.
        """
        if self._webrtc is None or self._closed or self.connected_at is None:
            return
        now = time.monotonic()
        if self.net_at is not None and now - self.net_at < max_age:
            return
        if self._stats_pending is None or now - self._stats_asked_at > STATS_TIMEOUT:
            self._stats_pending = pending = self.loop.create_future()
            self._stats_asked_at = now
            promise = Gst.Promise.new_with_change_func(self._on_stats_thread, pending)
            self._webrtc.emit("get-stats", None, promise)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._stats_pending), STATS_TIMEOUT)

    def _on_stats_thread(self, promise: Any, pending: asyncio.Future[None]) -> None:
        reply = promise.get_reply()
        net = summarize(to_plain(reply)) if reply is not None else None
        if net is not None and net.video is not None and self._rtx_senders:
            resent = self._resent_packets()
            video = dataclasses.replace(net.video, retransmitted_packets=resent)
            net = dataclasses.replace(net, video=video)
        self._call(self._on_stats, net, pending)

    def _on_stats(self, net: PeerNetStats | None, pending: asyncio.Future[None]) -> None:
        if net is not None and not self._closed:
            now = time.monotonic()
            if self.net_at is not None:
                seconds = now - self.net_at
                self.send_rates = {
                    "video": send_rate(self.net.video, net.video, seconds),
                    "audio": send_rate(self.net.audio, net.audio, seconds),
                }
            self.net, self.net_at = net, now
        if self._stats_pending is pending:
            self._stats_pending = None
        if not pending.done():
            pending.set_result(None)

    def _resent_packets(self) -> int:
        """Packets resent on NACK so far (rtprtxsend's count; get-stats has none)."""
        return sum(int(e.get_property("num-rtx-packets")) for e in self._rtx_senders)

    REPORT_FIELDS = ("have-rb", "rb-fractionlost", "rb-exthighestseq", "rb-round-trip")

    def video_report(self) -> SourceReport | None:
        """The viewer's latest receiver report on our video, and what we send: read from
        rtpbin's session (two small structures, a fraction of what get-stats costs).
        Resends (RTX) are counted into `sent_bps`. None before there is a report."""
        if self._webrtc is None or self._closed or self.connected_at is None:
            return None
        caps = self._video_sink.get_current_caps() if self._video_sink is not None else None
        found, ssrc = caps.get_structure(0).get_uint("ssrc") if caps else (False, 0)
        if not found:
            return None
        if self._session is None:
            rtpbin = self._webrtc.get_by_name("rtpbin")
            if rtpbin is None:
                return None
            self._session = rtpbin.emit("get-internal-session", 0)  # max-bundle: one
        ours = self._session.emit("get-source-by-ssrc", ssrc) if self._session else None
        if ours is None:
            return None
        # The report block about our video sits on the viewer's own (remote) source: the
        # one whose latest block names our SSRC (its audio's reports on another source).
        if self._reporter is None:
            for source in self._session.get_property("sources"):
                stats = source.get_property("stats")
                if stats.get_value("internal") or not stats.get_value("have-rb"):
                    continue
                if stats.get_value("rb-ssrc") == ssrc:
                    self._reporter = source
                    break
            else:
                return None
        stats = self._reporter.get_property("stats")
        if stats.get_value("rb-ssrc") != ssrc:  # its latest block is about another stream
            self._reporter = None
            return None
        fields = {name: stats.get_value(name) for name in self.REPORT_FIELDS
                  if stats.has_field(name)}  # fmt: skip
        fields["bitrate"] = ours.get_property("stats").get_value("bitrate")
        report = SourceReport.from_source_stats(fields)
        resent = self._resent_packets()
        now, last = time.monotonic(), self._resent_at
        self._resent_at = (now, resent)
        if last is not None and now > last[0]:
            resend_bps = (resent - last[1]) * 1200 * 8 / (now - last[0])
            report = dataclasses.replace(report, sent_bps=report.sent_bps + resend_bps)
        return report

    def on_client_stats(self, report: ClientStats) -> None:
        self.client, self.client_at = report, time.monotonic()

    # --- commands from signaling (loop thread) -----------------------------------------

    def set_answer(self, sdp: str) -> None:
        """Apply the viewer's answer; raises ProtocolError when it is unusable."""
        if self.offer_sdp is None or self.remote_offer is not None:
            raise ProtocolError("unexpected", "no offer has been sent yet")
        if self._answered:
            raise ProtocolError("unexpected", "an answer was already applied")
        try:
            terms = check_answer(self.offer_sdp, sdp)
        except ProtocolError as exc:
            if exc.code == "unsupported-codec":
                self.log.warning("cannot take the stream: %s", exc)
            raise
        if terms is not None:
            self.log.info(
                "takes H.264 %s, up to level %.1f", terms.viewer.describe(), terms.max_level
            )
            if terms.level_exceeded:  # browsers decode above the level they announce
                self.log.info("stream level %.1f is above what it announced", terms.stream.level)
        result, message = GstSdp.SDPMessage.new_from_text(sdp)
        if result != GstSdp.SDPResult.OK:
            raise ProtocolError("bad-sdp", "the SDP could not be parsed")
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        promise = Gst.Promise.new_with_change_func(self._on_answer_set_thread, None)
        # webrtcbin runs its operations in order, so candidates may follow at once.
        self._webrtc.emit("set-remote-description", answer, promise)
        self._answered = True

    def _on_answer_set_thread(self, promise: Any, _data: Any) -> None:
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            error = reply.get_value("error")
            self._call(self._fail, f"answer rejected by webrtcbin: {error}")

    def add_candidate(self, mline: int, candidate: str) -> None:
        if not candidate:
            return  # end-of-candidates
        if not candidate_is_plausible(candidate):
            raise ProtocolError("bad-candidate", "not an ICE candidate line")
        if not 0 <= mline < len(self._sink_pads):
            raise ProtocolError("bad-candidate", f"sdpMLineIndex {mline} out of range")
        if not self._answered:
            raise ProtocolError("unexpected", "candidate before answer")
        self._webrtc.emit("add-ice-candidate", mline, candidate.removeprefix("a="))

    # --- signaling without trickle (WHIP publishing, publish/whip.py) --------------------

    @property
    def gathering_complete(self) -> bool:
        return self._gathered.is_set()

    async def complete_offer(self, within: float) -> str:
        """The offer as webrtcbin holds it, with the local candidates in it: once ICE
        gathering is complete, or after `within` seconds with those gathered so far (a
        STUN server that does not answer). For signaling that does not trickle."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._gathered.wait(), within)
        if self._closed or self._webrtc is None or self.offer_sdp is None:
            raise PeerError("the peer closed before its offer was complete")
        description = self._webrtc.get_property("local-description")
        return str(description.sdp.as_text())

    async def close(self) -> None:
        """Unlink and free everything; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._stats_pending is not None and not self._stats_pending.done():
            self._stats_pending.set_result(None)
        branch, self._branch = self._branch, None
        if self._offer_requested:
            # Stopping webrtcbin while libnice is still gathering leaves the agent (and its
            # ~25 sockets) alive for good; let gathering finish first (it takes ~0.1 s).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gathered.wait(), GATHERING_GRACE)
        if branch is not None:
            await self.loop.run_in_executor(None, self.media.detach, branch)
        for obj, handler_id in self._handlers:
            obj.disconnect(handler_id)
        with self._gate_lock:
            self._gates = []
        for pad, probe_id in self._probes:
            pad.remove_probe(probe_id)
        # The selector and the resend budget hold bound methods of this peer: let go of
        # them, or the peer waits for a cyclic collection (docs/performance.md, memory).
        if self.selector is not None:
            self.selector.close()
            self.selector = None
        self.resends.kbps = _no_estimate
        self._handlers.clear()
        self._probes.clear()
        self._webrtc = None
        self._session = self._video_sink = self._reporter = None
        self._sink_pads.clear()
        self._queues.clear()
        self._rtx_senders.clear()
        # The observer (a signaling session) holds this peer too: a reference cycle that
        # would keep both, and with them the session's WebSocket, request and zlib
        # compressor (native memory), until Python's next full garbage
        # collection, which comes rarely (docs/performance.md, "Memory over time").
        self.observer = DETACHED


def _no_estimate() -> float:
    return 0.0


def set_limits(queue: Any, limits: dict[str, int]) -> None:
    for name, value in limits.items():
        queue.set_property(name, value)


def warm_up() -> None:
    """Pay one-time costs at start-up rather than on the first viewer's clock.

    The first DTLS element generates GStreamer's process-wide DTLS certificate (~0.4 s
    here), which is then replaced by ours (made here too).
    """
    gst.make("dtlsdec")
    dtls_fingerprint()
