"""webrtcbin's `get-stats` reply as plain data, and the figures we keep from it.

`to_plain` turns the reply (a Gst.Structure of Gst.Structures) into dicts on the thread
that receives it; everything else here is pure and tested without GStreamer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Only these entries of the reply are read, and of their nested `gst-rtpsource-stats` only
# these fields: converting the whole reply costs ~1 ms per viewer, this a fraction of it.
WANTED_TYPES = frozenset({"outbound-rtp", "remote-inbound-rtp", "transport", "candidate-pair",
                          "local-candidate", "remote-candidate", "codec"})  # fmt: skip
SOURCE_FIELDS = ("clock-rate", "bitrate", "have-rb", "rb-jitter", "rb-exthighestseq")


def _get(structure: Any, name: str) -> Any:
    try:
        return structure.get_value(name)
    except TypeError:  # a GValue type PyGObject cannot convert; we use none of them
        return None


def _scalar(value: Any) -> bool | int | float | str | None:
    if hasattr(value, "value_nick"):  # an enum, e.g. GstWebRTCStatsType
        return str(value.value_nick)
    return value if isinstance(value, bool | int | float | str) else None


def to_plain(reply: Any) -> dict[str, Any]:
    """The entries of a get-stats reply that summarize() reads, as dicts.

    Nested structures become dicts and enums their nick; runs on GStreamer's thread.
    """
    out: dict[str, Any] = {}
    for i in range(reply.n_fields()):
        name = reply.nth_field_name(i)
        entry = _get(reply, name)
        if not hasattr(entry, "n_fields") or _scalar(_get(entry, "type")) not in WANTED_TYPES:
            continue
        plain: dict[str, Any] = {}
        for j in range(entry.n_fields()):
            field = entry.nth_field_name(j)
            value = _get(entry, field)
            if hasattr(value, "n_fields"):
                plain[field] = {
                    f: _scalar(_get(value, f)) for f in SOURCE_FIELDS if value.has_field(f)
                }
            elif (scalar := _scalar(value)) is not None:
                plain[field] = scalar
        out[name] = plain
    return out


@dataclass(frozen=True)
class StreamStats:
    """One outgoing RTP stream (video or audio) as the server sees it."""

    bytes_sent: int = 0  # RTP payload bytes, retransmissions included
    packets_sent: int = 0
    bitrate_bps: float = 0.0  # GStreamer's running estimate of the sending rate
    packets_lost: int = 0  # from the viewer's RTCP receiver reports
    fraction_lost: float = 0.0  # of the last report interval, 0..1
    jitter_s: float | None = None  # interarrival jitter reported by the viewer
    rtt_s: float | None = None  # from RTCP sender/receiver report timing
    nack_count: int = 0  # NACKs received (the viewer asked for resends)
    pli_count: int = 0  # picture loss indications received
    fir_count: int = 0  # full intra requests received
    retransmitted_packets: int = 0  # RTX packets resent on NACK (from rtprtxsend)
    # The highest RTP sequence number the receiver reported receiving (extended, from its
    # latest RTCP receiver report): it stops moving when the receiver is gone.
    highest_seq_reported: int | None = None


@dataclass(frozen=True)
class PeerNetStats:
    """What webrtcbin reports for one viewer, reduced to the figures we show."""

    video: StreamStats | None = None
    audio: StreamStats | None = None
    local_candidate: str | None = None  # selected pair: host, srflx, prflx or relay
    remote_candidate: str | None = None

    @property
    def streams(self) -> tuple[StreamStats, ...]:
        return tuple(s for s in (self.video, self.audio) if s is not None)

    @property
    def bitrate_bps(self) -> float:
        return sum(s.bitrate_bps for s in self.streams)

    @property
    def rtt_s(self) -> float | None:
        rtts = [s.rtt_s for s in self.streams if s.rtt_s is not None]
        return min(rtts) if rtts else None


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name, 0)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _float(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _kind(outbound: dict[str, Any], codec_kinds: dict[int, str]) -> str:
    # GStreamer 1.22 labels every outbound stream with the last codec's kind; the clock
    # rate of the RTP source (90 kHz for video) and the codec's SSRC are reliable.
    source = outbound.get("gst-rtpsource-stats") or {}
    clock_rate = source.get("clock-rate")
    if clock_rate == 90000:
        return "video"
    if isinstance(clock_rate, int) and clock_rate > 0:
        return "audio"
    return codec_kinds.get(_int(outbound, "ssrc"), str(outbound.get("kind", "")))


def _stream(outbound: dict[str, Any], remote: dict[str, Any]) -> StreamStats:
    source = outbound.get("gst-rtpsource-stats") or {}
    remote_source = remote.get("gst-rtpsource-stats") or {}
    clock_rate = _int(source, "clock-rate")
    jitter = highest = None
    if remote_source.get("have-rb"):
        if "rb-exthighestseq" in remote_source:
            highest = _int(remote_source, "rb-exthighestseq")
        if clock_rate > 0:
            jitter = _int(remote_source, "rb-jitter") / clock_rate
    return StreamStats(
        bytes_sent=_int(outbound, "bytes-sent"),
        packets_sent=_int(outbound, "packets-sent"),
        bitrate_bps=float(_int(source, "bitrate")),
        packets_lost=_int(remote, "packets-lost"),
        fraction_lost=_float(remote, "fraction-lost") or 0.0,
        jitter_s=jitter,
        rtt_s=_float(remote, "round-trip-time") if remote else None,
        nack_count=_int(outbound, "nack-count"),
        pli_count=_int(outbound, "pli-count"),
        fir_count=_int(outbound, "fir-count"),
        highest_seq_reported=highest,
    )


def _add(a: StreamStats | None, b: StreamStats) -> StreamStats:
    if a is None:
        return b
    rtts = [r for r in (a.rtt_s, b.rtt_s) if r is not None]
    jitters = [j for j in (a.jitter_s, b.jitter_s) if j is not None]
    highest = [h for h in (a.highest_seq_reported, b.highest_seq_reported) if h is not None]
    return StreamStats(
        bytes_sent=a.bytes_sent + b.bytes_sent,
        packets_sent=a.packets_sent + b.packets_sent,
        bitrate_bps=a.bitrate_bps + b.bitrate_bps,
        packets_lost=a.packets_lost + b.packets_lost,
        fraction_lost=max(a.fraction_lost, b.fraction_lost),
        jitter_s=max(jitters) if jitters else None,
        rtt_s=min(rtts) if rtts else None,
        nack_count=a.nack_count + b.nack_count,
        pli_count=a.pli_count + b.pli_count,
        fir_count=a.fir_count + b.fir_count,
        retransmitted_packets=a.retransmitted_packets + b.retransmitted_packets,
        highest_seq_reported=sum(highest) if highest else None,  # moves when either does
    )


def summarize(stats: dict[str, Any]) -> PeerNetStats:
    """Reduce a plain get-stats reply (see to_plain) to PeerNetStats."""
    entries = [e for e in stats.values() if isinstance(e, dict)]
    by_id = {str(e.get("id")): e for e in entries}
    codec_kinds = {
        _int(e, "ssrc"): str(e.get("mime-type", "")).partition("/")[0].lower()
        for e in entries
        if e.get("type") == "codec"
    }
    streams: dict[str, StreamStats | None] = {"video": None, "audio": None}
    for entry in entries:
        if entry.get("type") != "outbound-rtp":
            continue
        kind = _kind(entry, codec_kinds)
        if kind in streams:
            remote = by_id.get(str(entry.get("remote-id")), {})
            streams[kind] = _add(streams[kind], _stream(entry, remote))
    local = remote_type = None
    for entry in entries:
        if entry.get("type") == "transport":
            pair = by_id.get(str(entry.get("selected-candidate-pair-id")), {})
            # Follow the pair's ids: 1.22 swaps the local/remote *type* labels of the
            # candidate entries themselves, but the ids name the right sides.
            local = by_id.get(str(pair.get("local-candidate-id")), {}).get("candidate-type")
            remote_type = by_id.get(str(pair.get("remote-candidate-id")), {}).get("candidate-type")
            break
    return PeerNetStats(
        video=streams["video"],
        audio=streams["audio"],
        local_candidate=str(local) if local else None,
        remote_candidate=str(remote_type) if remote_type else None,
    )


def send_rate(
    before: StreamStats | None, after: StreamStats | None, seconds: float
) -> float | None:
    """Payload bits per second sent between two samples of one stream, if they allow it."""
    if before is None or after is None or seconds <= 0 or after.bytes_sent < before.bytes_sent:
        return None
    return (after.bytes_sent - before.bytes_sent) * 8 / seconds


@dataclass(frozen=True)
class SourceReport:
    """What the viewer's latest RTCP receiver report says about one stream we send, read
    straight from rtpbin's RTPSource (cheap: one small structure, not get-stats)."""

    fraction_lost: float  # 0..1, of the report's interval
    highest_seq: int | None  # extended highest sequence number received (None: no report)
    rtt_s: float | None
    sent_bps: float  # rtpsession's running estimate of what we send on this SSRC

    @classmethod
    def from_source_stats(cls, stats: dict[str, Any]) -> SourceReport:
        """From an RTPSource's `stats` fields (as a dict)."""
        have = bool(stats.get("have-rb"))
        round_trip = _int(stats, "rb-round-trip")  # NTP short format: 1/65536 s
        return cls(
            fraction_lost=_int(stats, "rb-fractionlost") / 256 if have else 0.0,
            highest_seq=_int(stats, "rb-exthighestseq") if have else None,
            rtt_s=round_trip / 65536 if have and round_trip else None,
            sent_bps=float(_int(stats, "bitrate")),
        )
