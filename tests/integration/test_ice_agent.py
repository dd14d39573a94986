"""What every viewer's ICE agent (libnice, inside webrtcbin) is set to."""

from __future__ import annotations

from aether import gst
from aether.peers import ice


def test_viewer_agents_pace_checks_at_5_ms_and_do_no_upnp() -> None:
    gst.init()
    webrtc = gst.make("webrtcbin")
    nice = ice.ice_agent(webrtc).get_property("agent")
    assert nice.get_property("stun-pacing-timer") == 20  # libnice's default, before
    ice.configure(webrtc, ice.IceSettings())
    assert nice.get_property("stun-pacing-timer") == ice.STUN_PACING_MS == 5
    assert nice.get_property("upnp") is False
