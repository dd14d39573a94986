"""Signaling: the versioned JSON protocol over WebSocket (see docs/signaling.md)."""
