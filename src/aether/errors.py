"""The exception hierarchy of Aether.

AetherError
 +-- ConfigError            a setting has a bad value (names key, value, what is allowed)
 +-- StartupError           the server cannot start; carries the fix to apply
 |    +-- MissingPluginError    a GStreamer element is missing (names the Debian package)
 |    +-- SourceUnavailableError a capture source cannot be opened (display, audio server)
 +-- ProtocolError          a signaling message is malformed or not allowed now
 +-- PeerError              a viewer's WebRTC session failed
 +-- PublishError           publishing to an ingest (WHIP) failed; it is retried

Exceptions become exit codes, HTTP statuses or signaling error messages only at the edge
(cli.py, web/, signaling/).
"""


class AetherError(Exception):
    """Base class for every error Aether raises on purpose."""


class ConfigError(AetherError):
    """A configuration value is invalid."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {key}={value!r}: {allowed}")


class StartupError(AetherError):
    """The server cannot start. `fix` tells the operator what to do about it."""

    def __init__(self, message: str, fix: str = "") -> None:
        self.fix = fix
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n  fix: {self.fix}" if self.fix else text


class MissingPluginError(StartupError):
    """A GStreamer element is not installed."""


class SourceUnavailableError(StartupError):
    """A capture source (X display, audio server, device) cannot be opened."""


class ProtocolError(AetherError):
    """A signaling message was rejected. `code` is the machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class PeerError(AetherError):
    """A viewer's WebRTC session failed."""


class PublishError(AetherError):
    """Publishing to an ingest (WHIP) failed. `status` is the HTTP status when there was
    one; `retry_after` the seconds the server asked us to wait."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)
