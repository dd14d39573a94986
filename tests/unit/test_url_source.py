"""Feed URLs: paths become file URIs, credentials never reach logs, bad schemes refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from aether.capture.url import check_uri, to_uri
from aether.config import load_config, redact_url
from aether.errors import ConfigError, SourceUnavailableError


def test_paths_become_file_uris_and_uris_stay() -> None:
    assert to_uri("/tmp/a b.mp4") == "file:///tmp/a%20b.mp4"
    assert to_uri("rtsp://cam.local/live") == "rtsp://cam.local/live"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:secret@10.0.0.5:8554/live", "rtsp://***@10.0.0.5:8554/live"),
        ("https://user@example.com/feed.m3u8", "https://***@example.com/feed.m3u8"),
        ("rtsp://10.0.0.5/live", "rtsp://10.0.0.5/live"),
    ],
)
def test_credentials_are_redacted(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_startup_summary_never_shows_a_feeds_password() -> None:
    config = load_config({"source": "url", "url": "rtsp://admin:secret@cam/live"}, {})
    assert "secret" not in config.summary()
    assert "url=rtsp://***@cam/live" in config.summary()


def test_file_check_and_unknown_schemes(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    with pytest.raises(SourceUnavailableError, match="no such file"):
        check_uri(to_uri(str(clip)))
    clip.write_bytes(b"not really a video")
    check_uri(to_uri(str(clip)))  # exists: decoding problems show when it plays
    with pytest.raises(ConfigError, match="scheme"):
        check_uri("gopher://user:pw@example.com/x")
    with pytest.raises(ConfigError) as info:
        check_uri("gopher://user:pw@example.com/x")
    assert "pw" not in str(info.value)
