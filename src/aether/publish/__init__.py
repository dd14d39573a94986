"""Publishing the encoded stream to other servers (WHIP ingests)."""
