"""A feed or a file as the video source (`--source url --url rtsp://…|https://…|PATH`).

Decoded with uridecodebin (any container and codec GStreamer has a plugin for) and
re-encoded like a screen. When a file ends or a feed stops, the source counts as lost
after a few seconds without frames and is reopened (a file plays again from the start).
"""

from __future__ import annotations

import socket
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from aether.capture.decoded import decoding_bin, paced_tail
from aether.config import Config, redact_url
from aether.errors import ConfigError, SourceUnavailableError

SCHEMES = ("file", "http", "https", "rtsp", "rtsps", "srt")
CHECK_TIMEOUT_S = 3.0


def to_uri(text: str) -> str:
    """A URI from a URI or a local path."""
    if "://" in text:
        return text
    return Path(text).expanduser().resolve().as_uri()


def check_uri(uri: str) -> None:
    """Raise SourceUnavailableError unless the file exists or the server answers."""
    parts = urllib.parse.urlsplit(uri)
    shown = redact_url(uri)
    fix = "check the address and that the feed is up, or give a readable file"
    if parts.scheme not in SCHEMES:
        raise ConfigError("url", shown, "a URL with scheme " + ", ".join(SCHEMES) + " or a path")
    if parts.scheme == "file":
        path = Path(urllib.request.url2pathname(parts.path))
        if not path.is_file():
            raise SourceUnavailableError(f"no such file: {path}", fix=fix)
        return
    if parts.scheme in ("http", "https"):
        request = urllib.request.Request(uri, method="HEAD")  # noqa: S310 (http/https only)
        try:
            with urllib.request.urlopen(request, timeout=CHECK_TIMEOUT_S):  # noqa: S310
                return
        except OSError as exc:
            raise SourceUnavailableError(f"{shown} does not answer: {exc}", fix=fix) from None
    default_port = {"rtsp": 554, "rtsps": 322, "srt": 0}[parts.scheme]
    port = parts.port or default_port
    if parts.scheme == "srt" or not parts.hostname:
        return  # SRT is UDP (and may be listener mode): nothing to connect to here
    try:
        with socket.create_connection((parts.hostname, port), timeout=CHECK_TIMEOUT_S):
            return
    except OSError as exc:
        raise SourceUnavailableError(f"{shown} does not answer: {exc}", fix=fix) from None


class UrlSource:
    kind = "url"

    def __init__(self, config: Config, uri: str) -> None:
        self.config = config
        self.uri = uri
        # A file's timestamps restart at 0 when it is reopened (feeds are live).
        self.starts_at_zero = uri.startswith("file:")

    @classmethod
    def open(cls, config: Config) -> UrlSource:
        if not config.url:
            raise ConfigError("url", config.url, "a feed URL or file path with --source url")
        uri = to_uri(config.url)
        check_uri(uri)
        return cls(config, uri)

    def describe(self) -> str:
        return f"url {redact_url(self.uri)}"  # never log a feed's credentials

    def elements(self) -> list[Any]:
        # Only the video is used; audio comes from --audio.
        if self.config.encoder == "copy":  # the feed's H.264 itself, paced like a capture
            description = (
                f'uridecodebin uri="{self.uri}" caps=video/x-h264 ! h264parse '
                "! clocksync name=tail sync=true"
            )
            return [decoding_bin("capture", description)]
        description = f'uridecodebin uri="{self.uri}" caps=video/x-raw ! videoconvert name=tail'
        return [decoding_bin("capture", description), *paced_tail(self.config)]
