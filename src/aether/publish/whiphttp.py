"""WHIP's HTTP side (RFC 9725), without I/O: URLs, the answer to an offer, back-off.

The publisher (publish/whip.py) does the requests; everything it decides from a status,
a header or a URL is here, tested without a network.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from aether.errors import PublishError

# whip:// and whips:// are accepted as names for http:// and https:// (like ws/wss).
SCHEME_ALIASES = {"whip": "http", "whips": "https", "http": "http", "https": "https"}
SDP_TYPE = "application/sdp"
REDIRECTS = (307, 308)  # keep method and body (RFC 9110); 301/302/303 would drop the offer
MAX_REDIRECTS = 3
MAX_BODY_SHOWN = 160  # characters of an error response quoted in the log
# A path segment this long of URL-safe characters is taken for a key (Cloudflare Stream
# puts its publishing key in the path) and masked wherever a URL is shown.
_KEYLIKE = re.compile(r"^[A-Za-z0-9_\-.~%]{24,}$")


def parse_whip_url(text: str) -> str:
    """The WHIP endpoint URL from a setting: http(s)://, or whip(s):// for the same."""
    allowed = (
        "an http:// or https:// WHIP endpoint URL (whip:// and whips:// stand for http:// and "
        "https://), e.g. https://ingest.example.com/whip/endpoint/live"
    )
    scheme, sep, rest = text.strip().partition("://")
    real = SCHEME_ALIASES.get(scheme.lower())
    if not sep or real is None:
        raise ValueError(allowed)
    parts = urllib.parse.urlsplit(f"{real}://{rest}")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValueError(allowed) from None
    if not parts.hostname or parts.fragment:
        raise ValueError(allowed)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path or "/"))


def parse_bearer(text: str) -> str:
    """A bearer token for the Authorization header: visible ASCII, no spaces."""
    token = text.strip()
    if not token or not all(33 <= ord(c) <= 126 for c in token):
        raise ValueError("a non-empty token of visible ASCII characters, without spaces")
    return token


def mask_url(url: str) -> str:
    """The URL as it may be shown (logs, /stats, `aether config`): credentials, the query
    string and key-like path segments become ***."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.username or parts.password:
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"***@{host}:{parts.port}" if parts.port else f"***@{host}"
    path = "/".join("***" if _KEYLIKE.match(s) else s for s in parts.path.split("/"))
    query = "***" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, ""))


def request_headers(token: str | None, content_type: str | None = None) -> dict[str, str]:
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def resolve_location(request_url: str, location: str) -> str:
    """A Location header's URL, resolved against the URL that was requested (WHIP servers
    commonly answer with a relative path, e.g. /whip/resource/abc)."""
    return urllib.parse.urljoin(request_url, location.strip())


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (an HTTP date is ignored)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


@dataclass(frozen=True)
class Answer:
    """A 201 Created to our offer: the SDP answer and the session's resource URL."""

    sdp: str
    resource: str | None  # absolute; None when the server sent no Location
    etag: str | None = None


@dataclass(frozen=True)
class Redirect:
    """The endpoint moved (307/308): post the same offer to `url`."""

    url: str


_REASONS = {
    400: "the ingest rejected the offer as malformed",
    401: "the ingest wants a (different) bearer token (--whip-token)",
    403: "the ingest refused: token not accepted or endpoint busy",
    404: "no such WHIP endpoint (check --whip-url)",
    405: "the URL does not take a WHIP POST (check --whip-url)",
    406: "the ingest does not accept application/sdp here",
    409: "the endpoint already has a publisher",
    415: "the ingest does not accept application/sdp here",
    422: "the ingest cannot use the offer (codecs?)",
    429: "the ingest asks us to slow down",
    503: "the ingest is unavailable for now",
}


def interpret_offer_response(
    request_url: str, status: int, headers: Mapping[str, str], body: str
) -> Answer | Redirect:
    """What the response to a WHIP POST means; raises PublishError for anything that
    does not let us publish (with the status, a short reason and the start of the body).

    `headers` must look names up case-insensitively (aiohttp's CIMultiDict does)."""
    location = headers.get("Location")
    if status in REDIRECTS and location:
        target = resolve_location(request_url, location)
        if request_url.startswith("https:") and not target.startswith("https:"):
            # The offer and the bearer token would then travel in the clear.
            raise PublishError(f"HTTP {status}: refusing a redirect from https to "
                               f"{mask_url(target)}", status=status)  # fmt: skip
        return Redirect(target)
    if status in (200, 201):
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != SDP_TYPE or not body.lstrip().startswith("v=0"):
            raise PublishError(f"HTTP {status} without an SDP answer (Content-Type "
                               f"{content_type or 'missing'})", status=status)  # fmt: skip
        resource = resolve_location(request_url, location) if location else None
        return Answer(body, resource, headers.get("ETag"))
    if 300 <= status < 400:
        raise PublishError(
            f"HTTP {status} redirect: only 307/308 (which keep the offer) are followed",
            status=status,
        )
    reason = _REASONS.get(status) or (
        "the ingest failed" if status >= 500 else "the ingest refused the offer"
    )
    detail = " ".join(body.split())[:MAX_BODY_SHOWN]
    return _raise(status, reason, detail, retry_after(headers.get("Retry-After")))


def _raise(status: int, reason: str, detail: str, wait: float | None) -> Answer:
    message = f"HTTP {status}: {reason}" + (f" ({detail})" if detail else "")
    raise PublishError(message, status=status, retry_after=wait)


class Backoff:
    """Exponential back-off: FIRST, 2*FIRST, ... capped at `cap` seconds.

    `reset()` after a session that lasted; `next()` is the delay before the next try,
    at least what the server asked for (Retry-After), never above `cap`.
    """

    def __init__(self, first: float = 1.0, cap: float = 30.0, factor: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self.factor = factor
        self.failures = 0

    def next(self, at_least: float | None = None) -> float:
        # The exponent stops growing once the cap is reached (no float overflow after
        # days of retrying).
        delay = min(self.cap, self.first * self.factor ** min(self.failures, 60))
        self.failures += 1
        if at_least is not None:
            delay = min(self.cap, max(delay, at_least))
        return delay

    def reset(self) -> None:
        self.failures = 0
