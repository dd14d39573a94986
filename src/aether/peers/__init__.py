"""Peers: one WebRTC session (webrtcbin) per viewer, fed from the shared encode."""
