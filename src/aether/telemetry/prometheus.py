"""The /stats snapshot as Prometheus metrics: one custom collector, no global registry.

Each scrape builds a private CollectorRegistry around the snapshot it was given, so
nothing accumulates between scrapes (or between tests). docs/operations.md lists every
metric with its meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

VIEWER_STATES = ("new", "connecting", "connected", "disconnected", "failed", "closed")
KINDS = ("video", "audio")
KBPS = 1000 / 8  # kbit/s -> bytes/s: Prometheus' base unit for data is the byte


def _gauge(name: str, doc: str, value: float | None) -> Iterator[Metric]:
    if value is not None:
        yield GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> Metric:
    return CounterMetricFamily(name, doc, value=value)


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


class SnapshotCollector(Collector):
    def __init__(self, snap: dict[str, Any]) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        s = self.snap
        yield from _gauge("aether_uptime_seconds", "Seconds since the server started.",
                          s["uptime_s"])  # fmt: skip
        yield from _gauge("aether_ready", "1 while /ready answers 200, else 0.", int(s["ready"]))
        yield from _gauge("aether_source_last_frame_age_seconds",
                          "Seconds since the newest encoded video frame.",
                          s["last_frame_age_s"])  # fmt: skip
        yield from _gauge("aether_target_fps", "Configured frame rate.", s["fps"])
        yield from _gauge("aether_fps", "Encoded frames per second, over the last second.",
                          s["fps_actual"])  # fmt: skip
        yield from _gauge("aether_target_bytes_per_second",
                          "Top encode's target bitrate now (adaptation included).",
                          s["bitrate_kbps"] * KBPS)  # fmt: skip
        yield from _gauge("aether_max_bytes_per_second",
                          "Configured (or POST /encoder) video bitrate: the top's most.",
                          _scaled(s.get("max_bitrate_kbps"), KBPS))  # fmt: skip
        yield from _gauge("aether_encoded_bytes_per_second",
                          "Encoded video bitrate, over the last second.",
                          _scaled(s["encoded_bitrate_kbps"], KBPS))  # fmt: skip
        yield from _gauge("aether_sent_bytes_per_second",
                          "Media sent to all viewers (RTP payload).",
                          _scaled(s["sent_bitrate_kbps"], KBPS))  # fmt: skip
        yield _counter("aether_frames_encoded", "Video frames encoded.", s["frames_encoded"])
        yield _counter("aether_frames_dropped",
                       "Video frames the source failed to deliver (capture timestamp gaps).",
                       s["frames_dropped"])  # fmt: skip
        yield _counter("aether_encoded_bytes", "Encoded video bytes.", s["encoded_bytes"])
        yield SummaryMetricFamily(
            "aether_encode_seconds",
            "Time from raw frame to encoded frame (convert, scale, encode).",
            count_value=s["encode_frames_timed"],
            sum_value=s["encode_seconds_total"],
        )
        keyframes = s["keyframes"]
        yield _counter("aether_keyframes_requested",
                       "Keyframe requests (viewers joining, PLI/FIR, lagging viewers).",
                       keyframes["requested"])  # fmt: skip
        yield _counter("aether_keyframes_sent", "Keyframe requests passed to the encoder.",
                       keyframes["sent"])  # fmt: skip
        yield from self._viewers(s)
        yield from self._forwards(s.get("rtp_forward", []))
        yield from self._publisher(s.get("publisher"))
        histogram = s["latency_histogram"]
        yield HistogramMetricFamily(
            "aether_viewer_latency_seconds",
            "Glass-to-glass latency reported by viewers (measured from the stamped capture time, "
            "else estimated), every report.",
            buckets=[(le, float(n)) for le, n in histogram["buckets"]],
            sum_value=histogram["sum_s"],
        )

    @staticmethod
    def _publisher(publisher: dict[str, Any] | None) -> Iterator[Metric]:
        """The WHIP publisher (--whip-url), when there is one."""
        if publisher is None:
            return
        yield from _gauge("aether_publisher_up", "1 while publishing to the WHIP ingest, else 0.",
                          int(publisher["state"] == "publishing"))  # fmt: skip
        yield _counter("aether_publisher_attempts", "Offers posted to the WHIP ingest.",
                       publisher["attempts"])  # fmt: skip
        yield _counter("aether_publisher_sessions",
                       "WHIP sessions that connected (the first and each reconnect).",
                       publisher["sessions"])  # fmt: skip

    def _viewers(self, s: dict[str, Any]) -> Iterator[Metric]:
        viewers = s["viewers"]
        by_state = GaugeMetricFamily("aether_viewers", "Viewers now, by connection state.",
                                     labels=["state"])  # fmt: skip
        for state in VIEWER_STATES:
            by_state.add_metric([state], sum(1 for v in viewers if v["state"] == state))
        yield by_state
        yield _counter("aether_viewers_admitted", "Viewers admitted since start.",
                       s["viewers_total"])  # fmt: skip
        yield from _gauge("aether_max_viewers", "Viewer limit.", s["max_viewers"])

        def family(kind: type, name: str, doc: str, labels: list[str]) -> Any:
            return kind(name, doc, labels=labels)

        per_kind = {
            "bytes_sent": family(CounterMetricFamily, "aether_viewer_sent_bytes",
                                 "RTP payload bytes sent.", ["viewer", "kind"]),
            "packets_sent": family(CounterMetricFamily, "aether_viewer_sent_packets",
                                   "RTP packets sent.", ["viewer", "kind"]),
            "packets_lost": family(CounterMetricFamily, "aether_viewer_lost_packets",
                                   "Packets the viewer reports lost (RTCP).", ["viewer", "kind"]),
            "fraction_lost": family(GaugeMetricFamily, "aether_viewer_fraction_lost",
                                    "Fraction lost in the last RTCP report interval.",
                                    ["viewer", "kind"]),
            "jitter_ms": family(GaugeMetricFamily, "aether_viewer_jitter_seconds",
                                "Interarrival jitter the viewer reports.", ["viewer", "kind"]),
            "nack_count": family(CounterMetricFamily, "aether_viewer_nacks_received",
                                 "NACKs received (the viewer asked for resends).",
                                 ["viewer", "kind"]),
            "pli_count": family(CounterMetricFamily, "aether_viewer_plis_received",
                                "Picture loss indications received.", ["viewer", "kind"]),
            "fir_count": family(CounterMetricFamily, "aether_viewer_firs_received",
                                "Full intra requests received.", ["viewer", "kind"]),
            "retransmitted_packets": family(CounterMetricFamily,
                                            "aether_viewer_retransmitted_packets",
                                            "Packets resent on NACK (RTX).", ["viewer", "kind"]),
        }  # fmt: skip
        per_viewer = {
            "bitrate_kbps": family(GaugeMetricFamily, "aether_viewer_sent_bytes_per_second",
                                   "Sending rate to the viewer (RTP payload).", ["viewer"]),
            "rtt_ms": family(GaugeMetricFamily, "aether_viewer_rtt_seconds",
                             "Round-trip time from RTCP.", ["viewer"]),
            "queue_overruns": family(CounterMetricFamily, "aether_viewer_queue_overruns",
                                     "Packets dropped because the viewer fell behind.",
                                     ["viewer"]),
            "latency_ms": family(GaugeMetricFamily, "aether_viewer_glass_to_glass_seconds",
                                 "Latest glass-to-glass latency: measured by the browser "
                                 "from the stamped capture times, else estimated.",
                                 ["viewer"]),
            "estimated_latency_ms": family(GaugeMetricFamily,
                                           "aether_viewer_estimated_latency_seconds",
                                           "Latest estimated glass-to-glass latency.",
                                           ["viewer"]),
            "tier": family(GaugeMetricFamily, "aether_viewer_tier",
                           "Quality tier the viewer receives (0: the top one).", ["viewer"]),
            "tier_switches": family(CounterMetricFamily, "aether_viewer_tier_switches",
                                    "Moves between quality tiers.", ["viewer"]),
            "estimate_kbps": family(GaugeMetricFamily,
                                    "aether_viewer_estimated_bandwidth_bytes_per_second",
                                    "The viewer's bandwidth estimate.", ["viewer"]),
            "resends_skipped": family(CounterMetricFamily, "aether_viewer_resends_skipped",
                                      "Resend requests refused past the viewer's budget.",
                                      ["viewer"]),
        }  # fmt: skip
        client_figures = {
            "fps": family(GaugeMetricFamily, "aether_viewer_decoded_fps",
                          "Frames per second the viewer decodes.", ["viewer"]),
            "frames_dropped": family(CounterMetricFamily, "aether_viewer_frames_dropped",
                                     "Frames the viewer's browser dropped.", ["viewer"]),
            "jitter_buffer_ms": family(GaugeMetricFamily,
                                       "aether_viewer_jitter_buffer_seconds",
                                       "Jitter-buffer delay per frame in the browser.",
                                       ["viewer"]),
        }  # fmt: skip
        scale = {"jitter_ms": 0.001, "rtt_ms": 0.001, "estimated_latency_ms": 0.001,
                 "latency_ms": 0.001,
                 "jitter_buffer_ms": 0.001, "bitrate_kbps": KBPS,
                 "estimate_kbps": KBPS}  # fmt: skip
        for viewer in viewers:
            vid = viewer["id"]
            for kind in KINDS:
                stream = viewer.get(kind)
                if stream is None:
                    continue
                for key, metric in per_kind.items():
                    if stream[key] is not None:
                        metric.add_metric([vid, kind], stream[key] * scale.get(key, 1))
            for key, metric in per_viewer.items():
                if viewer.get(key) is not None:
                    metric.add_metric([vid], viewer[key] * scale.get(key, 1))
            client = viewer.get("client")
            for key, metric in client_figures.items():
                if client is not None and client[key] is not None:
                    metric.add_metric([vid], client[key] * scale.get(key, 1))
        yield from per_kind.values()
        yield from per_viewer.values()
        yield from client_figures.values()

    @staticmethod
    def _forwards(targets: list[dict[str, Any]]) -> Iterator[Metric]:
        """--rtp-forward targets, labelled as configured (HOST:VIDEOPORT[:...])."""
        up = GaugeMetricFamily("aether_rtp_forward_up",
                               "1 while the target is being sent to, 0 once it failed.",
                               labels=["target"])  # fmt: skip
        packets = CounterMetricFamily("aether_rtp_forward_sent_packets",
                                      "RTP packets sent to the target.",
                                      labels=["target", "kind"])  # fmt: skip
        octets = CounterMetricFamily("aether_rtp_forward_sent_bytes",
                                     "RTP bytes sent to the target (headers included).",
                                     labels=["target", "kind"])  # fmt: skip
        rtcp = CounterMetricFamily("aether_rtp_forward_rtcp_received_packets",
                                   "RTCP packets received back from the target.",
                                   labels=["target"])  # fmt: skip
        requests = CounterMetricFamily("aether_rtp_forward_keyframe_requests",
                                       "PLI/FIR received from the target (its viewers').",
                                       labels=["target"])  # fmt: skip
        for target in targets:
            name = target["target"]
            up.add_metric([name], int(target["state"] == "forwarding"))
            rtcp.add_metric([name], target["rtcp_received"])
            requests.add_metric([name], target["keyframe_requests"])
            for kind in KINDS:
                stream = target.get(kind)
                if stream is not None:
                    packets.add_metric([name, kind], stream["packets_sent"])
                    octets.add_metric([name, kind], stream["bytes_sent"])
        yield from (up, packets, octets, rtcp, requests)


def render(snap: dict[str, Any], accept: str = "") -> tuple[bytes, str]:
    """The snapshot in the exposition format the scraper asked for: (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap))
    # The standard process_* figures (resident memory, open descriptors, CPU), read from
    # /proc at each scrape: what to watch for memory that does not stay steady.
    ProcessCollector(registry=registry)
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
