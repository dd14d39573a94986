"""The /stats snapshot rendered as Prometheus metrics (names, labels, units, types)."""

from __future__ import annotations

import copy
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from aether.telemetry.histogram import Histogram
from aether.telemetry.prometheus import render

STREAM = {
    "bytes_sent": 5_000_000, "packets_sent": 4200, "bitrate_kbps": 3950.5,
    "packets_lost": 3, "fraction_lost": 0.01, "jitter_ms": 1.5, "rtt_ms": 0.8,
    "nack_count": 2, "pli_count": 1, "fir_count": 0, "retransmitted_packets": 5,
}  # fmt: skip


def snapshot() -> dict[str, Any]:
    latency = Histogram()
    for seconds in (0.015, 0.03, 0.03, 0.4, 5.0):
        latency.observe(seconds)
    viewer = {
        "id": "7", "address": "192.0.2.4", "state": "connected", "ice_state": "connected",
        "candidate_type": {"local": "host", "remote": "srflx"}, "since_s": 12.0,
        "connected_s": 11.5, "queue_overruns": 4, "keyframe_requests": 1,
        "bitrate_kbps": 4046.5, "rtt_ms": 0.8, "video": STREAM,
        "audio": {**STREAM, "bytes_sent": 60_000, "jitter_ms": None},
        "stats_age_s": 0.2, "estimated_latency_ms": 25.0, "latency_ms": 18.5,
        "latency_measured": True,
        "client": {"fps": 59.9, "frames_decoded": 700, "frames_dropped": 2,
                   "freeze_count": 0, "jitter_buffer_ms": 6.0, "latency_ms": 21.0,
                   "rtt_ms": 0.7, "bytes_received": 4_990_000, "packets_received": 4190,
                   "packets_lost": 3, "age_s": 0.4},
    }  # fmt: skip
    waiting = {**copy.deepcopy(viewer), "id": "8", "state": "connecting", "video": None,
               "audio": None, "client": None, "bitrate_kbps": None, "rtt_ms": None,
               "estimated_latency_ms": None, "latency_ms": None,
               "latency_measured": False}  # fmt: skip
    return {
        "uptime_s": 100.5, "ready": True, "not_ready_reason": None, "pipeline": "playing",
        "source": "x11 :1", "audio": "pulse", "encoder": "x264", "width": 1280,
        "height": 720, "fps": 60, "fps_actual": 59.7, "bitrate_kbps": 4000,
        "encoded_bitrate_kbps": 3980.0, "sent_bitrate_kbps": 4046.5, "encode_ms": 3.2,
        "frames_encoded": 6000, "frames_dropped": 5, "last_frame_age_s": 0.012,
        "encoded_bytes": 50_000_000, "encode_seconds_total": 19.2,
        "encode_frames_timed": 5999, "keyframes": {"requested": 9, "sent": 4},
        "viewers_now": 2, "viewers_connected": 1, "viewers_total": 5, "max_viewers": 100,
        "latency_histogram": {"buckets": latency.cumulative(), "sum_s": latency.sum,
                              "count": latency.count},
        "viewers": [viewer, waiting],
    }  # fmt: skip


def samples(snap: dict[str, Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = render(snap)
    assert content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_server_figures_in_base_units() -> None:
    got = samples(snapshot())
    assert got[("aether_ready", ())] == 1
    assert got[("aether_fps", ())] == 59.7
    assert got[("aether_target_fps", ())] == 60
    assert got[("aether_frames_encoded_total", ())] == 6000
    assert got[("aether_frames_dropped_total", ())] == 5
    assert got[("aether_keyframes_requested_total", ())] == 9
    assert got[("aether_keyframes_sent_total", ())] == 4
    assert got[("aether_encoded_bytes_per_second", ())] == 3_980_000 / 8
    assert got[("aether_target_bytes_per_second", ())] == 4_000_000 / 8
    assert got[("aether_encode_seconds_count", ())] == 5999
    assert got[("aether_encode_seconds_sum", ())] == 19.2
    assert got[("aether_uptime_seconds", ())] == 100.5
    assert got[("aether_source_last_frame_age_seconds", ())] == 0.012


def test_viewer_counts_by_state() -> None:
    got = samples(snapshot())
    assert got[("aether_viewers", (("state", "connected"),))] == 1
    assert got[("aether_viewers", (("state", "connecting"),))] == 1
    assert got[("aether_viewers", (("state", "failed"),))] == 0
    assert got[("aether_viewers_admitted_total", ())] == 5


def test_per_viewer_series_carry_the_viewer_id_and_kind() -> None:
    got = samples(snapshot())
    video = (("kind", "video"), ("viewer", "7"))
    assert got[("aether_viewer_sent_bytes_total", video)] == 5_000_000
    assert got[("aether_viewer_sent_bytes_total", (("kind", "audio"), ("viewer", "7")))] == 60_000
    assert got[("aether_viewer_lost_packets_total", video)] == 3
    assert got[("aether_viewer_nacks_received_total", video)] == 2
    assert got[("aether_viewer_retransmitted_packets_total", video)] == 5
    assert got[("aether_viewer_plis_received_total", video)] == 1
    assert got[("aether_viewer_jitter_seconds", video)] == 0.0015
    assert ("aether_viewer_jitter_seconds", (("kind", "audio"), ("viewer", "7"))) not in got
    assert got[("aether_viewer_rtt_seconds", (("viewer", "7"),))] == 0.0008
    assert got[("aether_viewer_sent_bytes_per_second", (("viewer", "7"),))] == 4_046_500 / 8
    assert got[("aether_viewer_estimated_latency_seconds", (("viewer", "7"),))] == 0.025
    assert got[("aether_viewer_glass_to_glass_seconds", (("viewer", "7"),))] == 0.0185
    assert got[("aether_viewer_decoded_fps", (("viewer", "7"),))] == 59.9
    assert got[("aether_viewer_queue_overruns_total", (("viewer", "7"),))] == 4
    # a viewer still connecting has no media figures yet, and no invented zeros
    series_of_8 = {name for name, labels in got if ("viewer", "8") in labels}
    assert series_of_8 == {"aether_viewer_queue_overruns_total"}


def test_latency_histogram_is_cumulative() -> None:
    got = samples(snapshot())
    bucket = "aether_viewer_latency_seconds_bucket"
    assert got[(bucket, (("le", "0.02"),))] == 1
    assert got[(bucket, (("le", "0.035"),))] == 3
    assert got[(bucket, (("le", "0.5"),))] == 4
    assert got[(bucket, (("le", "+Inf"),))] == 5
    assert got[("aether_viewer_latency_seconds_count", ())] == 5
    assert abs(got[("aether_viewer_latency_seconds_sum", ())] - 5.475) < 1e-9


def test_addresses_and_descriptions_stay_out_of_the_metrics() -> None:
    body, _ = render(snapshot())
    text = body.decode()
    assert "192.0.2.4" not in text and "x11 :1" not in text


def test_each_scrape_starts_from_its_own_snapshot() -> None:
    snap = snapshot()
    first = samples(snap)
    snap["viewers"] = []
    snap["frames_encoded"] = 6100
    second = samples(snap)
    assert second[("aether_frames_encoded_total", ())] == 6100
    assert not any(("viewer", "7") in labels for _, labels in second)
    assert first[("aether_frames_encoded_total", ())] == 6000


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    body, content_type = render(snapshot(), "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.decode().rstrip().endswith("# EOF")


def test_rtp_forward_targets_are_labelled_as_configured() -> None:
    snap = snapshot()
    snap["rtp_forward"] = [
        {"target": "janus1:5004:5002", "address": "192.0.2.9", "state": "forwarding",
         "video": {"packets_sent": 900, "bytes_sent": 1_000_000, "port": 5004},
         "audio": {"packets_sent": 500, "bytes_sent": 40_000, "port": 5002},
         "rtcp_port": 5005, "rtcp_received": 12, "keyframe_requests": 3},
        {"target": "janus2:5004", "address": "192.0.2.10", "state": "failed: x",
         "video": {"packets_sent": 7, "bytes_sent": 8000, "port": 5004}, "audio": None,
         "rtcp_port": 5005, "rtcp_received": 0, "keyframe_requests": 0},
    ]  # fmt: skip
    got = samples(snap)
    one, two = (("target", "janus1:5004:5002"),), (("target", "janus2:5004"),)
    assert got[("aether_rtp_forward_up", one)] == 1
    assert got[("aether_rtp_forward_up", two)] == 0
    assert got[("aether_rtp_forward_sent_packets_total", (("kind", "audio"), *one))] == 500
    assert got[("aether_rtp_forward_sent_bytes_total", (("kind", "video"), *one))] == 1_000_000
    assert ("aether_rtp_forward_sent_packets_total", (("kind", "audio"), *two)) not in got
    assert got[("aether_rtp_forward_rtcp_received_packets_total", one)] == 12
    assert got[("aether_rtp_forward_keyframe_requests_total", one)] == 3
    assert "192.0.2.9" not in render(snap)[0].decode()


def test_no_rtp_forward_no_series() -> None:
    assert not any(name.startswith("aether_rtp_forward") for name, _ in samples(snapshot()))


def test_the_whip_publisher_when_there_is_one() -> None:
    assert not any(name.startswith("aether_publisher") for name, _ in samples(snapshot()))
    snap = snapshot()
    snap["publisher"] = {"state": "publishing", "attempts": 3, "sessions": 2,
                         "url": "https://ingest.example/whip"}  # fmt: skip
    got = samples(snap)
    assert got[("aether_publisher_up", ())] == 1
    assert got[("aether_publisher_attempts_total", ())] == 3
    assert got[("aether_publisher_sessions_total", ())] == 2
    snap["publisher"]["state"] = "waiting"
    assert samples(snap)[("aether_publisher_up", ())] == 0
    assert "ingest.example" not in render(snap)[0].decode()
