"""A connected viewer's send path: frames reach the transport as lists, nothing in the way.

Once a viewer is connected its gate (a valve) and webrtcbin's idle FEC encoder bin are
bypassed (peers/bypass.py), so each frame crosses the RTP session, SRTP and the sink as
one list; and no segment event follows each switch between audio and video
(peers/segments.py). The server runs in this process, with its real pipeline and webrtcbin; the
viewer is an aiortc peer over the network, which must keep receiving at full rate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from aether import gst
from aether.fanout.pipeline import VIEWER_PREFIX
from tests.aiortc_viewer import AiortcViewer
from tests.helpers import in_process_server, run_async

pytestmark = pytest.mark.e2e

# Frames of several packets each (~6 KB at 1500 kbit/s and 30 fps): a frame is a list.
FLAGS = {"source": "test", "audio": "test", "width": "640", "height": "360", "fps": "30",
         "bitrate": "1500", "stun": "none", "host": "127.0.0.1"}  # fmt: skip


async def watch_one_viewer() -> dict[str, Any]:
    async with in_process_server(FLAGS) as server, aiohttp.ClientSession() as http:
        media = server.media
        viewer = AiortcViewer(http, server.signal_url)
        await viewer.connect()
        await asyncio.sleep(1.0)
        viewer_bin = media.pipeline.get_by_name(VIEWER_PREFIX + viewer.viewer_id)
        elements = gst.elements(viewer_bin, recurse=True)
        [encoder] = [e for e in elements if gst.factory_name(e) == "dtlssrtpenc"]
        counts = {"listed": 0, "alone": 0, "segments": 0}

        def count(_pad: Any, info: Any) -> Any:
            if info.type & gst.Gst.PadProbeType.BUFFER_LIST:
                counts["listed"] += info.get_buffer_list().length()
            elif info.type & gst.Gst.PadProbeType.BUFFER:
                counts["alone"] += 1
            elif info.get_event().type == gst.Gst.EventType.SEGMENT:
                counts["segments"] += 1
            return gst.Gst.PadProbeReturn.OK

        pad = encoder.get_static_pad("src")
        kinds = gst.Gst.PadProbeType.BUFFER | gst.Gst.PadProbeType.BUFFER_LIST
        probe = pad.add_probe(kinds | gst.Gst.PadProbeType.EVENT_DOWNSTREAM, count)
        before = await viewer.received()
        await asyncio.sleep(2.0)
        after = await viewer.received()
        pad.remove_probe(probe)
        fec_bins = [e for e in elements if gst.factory_name(e) == "rtpulpfecenc"]
        result = {
            "valves": [e.get_name() for e in elements if gst.factory_name(e) == "valve"],
            "fec_linked": [e.get_parent().get_static_pad("sink").is_linked() for e in fec_bins],
            "counts": counts,
            "video_rate": (after.video_packets - before.video_packets) / 2.0,
            "audio_rate": (after.audio_packets - before.audio_packets) / 2.0,
        }
        await viewer.close()
        return result


def test_a_connected_viewer_sends_frames_as_lists_with_gate_and_idle_fec_bypassed() -> None:
    r = run_async(watch_one_viewer(), timeout=60)
    assert r["valves"] == [], r  # the gates are gone
    assert r["fec_linked"] and not any(r["fec_linked"]), r  # FEC bins out of the path
    # What leaves SRTP: mostly packet lists (audio packets, small frames and RTCP come
    # alone). Split, as before, it was no list at all.
    assert r["counts"]["listed"] > r["counts"]["alone"], r
    # Audio and video share one segment event (peers/segments.py), so switching between
    # them sends none; webrtcbin's funnel re-sent one ~70 times a second before.
    assert r["counts"]["segments"] <= 2, r
    # And the viewer still gets all of it: ~150+ video packets/s here, 50 audio.
    assert r["video_rate"] >= 100, r
    assert r["audio_rate"] >= 40, r
