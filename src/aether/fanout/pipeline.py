"""The shared media pipeline: capture -> encode -> RTP payload -> tee, once for all viewers.

    video source -> encoder -> identity -> rtph264pay -> video-tee --+-> [viewer bin] ...
    audio source -> opusenc -> identity -> rtpopuspay -> audio-tee --+-> [viewer bin] ...

Each viewer is a Gst.Bin (see peers/viewer.py) with ghost pads `video` and `audio`, linked
to request pads of the tees. Python touches no viewer's packets: the one probe on the
shared stream (fanout/playout.py) runs once per packet list, for all viewers at once. The
video tee states the viewers' RTP caps on a branch of its own (fanout/capstee.py), so each
frame reaches the viewers as one list of packets. The `identity` elements
(`one_segment()`) give both streams the same segment, so each viewer's funnel can share it
(peers/segments.py).

With quality tiers (--tiers 2 or 3, fanout/tiers.py) the source feeds a raw tee, each tier
is an encode branch of its own ending in `video-tee-N`, and a viewer bin has one more
ghost pad per tier (`video_1`, `video_2`) linked to those tees.

GStreamer calls back on its own threads; everything here that reaches asyncio goes through
`loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aether import gst
from aether.capture.base import AudioSource, VideoSource
from aether.config import Config
from aether.encode import OpusEncoder, VideoEncoder
from aether.errors import AetherError, ConfigError, ProtocolError, StartupError
from aether.fanout import capstee, playout, repayload
from aether.fanout.tiers import Tier
from aether.h264 import H264Error, ProfileLevel, find_sps
from aether.telemetry.frames import FrameMeter

Gst = gst.Gst
GstVideo = gst.GstVideo
log = logging.getLogger(__name__)

VIDEO_PT = 96
AUDIO_PT = 111
RTP_MTU = 1200
FIRST_FRAME_TIMEOUT = 10.0
# Keyframe requests closer together than this are served by the one already coming.
KEYFRAME_MIN_INTERVAL = 0.25
VIEWER_PREFIX = "viewer-"
ENCODER_RETRIES = 3  # failures within ENCODER_WINDOW before falling back
ENCODER_WINDOW = 60.0
RECOVERY_FIRST_DELAY = 0.5  # seconds before the first attempt to reopen a lost source
RECOVERY_MAX_DELAY = 8.0
STOP_TIMEOUT = 5.0  # seconds a lost source may take to stop before it is abandoned
SPS_WAIT_TICKS = 30  # tenths of a second start() waits for the stream's SPS
HOLD_TIMEOUT = 2.0  # seconds to wait for a live source's next frame to be held
STALL_LIMIT = 5.0  # seconds without an encoded frame before the source counts as lost
BUS_WAKEUP_NS = 200_000_000  # how often the bus thread checks for shutdown
BUS_MESSAGES = Gst.MessageType.ERROR | Gst.MessageType.WARNING | Gst.MessageType.LATENCY


@dataclass
class Branch:
    """A viewer bin linked to the tees: what detach() must undo."""

    bin: Any
    links: list[tuple[Any, Any]] = field(default_factory=list)  # (tee, tee src pad)


class MediaPipeline:
    def __init__(
        self,
        video: VideoSource,
        audio: AudioSource,
        encoder: VideoEncoder,
        opus: OpusEncoder,
        *,
        fps: int = 30,
        playout_delay: bool = True,
        nack: bool = True,
        tiers: list[Tier] | None = None,
    ) -> None:
        self.fps = fps
        self.playout_delay = playout_delay
        self.nack = nack  # viewers' video transceivers resend on NACK (RTX)
        self.video = video
        self.audio = audio
        self.encoder = encoder
        self.target_bitrate: int | None = getattr(getattr(encoder, "config", None), "bitrate", None)
        self.opus = opus
        self.pipeline: Any = None
        self.has_audio = False
        self.on_fatal: Callable[[str], None] = lambda reason: None
        self.on_viewer_error: Callable[[str, str], None] = lambda viewer, reason: None
        self._branch_errors: dict[str, Callable[[str], None]] = {}  # bin name -> handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._encoder_pad: Any = None
        self._keyframe_at: dict[int, float] = {}  # tier -> its last request (monotonic)
        self._keyframe_lock = threading.Lock()
        self.keyframes_requested = 0
        self.keyframes_sent = 0
        self._bus_thread: threading.Thread | None = None
        self._bus_stop = threading.Event()
        self._started: asyncio.Event | None = None
        self.frames = 0  # encoded video frames so far
        self.meter = FrameMeter(fps)  # rate, size, encode time, gaps, time of the last frame
        self._encoder_input: Any = None
        self._watchdog: asyncio.Task[None] | None = None
        self._start_errors: list[str] = []
        # Profile and level from the stream's SPS: what every offer announces.
        self.stream_profile: ProfileLevel | None = None
        # Source loss and recovery: with `reopen_video` set, a source that errors or stops
        # is replaced (with back-off) while viewers stay connected; without, it is fatal.
        self.reopen_video: Callable[[], VideoSource] | None = None
        self.on_source_state: Callable[[str, str], None] = lambda state, reason: None
        self.source_state = "live"  # or "lost"
        self.source_lost_reason = ""
        self._source_elements: list[Any] = []
        self._abandoned: list[Any] = []  # elements whose thread is parked for good (X gone)
        self._recovery: asyncio.Task[None] | None = None
        # Encoder failures: the encode branch is rebuilt; a kind that keeps failing is
        # replaced by `fallback_encoder` (x264).
        self.fallback_encoder: Callable[[], VideoEncoder] | None = None
        self._encoder_elements: list[Any] = []
        self._encoder_failures: list[float] = []
        self._rebuilding = False
        self._groups: dict[repayload.Numbering, repayload.Group] = {}  # WHEP viewers' numberings
        self._groups_lock = threading.Lock()
        # Quality tiers: [0] is the encode above; the others are branches of their own.
        self.tiers: list[Tier] = tiers or [Tier(0, 0, 0, self.target_bitrate or 0)]
        self.tier_encoders: dict[int, VideoEncoder] = {}  # lower tiers' encoders
        self.tiers_down: set[int] = set()  # lower tiers whose encode failed
        self._tier_bins: dict[int, Any] = {}
        self._tier_pads: dict[int, Any] = {}  # where keyframe requests for a tier go
        self._source_sink: Any = None  # the pad the video source links to

    # --- construction ---------------------------------------------------------------

    def build(self) -> None:
        pipeline = Gst.Pipeline.new("aether")
        encoder_elements = self.encoder.elements()
        self._source_elements = self.video.elements()
        tiered = len(self.tiers) > 1
        if tiered:  # each viewer's tier switch (fanout/selector.py): fail now, naming the fix
            gst.require("valve", "rtpmux")
        head = [gst.make("tee", "raw-tee"), _tier_queue("tier-0-queue")] if tiered else []
        video_chain = [
            *self._source_elements,
            *head,
            *encoder_elements,
            one_segment("video-segment"),
            gst.make(
                "rtph264pay",
                "video-pay",
                pt=VIDEO_PT,
                config_interval=-1,
                aggregate_mode="zero-latency",
                mtu=RTP_MTU,
            ),
        ]
        self._add_chain(pipeline, video_chain)
        video_tee = capstee.add(pipeline, "video-tee", self._video_rtp_caps())
        video_chain[-1].link(video_tee.tee)
        self._encoder_elements = encoder_elements
        self._encoder_pad = encoder_elements[-1].get_static_pad("src")
        self._encoder_input = encoder_elements[0].get_static_pad("sink")
        self._source_sink = head[0].get_static_pad("sink") if tiered else self._encoder_input
        playout.install(
            payloader=video_chain[-1],
            rtp_caps=video_tee.capsfilter,
            playout_delay=self.playout_delay,
        )
        for tier in self.tiers[1:]:
            self._add_tier(pipeline, head[0], tier)

        audio_elements = self.audio.elements()
        self.has_audio = bool(audio_elements)
        if self.has_audio:
            audio_chain = [
                *audio_elements,
                *self.opus.elements(),
                one_segment("audio-segment"),
                gst.make("rtpopuspay", "audio-pay", pt=AUDIO_PT, mtu=RTP_MTU),
                gst.make(
                    "capsfilter",
                    "audio-rtp-caps",
                    caps=gst.caps(
                        "application/x-rtp,media=audio,encoding-name=OPUS,"
                        f"payload={AUDIO_PT},clock-rate=48000"
                    ),
                ),
                gst.make("tee", "audio-tee", allow_not_linked=True),
            ]
            self._add_chain(pipeline, audio_chain)
        self.pipeline = pipeline

    def _add_tier(self, pipeline: Any, raw_tee: Any, tier: Tier) -> None:
        """A lower tier: raw-tee -> [bin tier-N: queue, encoder at the tier's size and
        bitrate, payloader] -> video-tee-N. Its packets carry the same header extensions
        as the top tier's, so a viewer can move between them."""
        from aether.encode.base import remade

        encoder = remade(self.encoder, width=tier.width, height=tier.height, bitrate=tier.bitrate)
        encoder_elements = encoder.elements()
        payloader = gst.make("rtph264pay", "pay", pt=VIDEO_PT, config_interval=-1,
                             aggregate_mode="zero-latency", mtu=RTP_MTU)  # fmt: skip
        chain = [_tier_queue("queue"), *encoder_elements, one_segment("segment"), payloader]
        tier_bin = Gst.Bin.new(f"tier-{tier.index}")
        for element in chain:
            tier_bin.add(element)
        gst.link_many(*chain)
        tier_bin.add_pad(Gst.GhostPad.new("sink", chain[0].get_static_pad("sink")))
        tier_bin.add_pad(Gst.GhostPad.new("src", payloader.get_static_pad("src")))
        pipeline.add(tier_bin)
        tee = capstee.add(pipeline, f"video-tee-{tier.index}", self._video_rtp_caps())
        playout.install(
            payloader=payloader, rtp_caps=tee.capsfilter, playout_delay=self.playout_delay
        )
        raw_tee.request_pad_simple("src_%u").link(tier_bin.get_static_pad("sink"))
        tier_bin.link(tee.tee)
        self.tier_encoders[tier.index] = encoder
        self._tier_bins[tier.index] = tier_bin
        self._tier_pads[tier.index] = encoder_elements[-1].get_static_pad("src")

    @staticmethod
    def _video_rtp_caps() -> Any:
        return gst.caps(
            f"application/x-rtp,media=video,encoding-name=H264,payload={VIDEO_PT},"
            "clock-rate=90000,rtcp-fb-nack-pli=(boolean)true,rtcp-fb-ccm-fir=(boolean)true"
        )

    @staticmethod
    def _add_chain(pipeline: Any, chain: list[Any]) -> None:
        for element in chain:
            pipeline.add(element)
        gst.link_many(*chain)

    # --- lifecycle --------------------------------------------------------------------

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Set the pipeline PLAYING and wait for the first encoded frame."""
        self._loop = loop
        self._start_errors = []
        self._started = started = asyncio.Event()  # set by the first frame or an error
        self._bus_thread = threading.Thread(
            target=self._pump_bus, args=(loop,), name="aether-bus", daemon=True
        )
        self._bus_thread.start()
        frames: list[bool] = []

        def on_first_buffer(_pad: Any, _info: Any) -> Any:
            frames.append(True)
            loop.call_soon_threadsafe(started.set)
            return Gst.PadProbeReturn.REMOVE

        self._probe_encoder()  # first: the SPS is read before the first frame is announced
        self._encoder_pad.add_probe(Gst.PadProbeType.BUFFER, on_first_buffer)
        errors = self._start_errors
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            await asyncio.sleep(0.1)  # let the bus thread deliver the reason
            errors.append("the pipeline refused to start")
        else:
            try:
                await asyncio.wait_for(started.wait(), timeout=FIRST_FRAME_TIMEOUT)
            except TimeoutError:
                errors.append(f"no video frame within {FIRST_FRAME_TIMEOUT:.0f} s")
        self._started = None
        if errors or not frames:
            await self.stop()
            reason = "; ".join(errors) or "the pipeline failed to start"
            raise StartupError(
                f"media pipeline failed to start: {reason}",
                fix="check the source (display, audio server) with AETHER_LOG=debug; "
                "GST_DEBUG=3 shows GStreamer's own view",
            )
        # Offers announce the profile read from the SPS: wait for it when the first frame
        # had none (an encoder may start without a keyframe), asking for a keyframe.
        for tick in range(SPS_WAIT_TICKS):
            if self.stream_profile is not None:
                break
            if tick % 10 == 0:
                self.request_keyframe("the stream's SPS is not known yet")
            await asyncio.sleep(0.1)
        else:
            log.warning("no SPS in the first %.0f s: offers keep rtph264pay's profile-level-id",
                        SPS_WAIT_TICKS / 10)  # fmt: skip
        self._watchdog = asyncio.create_task(self._watch_frames(), name="frame-watchdog")
        log.info(
            "media pipeline playing: video %s, encoder %s, audio %s",
            self.video.describe(),
            self.encoder.describe(),
            self.audio.describe(),
        )

    def _probe_encoder(self) -> None:
        self._encoder_pad.add_probe(Gst.PadProbeType.BUFFER, self._find_sps)
        self._encoder_pad.add_probe(Gst.PadProbeType.BUFFER, self._count_frame)
        self._encoder_input.add_probe(Gst.PadProbeType.BUFFER, self._frame_in)

    def _find_sps(self, pad: Any, info: Any) -> Any:
        """Read the stream's profile and level from its first SPS (in the first keyframe)."""
        buffer = info.get_buffer()
        if buffer.has_flags(Gst.BufferFlags.DELTA_UNIT):
            return Gst.PadProbeReturn.OK
        caps = pad.get_current_caps()
        avc = caps is not None and caps.get_structure(0).get_string("stream-format") == "avc"
        try:
            found = find_sps(buffer.extract_dup(0, buffer.get_size()), avc=avc)
        except H264Error as exc:
            log.warning("cannot read the H.264 stream's SPS (%s): the offer keeps rtph264pay's "
                        "profile-level-id", exc)  # fmt: skip
            return Gst.PadProbeReturn.REMOVE
        if found is None:
            return Gst.PadProbeReturn.OK
        self.stream_profile = found
        log.info("H.264 stream: %s", found.describe())
        return Gst.PadProbeReturn.REMOVE

    def _count_frame(self, _pad: Any, info: Any) -> Any:
        self.frames += 1  # once per encoded frame, not per packet
        self.meter.frame_out(info.get_buffer().get_size())
        return Gst.PadProbeReturn.OK

    def _frame_in(self, _pad: Any, info: Any) -> Any:
        self.meter.frame_in(info.get_buffer().pts)
        return Gst.PadProbeReturn.OK

    def state(self) -> str:
        """The pipeline's current state ("playing", "paused", "null", ...); never blocks."""
        if self.pipeline is None:
            return "null"
        _result, current, _pending = self.pipeline.get_state(0)
        return str(current.value_nick)

    async def _watch_frames(self) -> None:
        """A source that stops producing (X server gone, device unplugged) is lost: it is
        replaced when it can be (see source_lost), else the server ends."""
        limit = max(STALL_LIMIT, 3 / self.fps)
        last, since = self.frames, time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            if self.frames != last or self.source_state == "lost":
                last, since = self.frames, time.monotonic()
            elif time.monotonic() - since >= limit:
                reason = f"no video frame for {limit:.0f} s from {self.video.describe()}"
                if self.reopen_video is None:
                    log.error("%s", reason)
                    self.on_fatal(f"video source stalled: no frame for {limit:.0f} s "
                                  "(display closed or device gone?)")  # fmt: skip
                    return
                self.source_lost(reason)

    # --- source loss and recovery -------------------------------------------------------

    def source_lost(self, reason: str, parked: bool = False) -> None:
        """On the loop: the video source failed. `parked`: its streaming thread can never
        be stopped (libX11 lost the display), so its elements are abandoned, not stopped."""
        if self.source_state == "lost":
            return
        if self.reopen_video is None:
            self.on_fatal(reason)
            return
        log.warning("video source lost: %s; viewers stay connected, retrying", reason)
        self.source_state, self.source_lost_reason = "lost", reason
        self.on_source_state("lost", reason)
        self._recovery = asyncio.get_running_loop().create_task(
            self._recover(parked), name="source-recovery"
        )

    def encoder_failed(self, reason: str) -> None:
        """On the loop: the encoder failed. Rebuild its branch; after ENCODER_RETRIES
        failures within ENCODER_WINDOW seconds, fall back to `fallback_encoder`."""
        if self._rebuilding or self._loop is None:
            return
        now = time.monotonic()
        self._encoder_failures = [t for t in self._encoder_failures if now - t < ENCODER_WINDOW]
        self._encoder_failures.append(now)
        replacement = self.encoder
        if len(self._encoder_failures) >= ENCODER_RETRIES and self.fallback_encoder is not None:
            fallback = self.fallback_encoder()
            if fallback.name != self.encoder.name:
                log.warning("encoder %s keeps failing; falling back to %s",
                            self.encoder.name, fallback.name)  # fmt: skip
                replacement = fallback
        log.warning("encoder failed (%s); rebuilding the encode branch with %s",
                    reason, replacement.name)  # fmt: skip
        self._rebuilding = True
        self._loop.create_task(self._rebuild_encoder(replacement), name="encoder-rebuild")

    async def set_fps(self, fps: int, encoder: VideoEncoder) -> None:
        """On the loop: change the frame rate while streaming, viewers staying connected.

        The source's caps filter takes the new rate and the encode branch is rebuilt with
        `encoder`, made for it (its keyframe interval and VBV buffer count frames), while
        the source's frames are held. Raises ConfigError when it cannot be done now."""
        caps_filter = next(
            (e for e in self._source_elements if e.get_name() == "capture-caps"), None
        )
        if caps_filter is None or self.source_state != "live":
            raise ConfigError("fps", fps, "unchanged while the video source is lost")
        if self._rebuilding:
            raise ConfigError("fps", fps, "unchanged while the encoder is being rebuilt")
        # (Gst.Fraction needs gst-python's overrides: edit the caps as text instead.)
        text = caps_filter.get_property("caps").to_string()
        caps = gst.caps(re.sub(r"framerate=\(fraction\)[0-9/]+", f"framerate={fps}/1", text))
        self._rebuilding = True
        await self._rebuild_encoder(encoder, lambda: caps_filter.set_property("caps", caps))
        self.fps = fps
        self.meter.frame_ns = 1e9 / fps

    async def _rebuild_encoder(
        self, encoder: VideoEncoder, while_held: Callable[[], None] | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        upstream = self._encoder_input.get_peer()
        hold: int | None = None
        try:
            old = self._encoder_elements
            downstream = self._encoder_pad.get_peer()
            if upstream is not None:
                # Hold the source's frames at its pad while the encoder is swapped: pushed
                # into an unlinked pad, a source stops for good (not-linked).
                held = threading.Event()

                def on_hold(_pad: Any, _info: Any) -> Any:
                    held.set()
                    return Gst.PadProbeReturn.OK

                hold = upstream.add_probe(Gst.PadProbeType.BLOCK_DOWNSTREAM, on_hold)
                await loop.run_in_executor(None, held.wait, HOLD_TIMEOUT)
                upstream.unlink(self._encoder_input)
            if downstream is not None:
                self._encoder_pad.unlink(downstream)
            for element in old:
                self.pipeline.remove(element)
            await loop.run_in_executor(None, _set_null, old)
            elements = encoder.elements()
            for element in elements:
                self.pipeline.add(element)
            gst.link_many(*elements)
            self._encoder_elements = elements
            if self._source_sink is self._encoder_input:
                self._source_sink = elements[0].get_static_pad("sink")
            self._encoder_input = elements[0].get_static_pad("sink")
            self._encoder_pad = elements[-1].get_static_pad("src")
            if while_held is not None:
                while_held()
            if upstream is not None:
                upstream.link(self._encoder_input)
            if downstream is not None:
                self._encoder_pad.link(downstream)
            self._probe_encoder()
            for element in elements:
                element.sync_state_with_parent()
            self.encoder = encoder
            log.info("encode branch rebuilt: %s", encoder.describe())
        finally:
            if upstream is not None and hold is not None:
                upstream.remove_probe(hold)
            self._rebuilding = False

    async def _drop_source(self, parked: bool) -> None:
        """Unlink the current source from the encoder and take it out of the pipeline;
        stop it, or abandon it when its thread is parked or does not stop in time."""
        dead, self._source_elements = self._source_elements, []
        peer = self._source_sink.get_peer()
        if peer is not None:
            peer.unlink(self._source_sink)
        for element in dead:
            self.pipeline.remove(element)
        if not parked:
            stopping = asyncio.get_running_loop().run_in_executor(None, _set_null, dead)
            try:
                await asyncio.wait_for(stopping, STOP_TIMEOUT)
            except TimeoutError:  # its thread is stuck (in the X server, a driver)
                log.warning("the lost source did not stop in %.0f s; abandoning it", STOP_TIMEOUT)
                parked = True
        if parked:
            self._abandoned.extend(dead)  # never stopped, never freed: its thread is parked

    async def _recover(self, parked: bool) -> None:
        loop = asyncio.get_running_loop()
        await self._drop_source(parked)
        delay = RECOVERY_FIRST_DELAY
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECOVERY_MAX_DELAY)
            assert self.reopen_video is not None
            try:
                source = await loop.run_in_executor(None, self.reopen_video)
                elements = source.elements()
            except AetherError as exc:
                log.info("video source still unavailable (next try in %.0f s): %s", delay, exc)
                continue
            frames = self.frames
            for element in elements:
                self.pipeline.add(element)
            if getattr(source, "starts_at_zero", False):
                # A file's timestamps start at 0 again: shift them to now, or the pacing
                # would see every frame as late and push the whole file at once.
                clock = self.pipeline.get_clock()
                now = clock.get_time() - self.pipeline.get_base_time() if clock else 0
                elements[0].get_static_pad("src").set_offset(now)
            gst.link_many(*elements)
            elements[-1].get_static_pad("src").link(self._source_sink)
            for element in elements:
                element.sync_state_with_parent()
            self._source_elements = elements
            for _ in range(int(FIRST_FRAME_TIMEOUT * 10)):
                await asyncio.sleep(0.1)
                if self.frames > frames or self.source_state != "lost":
                    break
            if self.frames <= frames:
                log.info("video source reopened but sent no frame; retrying")
                await self._drop_source(parked=False)
                continue
            self.video = source
            self.source_state, self.source_lost_reason = "live", ""
            self.request_keyframe("source back")
            log.info("video source back: %s", source.describe())
            self.on_source_state("live", source.describe())
            return

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._recovery is not None:
            self._recovery.cancel()
        if self.pipeline is not None:
            pipeline = self.pipeline
            await asyncio.get_running_loop().run_in_executor(
                None, pipeline.set_state, Gst.State.NULL
            )
        self._bus_stop.set()
        if self._bus_thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._bus_thread.join, 2)

    def _pump_bus(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bus thread: hand the messages we act on to the loop; the rest are dropped.

        A Python bus sync handler would be simpler, but PyGObject 3.42 leaks every message
        passed to one, and a message holds its source element: removed viewers' webrtcbins
        (sockets, threads) were never freed. timed_pop_filtered returns owned references.
        """
        bus = self.pipeline.get_bus()
        while not self._bus_stop.is_set():
            message = bus.timed_pop_filtered(BUS_WAKEUP_NS, BUS_MESSAGES)
            if message is not None:
                loop.call_soon_threadsafe(self._on_message, message)

    def _on_message(self, message: Any) -> None:
        kind = message.type
        if kind == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            if self._started is not None:  # still starting: start() reports it
                self._start_errors.append(f"{message.src.get_name()}: {err.message}")
                log.debug("pipeline error detail: %s", debug)
                self._started.set()
                return
            viewer = owning_viewer(message.src)
            handler = self._branch_error_handler(message.src)
            if handler is not None:
                handler(f"{message.src.get_name()}: {err.message}")
            elif viewer is not None:
                self.on_viewer_error(viewer, err.message)
            elif _within(message.src, [*self._source_elements, *self._abandoned]):
                self.source_lost(f"{message.src.get_name()}: {err.message}")
            elif _within(message.src, self._encoder_elements):
                self.encoder_failed(f"{message.src.get_name()}: {err.message}")
            elif (tier := self._tier_of(message.src)) is not None:
                self.tier_failed(tier, f"{message.src.get_name()}: {err.message}")
            else:
                log.error("pipeline error from %s: %s", message.src.get_name(), err.message)
                self.on_fatal(f"{message.src.get_name()}: {err.message}")
        elif kind == Gst.MessageType.WARNING:
            warn, _debug = message.parse_warning()
            log.warning("pipeline warning from %s: %s", message.src.get_name(), warn.message)
        elif kind == Gst.MessageType.LATENCY:
            self.pipeline.recalculate_latency()

    def _tier_of(self, element: Any) -> int | None:
        return next((i for i, b in self._tier_bins.items() if _within(element, [b])), None)

    def tier_failed(self, tier: int, reason: str) -> None:
        """On the loop: a lower tier's encode failed. Its branch is stopped and no viewer
        is sent to it any more (peers/adapt.py moves its viewers to the top tier)."""
        if tier in self.tiers_down:
            return
        log.error("tier %d failed (%s); its viewers go to tier 0", tier, reason)
        self.tiers_down.add(tier)
        self._tier_bins[tier].get_static_pad("sink").get_peer().add_probe(
            Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST,
            lambda _pad, _info: Gst.PadProbeReturn.DROP,
        )

    def element_count(self) -> int:
        """Elements in the pipeline, viewer bins' contents included (a leak shows here)."""
        return len(gst.elements(self.pipeline, recurse=True))

    # --- viewers ----------------------------------------------------------------------

    def _our_numbering(self, kind: str) -> repayload.Numbering:
        if kind == "video":
            playout_id = playout.EXTENSION_ID if self.playout_delay else None
            return repayload.Numbering(kind, VIDEO_PT, playout_id, playout.CAPTURE_TIME_ID)
        return repayload.Numbering(kind, AUDIO_PT)

    def tiers_for(self, numbering: repayload.Numbering | None) -> int:
        """How many tiers a viewer numbering video this way can move between: all of
        them with our numbering; only the top one through a payload group."""
        if numbering is None or numbering == self._our_numbering("video"):
            return len(self.tiers)
        return 1

    def _tee_for(self, numbering: repayload.Numbering | None, kind: str) -> Any:
        """The tee that carries `kind` numbered as a viewer asked: the shared one when the
        numbering is ours (or None), else a payload group's, made on first use. Call with
        _groups_lock held."""
        if numbering is None or numbering == self._our_numbering(kind):
            return self.pipeline.get_by_name(f"{kind}-tee")
        if numbering not in self._groups:
            if len(self._groups) >= repayload.MAX_GROUPS:
                raise ProtocolError(
                    "server-full",
                    f"{repayload.MAX_GROUPS} payload numberings in use; this viewer's would "
                    "be one more",
                )
            source = self.pipeline.get_by_name(f"{kind}-tee")
            self._groups[numbering] = repayload.add_group(self.pipeline, source, numbering, RTP_MTU)
        return self._groups[numbering].tee

    def attach(
        self,
        viewer_bin: Any,
        numberings: dict[str, repayload.Numbering | None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> Branch:
        """Add a viewer bin to the running pipeline and link its ghost pads (`video`, and
        `audio` if it has one) to the tees: the shared ones, or for a kind numbered
        otherwise in `numberings` (a WHEP viewer's), that numbering's payload group. With
        `on_error`, an error inside the bin goes there (on the loop), not to on_fatal or
        on_viewer_error."""
        numberings = numberings or {}
        with self._groups_lock:
            tees = {kind: self._tee_for(numberings.get(kind), kind) for kind in self._kinds()}
            if on_error is not None:
                self._branch_errors[viewer_bin.get_name()] = on_error
            self.pipeline.add(viewer_bin)
            viewer_bin.sync_state_with_parent()
            branch = Branch(viewer_bin)
            links = [(kind, tee) for kind, tee in tees.items()]
            links += [(f"video_{i}", self.pipeline.get_by_name(f"video-tee-{i}"))
                      for i in self._tier_bins]  # fmt: skip
            for pad_name, tee in links:
                if viewer_bin.get_static_pad(pad_name) is None:
                    continue  # a viewer that takes no audio, or only the top tier
                tee_pad = tee.request_pad_simple("src_%u")
                result = tee_pad.link(viewer_bin.get_static_pad(pad_name))
                if result != Gst.PadLinkReturn.OK:
                    raise RuntimeError(
                        f"cannot link {tee.get_name()} to viewer: {result.value_nick}"
                    )
                branch.links.append((tee, tee_pad))
        return branch

    def _kinds(self) -> list[str]:
        return ["video", "audio"] if self.has_audio else ["video"]

    def detach(self, branch: Branch) -> None:
        """Unlink a viewer bin once its tee pads are idle, then stop and remove it (and a
        payload group it was the last viewer of).

        Blocking (waits for idle pads and for the bin to reach NULL): call it from a worker
        thread, never from the event loop.
        """
        for tee, tee_pad in branch.links:
            _unlink_when_idle(tee, tee_pad, branch.bin.get_name())
        branch.bin.set_state(Gst.State.NULL)
        self.pipeline.remove(branch.bin)
        self._branch_errors.pop(branch.bin.get_name(), None)
        with self._groups_lock:
            for numbering, group in list(self._groups.items()):
                if group.viewers == 0:
                    del self._groups[numbering]
                    source = group.source_pad.get_parent_element()
                    _unlink_when_idle(source, group.source_pad, numbering.tee_name)
                    _set_null(group.elements)
                    for element in group.elements:
                        self.pipeline.remove(element)
                    log.info("payload group for %s PT %d removed (no viewer left)",
                             numbering.kind, numbering.payload_type)  # fmt: skip

    def _branch_error_handler(self, element: Any) -> Callable[[str], None] | None:
        """The on_error of the attached bin that holds `element`, if it gave one."""
        while element is not None:
            handler = self._branch_errors.get(element.get_name() or "")
            if handler is not None and element.get_parent() is self.pipeline:
                return handler
            element = element.get_parent()
        return None

    def request_keyframe(self, reason: str, tier: int = 0) -> bool:
        """Ask the encoder of `tier` for a keyframe; requests to one encoder within
        KEYFRAME_MIN_INTERVAL coalesce. `keyframes_requested`/`_sent` count the top
        tier's (what /stats shows).

        Thread-safe. Returns True when a request went to the encoder.
        """
        with self._keyframe_lock:
            if tier == 0:
                self.keyframes_requested += 1
            now = time.monotonic()
            if now - self._keyframe_at.get(tier, -KEYFRAME_MIN_INTERVAL) < KEYFRAME_MIN_INTERVAL:
                return False
            self._keyframe_at[tier] = now
            if tier == 0:
                self.keyframes_sent += 1
        log.debug("%skeyframe requested (%s)", f"tier {tier} " if tier else "", reason)
        pad = self._encoder_pad if tier == 0 else self._tier_pads[tier]
        event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
        return bool(pad.send_event(event))

    def set_tier_bitrate(self, tier: int, kbps: int) -> None:
        """The running encoder of `tier` takes a new bitrate (0: the top tier's)."""
        if tier == 0:
            self.encoder.set_bitrate(kbps)
        else:
            self.tier_encoders[tier].set_bitrate(kbps)


def media_for(config: Config, encoder: VideoEncoder | None = None) -> MediaPipeline:
    """The pipeline for a configuration: its sources, its (checked) encoder, Opus."""
    from aether.capture import resolve_audio, resolve_video
    from aether.encode import resolve_encoder
    from aether.fanout import tiers

    return MediaPipeline(
        resolve_video(config),
        resolve_audio(config),
        encoder or resolve_encoder(config),
        OpusEncoder(config),
        fps=config.fps,
        playout_delay=config.playout_delay,
        nack=config.nack,
        tiers=tiers.plan(
            config.width, config.height, config.bitrate, config.tiers, config.floor_bitrate
        ),
    )


def _within(element: Any, elements: list[Any]) -> bool:
    """True when `element` is one of `elements` or inside one of them (a bin)."""
    while element is not None:
        if any(element is e for e in elements):
            return True
        element = element.get_parent()
    return False


def _unlink_when_idle(tee: Any, tee_pad: Any, what: str) -> None:
    """Unlink a tee's request pad and release it once no buffer is passing (blocking)."""
    done = threading.Event()

    def unlink(pad: Any, _info: Any) -> Any:
        peer = pad.get_peer()
        if peer is not None:
            pad.unlink(peer)
        tee.release_request_pad(pad)
        done.set()
        return Gst.PadProbeReturn.REMOVE

    tee_pad.add_probe(Gst.PadProbeType.IDLE, unlink)
    if not done.wait(timeout=2.0):
        log.warning("tee pad of %s never went idle; removing anyway", what)


def one_segment(name: str) -> Any:
    """In front of a payloader: timestamps become running times, in one segment from 0.
    Every stream then has the same segment, which lets a viewer's rtpfunnel stop re-sending
    it at each switch between audio and video (peers/segments.py). x264enc alone shifts
    its timestamps and segment by 1000 hours (so that DTS never goes negative)."""
    return gst.make("identity", name, single_segment=True, signal_handoffs=False)


def _tier_queue(name: str) -> Any:
    """Raw frames into one tier's encoder: a slow encoder loses frames, never holds the
    capture (or the other tiers) back."""
    return gst.make("queue", name, leaky="downstream", max_size_buffers=2,
                    max_size_bytes=0, max_size_time=0)  # fmt: skip


def _set_null(elements: list[Any]) -> None:
    for element in elements:
        element.set_state(Gst.State.NULL)


def owning_viewer(element: Any) -> str | None:
    """The viewer id whose bin holds `element`, or None for the shared pipeline."""
    node = element
    while node is not None:
        name = node.get_name() or ""
        if name.startswith(VIEWER_PREFIX):
            return str(name[len(VIEWER_PREFIX) :])
        node = node.get_parent()
    return None
