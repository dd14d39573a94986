"""Typed, validated configuration, built once at start-up.

Every setting has a command-line flag and an `AETHER_*` environment variable. Precedence:
flag > environment > default. A bad value raises ConfigError naming the setting, the value
and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aether.access.policy import Network, parse_networks
from aether.access.tokens import Token, parse_tokens
from aether.configfile import FileValue
from aether.errors import ConfigError
from aether.logsetup import FORMATS, parse_filter
from aether.peers.ice import IceSettings, PortRange, TurnServer, parse_port_range, parse_turn
from aether.publish.targets import RtpTarget, parse_rtp_forward
from aether.publish.whiphttp import mask_url, parse_bearer, parse_whip_url

VIDEO_SOURCES = ("auto", "x11", "test", "v4l2", "url")
AUDIO_SOURCES = ("auto", "pulse", "test", "none")
ENCODERS = ("auto", "nvenc", "vaapi", "x264", "openh264", "copy")
# Opus frame lengths offered (ms; opusenc frame-size): shorter ones add packets, not quality.
OPUS_FRAMES_MS = (10, 20, 40, 60)
# Constrained Baseline decodes everywhere, Firefox's OpenH264 included; main and high
# compress better but only browsers whose answer takes them can watch.
H264_PROFILES = ("constrained-baseline", "main", "high")
DEFAULT_STUN = "stun:stun.l.google.com:19302"


@dataclass(frozen=True)
class Region:
    """A capture rectangle in screen pixels."""

    x: int
    y: int
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}+{self.x}+{self.y}"


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 7800
    source: str = "auto"
    display: str = ":1"
    monitor: str | None = None
    region: Region | None = None
    cursor: bool = True
    device: str = "/dev/video0"
    url: str | None = None
    audio: str = "auto"
    audio_device: str = "@DEFAULT_MONITOR@"
    encoder: str = "auto"
    h264_profile: str = "constrained-baseline"
    width: int = 1920
    height: int = 1080
    fps: int = 60
    bitrate: int = 8000
    min_bitrate: int = 300  # the default is capped at bitrate (see floor_bitrate)
    tiers: int = 1
    adapt: bool = True
    keyframe_interval: float = 2.0
    audio_bitrate: int = 96
    audio_frame_ms: int = 20
    stun: tuple[str, ...] = (DEFAULT_STUN,)
    turn: tuple[TurnServer, ...] = ()
    udp_ports: PortRange | None = None
    max_viewers: int = 100
    playout_delay: bool = True
    nack: bool = True
    tokens: tuple[Token, ...] = ()
    token_file: str | None = None
    allow_ips: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    cert: str | None = None
    key: str | None = None
    max_message_rate: int = 50
    negotiation_timeout: float = 30.0
    rtp_forward: tuple[RtpTarget, ...] = ()
    whip_url: str | None = None
    whip_token: str | None = None
    log: str = "info"
    log_format: str = "human"

    def summary(self) -> str:
        """One line for the start-up log. Secrets are reduced to a count and roles."""
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "tokens":
                value = f"{len(value)} ({', '.join(str(t.role) for t in value) or 'none'})"
            elif isinstance(value, tuple):
                value = ",".join(str(v) for v in value) or "none"
            elif f.name == "url" and value:
                value = redact_url(value)
            elif (setting := SETTING_BY_FIELD.get(f.name)) and setting.mask and value:
                value = setting.mask(value)
            parts.append(f"{f.name}={value}")
        return " ".join(parts)

    @property
    def floor_bitrate(self) -> int:
        """The lowest bitrate adaptation may set, kbit/s."""
        return min(self.min_bitrate, self.bitrate)

    @property
    def tls(self) -> bool:
        return self.cert is not None

    @property
    def ice(self) -> IceSettings:
        return IceSettings(stun=self.stun, turn=self.turn, udp_ports=self.udp_ports)


# --- parsers: str -> value, raising ValueError with what is allowed -----------------------


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"-?[0-9]+", text.strip()):
            raise ValueError(f"an integer from {low} to {high}")
        value = int(text, 10)
        if not low <= value <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return value

    return parse


def _float_in(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"a number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"a number from {low} to {high}")
        return value

    return parse


def _int_choice(choices: tuple[int, ...]) -> Callable[[str], int]:
    as_text = _choice(tuple(map(str, choices)))
    return lambda text: int(as_text(text.strip()))


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return text

    return parse


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("true or false (also 1/0, yes/no, on/off)")


_REGION = re.compile(r"^(\d+)x(\d+)\+(\d+)\+(\d+)$")


def parse_region(text: str) -> Region:
    match = _REGION.match(text.strip())
    if not match:
        raise ValueError("WIDTHxHEIGHT+X+Y, e.g. 1280x720+0+0")
    width, height, x, y = (int(g) for g in match.groups())
    if width < 16 or height < 16:
        raise ValueError("a region at least 16x16 pixels")
    return Region(x=x, y=y, width=width, height=height)


def parse_stun(text: str) -> tuple[str, ...]:
    urls = tuple(u.strip() for u in text.split(",") if u.strip())
    if urls in ((), ("none",)):
        return ()
    for url in urls:
        if not re.match(r"^stun:[A-Za-z0-9.\-\[\]:]+$", url):
            raise ValueError("comma-separated stun:HOST[:PORT] URLs, or 'none'")
    return urls


def parse_host(text: str) -> str:
    host = text.strip()
    if not host or not re.match(r"^[A-Za-z0-9.\-:\[\]]+$", host):
        raise ValueError("an IP address or host name, e.g. 0.0.0.0 or 127.0.0.1")
    return host


def parse_monitor(text: str) -> str | None:
    value = text.strip()
    return value or None


def parse_origins(text: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not re.match(r"^https?://[A-Za-z0-9.\-\[\]:]+$", origin):
            raise ValueError("comma-separated origins like https://example.com:8443, or *")
    return origins


def redact_url(url: str) -> str:
    """The URL without the credentials it may carry (rtsp://user:secret@host/...)."""
    parts = urllib.parse.urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}:{parts.port}" if parts.port else f"***@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def parse_file(text: str) -> str:
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError("the path of a readable file")
    return str(path)


def parse_log(text: str) -> str:
    parse_filter(text)
    return text


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ValueError("a non-empty string")
    return text.strip()


@dataclass(frozen=True)
class Setting:
    """How one Config field is read from a flag and an environment variable."""

    field: str
    parse: Callable[[str], Any]
    help: str
    metavar: str = ""
    env_fallback: str = ""  # a conventional variable also honoured, e.g. DISPLAY
    secret: bool = False  # never echo the value in errors
    mask: Callable[[str], str] | None = None  # how the value is shown (logs, `aether config`)
    aliases: tuple[str, ...] = ()  # more flags for the same setting

    @property
    def env(self) -> str:
        return "AETHER_" + self.field.upper()

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("host", parse_host, "address to listen on", "ADDR"),
    Setting("port", _int_in(1, 65535), "HTTP and signaling port", "PORT"),
    Setting("source", _choice(VIDEO_SOURCES), "video source: " + ", ".join(VIDEO_SOURCES)),
    Setting("display", _nonempty, "X display to capture", "DISPLAY", env_fallback="DISPLAY"),
    Setting("monitor", parse_monitor, "RandR monitor to capture, by name or index", "NAME|N"),
    Setting("region", parse_region, "capture only this rectangle", "WxH+X+Y"),
    Setting("cursor", parse_bool, "draw the mouse pointer (true/false)", "BOOL"),
    Setting("device", _nonempty, "camera device for --source v4l2", "PATH"),
    Setting(
        "url", _nonempty, "feed or file for --source url: rtsp/http(s)/srt/file URL or path", "URL"
    ),
    Setting("audio", _choice(AUDIO_SOURCES), "audio source: " + ", ".join(AUDIO_SOURCES)),
    Setting("audio_device", _nonempty, "PulseAudio source name for --audio pulse", "NAME"),
    Setting("encoder", _choice(ENCODERS), "H.264 encoder: " + ", ".join(ENCODERS)),
    Setting(
        "h264_profile",
        _choice(H264_PROFILES),
        "H.264 profile: " + ", ".join(H264_PROFILES),
        "PROFILE",
    ),
    Setting("width", _int_in(16, 7680), "output width in pixels", "PX"),
    Setting("height", _int_in(16, 4320), "output height in pixels", "PX"),
    Setting("fps", _int_in(1, 240), "output frames per second", "FPS"),
    Setting("bitrate", _int_in(100, 100_000), "video bitrate in kbit/s", "KBPS"),
    Setting(
        "min_bitrate",
        _int_in(100, 100_000),
        "lowest video bitrate adaptation may go to, kbit/s (no higher than --bitrate)",
        "KBPS",
    ),
    Setting(
        "tiers",
        _int_in(1, 3),
        "shared encodes: 1 (one), 2 (+ half size), 3 (+ quarter size); each viewer takes "
        "the one its bandwidth estimate allows",
        "N",
    ),
    Setting(
        "adapt",
        parse_bool,
        "follow each viewer's bandwidth estimate: tier switches and the top encode's "
        "bitrate (true/false)",
        "BOOL",
    ),
    Setting("keyframe_interval", _float_in(0.1, 60), "seconds between keyframes", "SEC"),
    Setting("audio_bitrate", _int_in(6, 510), "Opus bitrate in kbit/s", "KBPS"),
    Setting(
        "audio_frame_ms",
        _int_choice(OPUS_FRAMES_MS),
        "Opus frame (and packet) length in ms: longer frames, fewer packets per viewer",
        "MS",
    ),
    Setting("stun", parse_stun, "STUN server URLs, comma-separated, or 'none'", "URLS"),
    Setting(
        "turn",
        parse_turn,
        "TURN servers turn(s)://USER:PASS@HOST:PORT, comma-separated, or 'none'",
        "URLS",
        secret=True,
    ),
    Setting(
        "udp_ports",
        parse_port_range,
        "UDP ports for WebRTC media, LOW-HIGH (at least max-viewers + 1), or 'any'",
        "LOW-HIGH",
    ),
    Setting("max_viewers", _int_in(1, 10_000), "most viewers at once", "N"),
    Setting(
        "playout_delay", parse_bool, "ask browsers to show frames at once (true/false)", "BOOL"
    ),
    Setting(
        "nack",
        parse_bool,
        "resend lost video packets the viewer asks for (NACK, RTX) (true/false)",
        "BOOL",
    ),
    Setting(
        "tokens",
        parse_tokens,
        "access tokens ROLE:SECRET[:EXPIRES], comma-separated",
        "LIST",
        secret=True,
    ),
    Setting("token_file", parse_file, "file with one ROLE:SECRET[:EXPIRES] per line", "PATH"),
    Setting("allow_ips", parse_networks, "only these client addresses/CIDRs may connect", "CIDRS"),
    Setting(
        "trusted_proxies", parse_networks, "proxies whose X-Forwarded-For names the client", "CIDRS"
    ),
    Setting("allowed_origins", parse_origins, "extra origins allowed to open /signal", "ORIGINS"),
    Setting("cert", parse_file, "TLS certificate (PEM) for HTTPS/WSS", "PATH"),
    Setting("key", parse_file, "TLS private key (PEM)", "PATH"),
    Setting("max_message_rate", _int_in(1, 10_000), "signaling messages/s per viewer", "N"),
    Setting("negotiation_timeout", _float_in(1, 600), "seconds to connect a viewer", "SEC"),
    Setting(
        "rtp_forward",
        parse_rtp_forward,
        "also send plain RTP to Janus mountpoints: HOST:VIDEOPORT[:AUDIOPORT[:RTCPPORT]], "
        "comma-separated, or 'none'",
        "TARGETS",
    ),
    Setting(
        "whip_url",
        parse_whip_url,
        "also publish the stream to this WHIP ingest (http(s)://, whip(s)://)",
        "URL",
        mask=mask_url,
        aliases=("--publish",),
    ),
    Setting(
        "whip_token",
        parse_bearer,
        "bearer token for --whip-url",
        "SECRET",
        secret=True,
        mask=lambda _value: "***",
    ),
    Setting("log", parse_log, "log filter, e.g. info,aether.fanout=debug", "FILTER"),
    Setting("log_format", _choice(FORMATS), "log line format: " + ", ".join(FORMATS), "FORMAT"),
)

SETTING_BY_FIELD = {s.field: s for s in SETTINGS}


def load_config(
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    file: Mapping[str, FileValue] | None = None,
) -> Config:
    """Build the Config from flag values (None = not given), the environment and the
    config file's values: flag > environment > file > default."""
    return load_config_with_sources(flags, environ, file)[0]


def load_config_with_sources(
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    file: Mapping[str, FileValue] | None = None,
) -> tuple[Config, dict[str, str]]:
    """The Config and, for each field, where its value came from (flag, variable,
    file:line or `default`)."""
    values: dict[str, Any] = {}
    sources = {s.field: "default" for s in SETTINGS}
    for setting in SETTINGS:
        text = flags.get(setting.field)
        source = setting.flag
        if text is None:
            text = environ.get(setting.env)
            source = setting.env
        if text is None and setting.env_fallback:
            text = environ.get(setting.env_fallback)
            source = setting.env_fallback
        if text is None and file and setting.field in file:
            text = file[setting.field].text
            source = file[setting.field].where
        if text is None:
            continue
        try:
            values[setting.field] = setting.parse(text)
        except ValueError as exc:
            shown = "***" if setting.secret else setting.mask(text) if setting.mask else text
            raise ConfigError(f"{setting.field} ({source})", shown, f"expected {exc}") from None
        sources[setting.field] = source
    if "token_file" in values:
        try:
            from_file = parse_tokens(Path(values["token_file"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError("token_file", values["token_file"], f"expected {exc}") from None
        values["tokens"] = values.get("tokens", ()) + from_file
    if ("cert" in values) != ("key" in values):
        raise ConfigError("cert/key", "only one given", "both --cert and --key, or neither")
    if "whip_token" in values and "whip_url" not in values:
        raise ConfigError("whip_token", "***", "only with whip_url (the ingest it is for)")
    config = Config(**values)
    if "min_bitrate" in values and config.min_bitrate > config.bitrate:
        raise ConfigError(
            "min_bitrate", str(config.min_bitrate), f"at most bitrate ({config.bitrate} kbit/s)"
        )
    if config.tiers > 1 and config.encoder == "copy":
        raise ConfigError("tiers", str(config.tiers), "1 with --encoder copy (nothing to scale)")
    if config.width % 2 or config.height % 2:
        raise ConfigError(
            "width/height", f"{config.width}x{config.height}", "even numbers (H.264 4:2:0)"
        )
    return config, sources
