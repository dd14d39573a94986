"""Typed keys for state stored on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from aether.config import Config
from aether.peers.adapt import Adapter
from aether.peers.registry import Viewers
from aether.publish.rtpforward import RtpForwarding
from aether.publish.whip import WhipPublisher

CONFIG = web.AppKey("config", Config)
VIEWERS = web.AppKey("viewers", Viewers)
STARTED_AT = web.AppKey("started_at", float)
FORWARDING = web.AppKey("forwarding", RtpForwarding)
PUBLISHER = web.AppKey("publisher", WhipPublisher)  # only when --whip-url is set
ADAPTER = web.AppKey("adapter", Adapter)  # unless --adapt false
