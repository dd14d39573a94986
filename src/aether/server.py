"""`aether serve`: wire the layers together, run until a signal, shut down in order."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import ssl
from collections.abc import Callable

from aiohttp import web

from aether import gst, memory
from aether.access.tokens import Role, Token, mint
from aether.capture import VIDEO, x11
from aether.config import Config
from aether.encode.x264 import X264Encoder
from aether.errors import StartupError
from aether.fanout.pipeline import MediaPipeline, media_for
from aether.peers.adapt import Adapter
from aether.peers.registry import Viewers
from aether.peers.viewer import warm_up as peer_warm_up
from aether.publish.rtpforward import RtpForwarding
from aether.publish.whip import WhipPublisher
from aether.service.notify import notify, watchdog_interval
from aether.service.reload import reload
from aether.web.access import AccessControl, needs_generated_token
from aether.web.app import create_app
from aether.web.keys import ADAPTER, PUBLISHER
from aether.web.probes import probe

log = logging.getLogger(__name__)

BASE_ELEMENTS = (
    "webrtcbin", "nicesink", "rtph264pay", "rtpopuspay", "opusenc", "queue", "tee",
    "capsfilter", "identity", "dtlsdec", "videoconvert", "videoscale", "audioconvert",
    "audioresample",
)  # fmt: skip


def public_url(config: Config) -> str:
    host = config.host
    if host in ("0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    scheme = "https" if config.tls else "http"
    return f"{scheme}://{host}:{config.port}/"


def tls_context(config: Config) -> ssl.SSLContext | None:
    if not config.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.cert or "", config.key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(
            f"cannot load the TLS certificate/key: {exc}",
            fix="--cert must be a PEM certificate (chain) and --key its PEM private key",
        ) from None
    return context


async def _heartbeat(media: MediaPipeline) -> None:
    """WATCHDOG=1 to systemd while video frames flow or a lost source is being reopened
    (only when the unit asks for it)."""
    interval = watchdog_interval()
    if interval is None:
        return
    while True:
        await asyncio.sleep(interval)
        # Alive: frames flow, or a lost source is being reopened (no restart needed).
        if probe(media).ready or media.source_state == "lost":
            notify("WATCHDOG=1")


async def serve(config: Config, reread: Callable[[], Config] | None = None) -> int:
    """Run the server; returns the process exit code."""
    loop = asyncio.get_running_loop()
    gst.require(*BASE_ELEMENTS)
    log.info("gstreamer %s initialised", gst.Gst.version_string())
    peer_warm_up()
    log.info("config: %s", config.summary())
    ports = config.udp_ports
    if ports is not None and ports.size < config.max_viewers + 1:  # + the spare peer
        log.warning(
            "udp_ports %s has %d ports: at most %d viewers fit, not max_viewers %d "
            "(one port a viewer; the peer kept ready takes one only while two are free)",
            ports, ports.size, ports.size, config.max_viewers,
        )  # fmt: skip

    media = media_for(config)
    media.build()
    stop = asyncio.Event()
    exit_code = 0

    def fatal(reason: str) -> None:
        nonlocal exit_code
        log.error("stopping: media pipeline failed: %s", reason)
        exit_code = 1
        stop.set()

    media.on_fatal = fatal
    if media.video.kind in VIDEO and media.video.kind != "test":
        # Reopen the same kind of source (not `auto`'s fallback) when it is lost.
        media.reopen_video = lambda: VIDEO[media.video.kind](config)
    media.fallback_encoder = lambda: X264Encoder(config)
    if media.video.kind == "x11":
        x11.on_connection_lost(
            lambda: loop.call_soon_threadsafe(
                media.source_lost, f"X display {config.display} went away", True
            )
        )
    await media.start(loop)
    forwarding = RtpForwarding(media, config.rtp_forward)
    try:
        await forwarding.start()
    except StartupError:
        await forwarding.stop()
        await media.stop()
        raise

    generated: tuple[Token, ...] = ()
    if needs_generated_token(config):
        generated = (mint(Role.ADMIN),)
    access = AccessControl(config, generated)
    viewers = Viewers(media, loop, config.max_viewers, config.ice)
    media.on_source_state = viewers.on_source_state
    viewers.start()
    app = create_app(config, viewers, access, forwarding)
    adapter = Adapter(media, viewers, config.floor_bitrate) if config.adapt else None
    if len(media.tiers) > 1 and adapter is None:
        log.warning("--tiers %d with --adapt false: every viewer stays on the top tier, "
                    "the lower tiers' encodes are unused", len(media.tiers))  # fmt: skip
    if adapter is not None:
        app[ADAPTER] = adapter
    publisher = None
    if config.whip_url:
        publisher = WhipPublisher(
            media, loop, config.whip_url, token=config.whip_token, ice=config.ice
        )
        app[PUBLISHER] = publisher
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=tls_context(config))
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await forwarding.stop()
        await media.stop()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {config.port} on {config.host} is already in use",
                fix="stop the other program or choose another port with --port/AETHER_PORT",
            ) from None
        raise StartupError(f"cannot listen on {config.host}:{config.port}: {exc}") from None

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if reread is not None:
        in_force = config

        def on_hangup() -> None:
            nonlocal in_force
            log.info("SIGHUP: reading the configuration again")
            in_force = reload(in_force, reread, access, viewers, generated)

        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    memory.freeze()  # what start-up made stays out of collections (aether/memory.py)
    url = public_url(config)
    log.info("serving on %s (signaling at /signal, health at /health)", url)
    if generated:
        # Printed once, never logged: the token rides in the URL fragment, which browsers
        # do not send to servers or proxies.
        print(
            f"\n  Reachable from other machines, so access needs a token. Open:\n"
            f"    {url}#token={generated[0].secret}\n"
            "  (a new token each start; set --tokens or --token-file to keep one)\n",
            flush=True,
        )
    elif not access.required:
        log.info("access: listening on loopback only; no token required")
    else:
        log.info("access: %d token(s) configured", len(config.tokens))

    if publisher is not None:
        publisher.start()
    notify(f"READY=1\nSTATUS=serving on {url}")
    heartbeat = asyncio.create_task(_heartbeat(media), name="sd-watchdog")
    adapting = asyncio.create_task(adapter.run(), name="adaptation") if adapter else None
    await stop.wait()
    notify("STOPPING=1")
    heartbeat.cancel()
    if adapting is not None:
        adapting.cancel()
    log.info("shutting down: %d viewer(s) to close", len(viewers))
    if publisher is not None:
        await publisher.stop()  # DELETEs the WHIP session
    for peer in viewers:
        peer.observer.on_failure("server shutting down")
    # Sessions end on their own once told; give them a moment, then close the rest.
    await runner.shutdown()
    await runner.cleanup()
    for peer in viewers:
        await viewers.remove(peer)
    await viewers.close()
    await forwarding.stop()
    await media.stop()
    log.info("stopped")
    return exit_code
