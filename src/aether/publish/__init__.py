"""Pushing the one encoded stream to other servers (a Janus mountpoint, a WHIP ingest)."""
