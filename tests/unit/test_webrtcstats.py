"""summarize(): webrtcbin 1.22's get-stats reply reduced to the figures /stats shows.

The sample is a real reply (trimmed) for one Chromium viewer, quirks included: every
outbound stream is labelled `kind: audio` and the candidate entries' types are swapped.
"""

from __future__ import annotations

from typing import Any

import pytest

from aether.telemetry.webrtcstats import (
    PeerNetStats,
    StreamStats,
    send_rate,
    summarize,
    to_plain,
)

REPLY: dict[str, Any] = {
    "peer-connection-stats": {"type": "peer-connection", "id": "peer-connection-stats"},
    "codec-stats-sink_0": {
        "type": "codec", "id": "codec-stats-sink_0", "payload-type": 96,
        "clock-rate": 90000, "ssrc": 1261169411, "mime-type": "video/H264",
    },
    "codec-stats-sink_1": {
        "type": "codec", "id": "codec-stats-sink_1", "payload-type": 111,
        "clock-rate": 48000, "ssrc": 3370039726, "mime-type": "audio/OPUS",
    },
    "ice-candidate-local_1_10.213.0.1_54884": {
        "type": "remote-candidate", "id": "ice-candidate-local_1_10.213.0.1_54884",
        "address": "10.213.0.1", "port": 54884, "candidate-type": "host", "url": "",
    },
    "ice-candidate-remote_1_198.51.100.7_33288": {
        "type": "local-candidate", "id": "ice-candidate-remote_1_198.51.100.7_33288",
        "address": "198.51.100.7", "port": 33288, "candidate-type": "srflx",
    },
    "ice-candidate-pair_webrtcnicetransport0": {
        "type": "candidate-pair", "id": "ice-candidate-pair_webrtcnicetransport0",
        "local-candidate-id": "ice-candidate-local_1_10.213.0.1_54884",
        "remote-candidate-id": "ice-candidate-remote_1_198.51.100.7_33288",
    },
    "transport-stats_webrtcdtlstransport0": {
        "type": "transport", "id": "transport-stats_webrtcdtlstransport0",
        "selected-candidate-pair-id": "ice-candidate-pair_webrtcnicetransport0",
    },
    "rtp-outbound-stream-stats_547276257": {
        "type": "outbound-rtp", "id": "rtp-outbound-stream-stats_547276257",
        "ssrc": 547276257, "kind": "audio", "bytes-sent": 6903, "packets-sent": 301,
        "fir-count": 0, "pli-count": 0, "nack-count": 0,
        "remote-id": "rtp-remote-inbound-stream-stats_547276257",
        "gst-rtpsource-stats": {"clock-rate": 48000, "bitrate": 26082},
    },
    "rtp-remote-inbound-stream-stats_547276257": {
        "type": "remote-inbound-rtp", "id": "rtp-remote-inbound-stream-stats_547276257",
        "local-id": "rtp-outbound-stream-stats_547276257", "kind": "audio",
        "packets-lost": 22, "fraction-lost": 0.08203125, "round-trip-time": 0.0009765625,
        "gst-rtpsource-stats": {"have-rb": True, "rb-jitter": 96},
    },
    "rtp-outbound-stream-stats_1261169411": {
        "type": "outbound-rtp", "id": "rtp-outbound-stream-stats_1261169411",
        "ssrc": 1261169411, "kind": "audio", "bytes-sent": 110874, "packets-sent": 137,
        "fir-count": 0, "pli-count": 1, "nack-count": 3,
        "remote-id": "rtp-remote-inbound-stream-stats_1261169411",
        "gst-rtpsource-stats": {"clock-rate": 90000, "bitrate": 278647},
    },
    "rtp-remote-inbound-stream-stats_1261169411": {
        "type": "remote-inbound-rtp", "id": "rtp-remote-inbound-stream-stats_1261169411",
        "local-id": "rtp-outbound-stream-stats_1261169411", "kind": "audio",
        "packets-lost": 8, "fraction-lost": 0.0, "round-trip-time": 0.0009002685546875,
        "gst-rtpsource-stats": {"have-rb": True, "rb-jitter": 90},
    },
    "rtp-inbound-stream-stats_1": {
        "type": "inbound-rtp", "id": "rtp-inbound-stream-stats_1", "ssrc": 1,
        "kind": "audio", "packets-received": 0,
    },
}  # fmt: skip


def test_streams_are_told_apart_by_clock_rate_not_the_kind_label() -> None:
    stats = summarize(REPLY)
    assert stats.video == StreamStats(
        bytes_sent=110874, packets_sent=137, bitrate_bps=278647.0, packets_lost=8,
        fraction_lost=0.0, jitter_s=0.001, rtt_s=0.0009002685546875,
        nack_count=3, pli_count=1, fir_count=0,
    )  # fmt: skip
    assert stats.audio is not None
    assert (stats.audio.bytes_sent, stats.audio.packets_lost) == (6903, 22)
    assert stats.audio.jitter_s == pytest.approx(0.002)
    assert stats.bitrate_bps == 278647 + 26082
    assert stats.rtt_s == 0.0009002685546875


def test_candidate_types_follow_the_selected_pair_ids() -> None:
    stats = summarize(REPLY)
    assert (stats.local_candidate, stats.remote_candidate) == ("host", "srflx")


def test_before_any_receiver_report_loss_and_rtt_are_unknown() -> None:
    reply = {k: v for k, v in REPLY.items() if not k.startswith("rtp-remote-inbound")}
    stats = summarize(reply)
    assert stats.video is not None
    assert (stats.video.packets_lost, stats.video.rtt_s, stats.video.jitter_s) == (0, None, None)
    assert stats.rtt_s is None


def test_without_a_codec_clock_rate_the_codec_ssrc_decides() -> None:
    outbound = dict(REPLY["rtp-outbound-stream-stats_1261169411"])
    outbound["gst-rtpsource-stats"] = {}
    stats = summarize({"codec": REPLY["codec-stats-sink_0"], "out": outbound})
    assert stats.video is not None and stats.video.bytes_sent == 110874
    assert stats.audio is None


def test_empty_or_odd_replies_give_empty_stats() -> None:
    assert summarize({}) == PeerNetStats()
    odd = {"x": {"type": "outbound-rtp", "bytes-sent": "many", "kind": "data"}, "y": 5}
    assert summarize(odd) == PeerNetStats()


class FakeStructure:
    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = list(fields.items())

    def n_fields(self) -> int:
        return len(self.fields)

    def nth_field_name(self, i: int) -> str:
        return self.fields[i][0]

    def has_field(self, name: str) -> bool:
        return name in dict(self.fields)

    def get_value(self, name: str) -> Any:
        value = dict(self.fields).get(name)
        if isinstance(value, Exception):
            raise value
        return value


class Nick:
    def __init__(self, nick: str) -> None:
        self.value_nick = nick


def test_to_plain_reads_the_wanted_entries_and_source_fields() -> None:
    source = FakeStructure({"clock-rate": 90000, "bitrate": 5, "jitter": 3, "have-rb": True})
    outbound = FakeStructure({"type": Nick("outbound-rtp"), "bytes-sent": 10,
                              "odd": TypeError("no"), "obj": object(),
                              "gst-rtpsource-stats": source})  # fmt: skip
    inbound = FakeStructure({"type": Nick("inbound-rtp"), "bytes-received": 0})
    reply = FakeStructure({"out": outbound, "in": inbound, "ts": 1.5})
    assert to_plain(reply) == {
        "out": {
            "type": "outbound-rtp",
            "bytes-sent": 10,
            "gst-rtpsource-stats": {"clock-rate": 90000, "bitrate": 5, "have-rb": True},
        }
    }


def test_send_rate_between_two_samples() -> None:
    before, after = StreamStats(bytes_sent=1_000), StreamStats(bytes_sent=126_000)
    assert send_rate(before, after, 0.5) == 2_000_000
    assert send_rate(None, after, 0.5) is None
    assert send_rate(before, after, 0) is None
    assert send_rate(after, before, 1) is None  # counters went back: a new stream
