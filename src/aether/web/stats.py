"""`GET /stats`: what the server and each viewer are doing, as JSON (admin only).

The same snapshot feeds `/metrics` (web/metrics.py); docs/operations.md explains each
figure. webrtcbin's figures are fetched on demand and reused for STATS_MAX_AGE.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from aether.peers.registry import Viewers
from aether.peers.viewer import ViewerPeer
from aether.telemetry.webrtcstats import StreamStats
from aether.web.keys import ADAPTER, CONFIG, FORWARDING, PUBLISHER, STARTED_AT, VIEWERS
from aether.web.probes import probe


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def stream_figures(stream: StreamStats | None, rate_bps: float | None) -> dict[str, Any] | None:
    """One stream's figures; the bitrate is measured between the last two samples, or
    GStreamer's running estimate until there are two."""
    if stream is None:
        return None
    return {
        "bytes_sent": stream.bytes_sent,
        "packets_sent": stream.packets_sent,
        "bitrate_kbps": _r((stream.bitrate_bps if rate_bps is None else rate_bps) / 1000),
        "packets_lost": stream.packets_lost,
        "fraction_lost": round(stream.fraction_lost, 4),
        "jitter_ms": _ms(stream.jitter_s),
        "rtt_ms": _ms(stream.rtt_s),
        "nack_count": stream.nack_count,
        "pli_count": stream.pli_count,
        "fir_count": stream.fir_count,
        "retransmitted_packets": stream.retransmitted_packets,
    }


def viewer_figures(viewers: Viewers, peer: ViewerPeer, now: float) -> dict[str, Any]:
    net, client = peer.net, peer.client
    video = stream_figures(net.video, peer.send_rates["video"])
    audio = stream_figures(net.audio, peer.send_rates["audio"])
    bitrate = None
    if video is not None or audio is not None:
        bitrate = _r(sum(s["bitrate_kbps"] for s in (video, audio) if s is not None))
    candidates = None
    if net.local_candidate or net.remote_candidate:
        candidates = {"local": net.local_candidate, "remote": net.remote_candidate}
    return {
        "id": peer.id,
        "kind": peer.kind,
        "address": peer.address,
        "state": peer.state,
        "ice_state": peer.ice_state,
        "candidate_type": candidates,
        "since_s": round(now - peer.created_at, 1),
        "connected_s": round(now - peer.connected_at, 1) if peer.connected_at else None,
        "queue_overruns": peer.overruns,
        "keyframe_requests": peer.keyframe_requests,
        # Quality tier (0: the top one) and how many it can move between (--tiers).
        "tier": peer.tier,
        "tiers": len(peer.selector.valves) if peer.selector is not None else 1,
        "tier_switches": peer.selector.switches if peer.selector is not None else 0,
        "estimate_kbps": _r(peer.estimate_kbps),  # its bandwidth estimate (--adapt)
        # NACKed packets resent, and refused past its resend budget (peers/resend.py)
        "resends_skipped": peer.resends.skipped,
        "bitrate_kbps": bitrate,
        "rtt_ms": _ms(net.rtt_s),
        "video": video,
        "audio": audio,
        "stats_age_s": _r(now - peer.net_at, 2) if peer.net_at is not None else None,
        "latency_ms": _r(viewers.latency_ms(peer)),
        "latency_measured": viewers.measured_latency_ms(peer) is not None,
        "estimated_latency_ms": _r(viewers.estimated_latency_ms(peer)),
        "client": None
        if client is None or peer.client_at is None
        else {
            "fps": _r(client.fps),
            "frames_decoded": client.frames_decoded,
            "frames_dropped": client.frames_dropped,
            "freeze_count": client.freeze_count,
            "jitter_buffer_ms": _r(client.jitter_buffer_ms),
            "latency_ms": _r(client.latency_ms),
            "glass_to_glass_ms": _r(client.glass_to_glass_ms),
            "rtt_ms": _r(client.rtt_ms, 2),
            "bytes_received": client.bytes_received,
            "packets_received": client.packets_received,
            "packets_lost": client.packets_lost,
            "age_s": round(now - peer.client_at, 1),
        },
    }


def snapshot(request: web.Request) -> dict[str, Any]:
    config = request.app[CONFIG]
    viewers = request.app[VIEWERS]
    media = viewers.media
    meter = media.meter
    now = time.monotonic()
    peers = [viewer_figures(viewers, peer, now) for peer in viewers]
    ready = probe(media)
    publisher = request.app.get(PUBLISHER)
    adapter = request.app.get(ADAPTER)
    top_bitrate = (adapter and adapter.top_kbps) or media.target_bitrate or config.bitrate
    return {
        "uptime_s": round(now - request.app[STARTED_AT], 1),
        "ready": ready.ready,
        "not_ready_reason": None if ready.ready else ready.reason,
        "pipeline": ready.pipeline,
        "source": media.video.describe(),
        "source_state": media.source_state,  # "live", or "lost" while it is reopened
        "source_lost_reason": media.source_lost_reason or None,
        "audio": media.audio.describe(),
        "encoder": media.encoder.describe(),
        "width": config.width,
        "height": config.height,
        "fps": media.fps,  # as set by --fps, or since by POST /encoder
        "fps_actual": _r(meter.current_fps()),
        "bitrate_kbps": top_bitrate,  # the top encode's target, adaptation included
        "max_bitrate_kbps": media.target_bitrate or config.bitrate,
        "encoded_bitrate_kbps": _r(meter.current_bitrate() / 1000),
        "sent_bitrate_kbps": _r(sum(p["bitrate_kbps"] or 0 for p in peers)),
        "encode_ms": _r(meter.encode_ms, 2),
        "frames_encoded": media.frames,
        "pipeline_elements": media.element_count(),
        "frames_dropped": meter.dropped,
        "last_frame_age_s": _r(meter.age(), 3),
        "encoded_bytes": meter.bytes,
        "encode_seconds_total": round(meter.encode_seconds, 3),
        "encode_frames_timed": meter.encode_count,
        "keyframes": {"requested": media.keyframes_requested, "sent": media.keyframes_sent},
        "viewers_now": len(viewers),
        "viewers_connected": sum(1 for p in peers if p["state"] == "connected"),
        "viewers_total": viewers.total_admitted,
        "spare_peer_ready": viewers.spare_ready,
        "max_viewers": viewers.max_viewers,
        "latency_histogram": {
            "buckets": viewers.latency.cumulative(),
            "sum_s": round(viewers.latency.sum, 4),
            "count": viewers.latency.count,
        },
        "tiers": [
            {
                "tier": tier.index,
                "width": tier.width if tier.index else config.width,
                "height": tier.height if tier.index else config.height,
                "bitrate_kbps": tier.bitrate if tier.index else top_bitrate,
                "viewers": sum(1 for p in peers if p["tier"] == tier.index),
                "failed": tier.index in media.tiers_down,
            }
            for tier in media.tiers
        ],
        "viewers": peers,
        # --rtp-forward targets (Janus mountpoints): packets sent, RTCP and PLIs back
        "rtp_forward": request.app[FORWARDING].figures(),
        # The WHIP publisher (--whip-url) is not a viewer: not counted above.
        "publisher": None if publisher is None else publisher.figures(),
    }


async def fresh_snapshot(request: web.Request) -> dict[str, Any]:
    """The snapshot after refreshing every viewer's webrtcbin figures (at most ~1 s)."""
    await asyncio.gather(*(peer.refresh_stats() for peer in request.app[VIEWERS]))
    return snapshot(request)


async def stats(request: web.Request) -> web.Response:
    return web.json_response(await fresh_snapshot(request), headers={"Cache-Control": "no-store"})
