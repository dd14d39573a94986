"""What the stream is doing: frame timing, WebRTC statistics, readiness, metrics."""
