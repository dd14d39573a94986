"""Aether: low-latency screen and audio streaming to any browser over WebRTC.

Layers, in the order media flows:
capture (sources) -> encode -> fanout (one shared pipeline, a branch per viewer)
-> peers (one webrtcbin per viewer) -> signaling (WebSocket protocol) -> web (HTTP app).
"""

__version__ = "0.1.0"
