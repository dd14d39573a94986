"""Access tokens with roles (`view`, `admin`) and optional expiry, compared in constant time.

A token entry in configuration reads `ROLE:SECRET` or `ROLE:SECRET:EXPIRES`, where EXPIRES
is a UTC date/time in ISO 8601 (`2026-12-31` or `2026-12-31T18:00:00Z`).
"""

from __future__ import annotations

import enum
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

# Characters allowed in a token: they travel in an HTTP header and a WebSocket subprotocol.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-.~]{16,256}$")


class Role(enum.IntEnum):
    VIEW = 1
    ADMIN = 2

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError("a role: view or admin") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Token:
    role: Role
    secret: str
    expires: datetime | None = None

    def __repr__(self) -> str:  # never show the secret
        until = f" until {self.expires.isoformat()}" if self.expires else ""
        return f"Token({self.role}{until}, secret=***)"

    __str__ = __repr__

    def entry(self) -> str:
        """The configuration line for this token."""
        if self.expires is None:
            return f"{self.role}:{self.secret}"
        return f"{self.role}:{self.secret}:{self.expires.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def parse_expiry(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("an ISO 8601 date/time, e.g. 2026-12-31 or 2026-12-31T18:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_token_entry(entry: str) -> Token:
    """`ROLE:SECRET[:EXPIRES]` -> Token; ValueError says what is wrong (never echoes it)."""
    role_text, sep, rest = entry.strip().partition(":")
    if not sep:
        raise ValueError("ROLE:SECRET[:EXPIRES] entries (role view or admin)")
    role = Role.parse(role_text)
    secret, _, expires_text = rest.partition(":")
    if not TOKEN_RE.match(secret):
        raise ValueError("secrets of 16-256 characters from A-Z a-z 0-9 - _ . ~")
    expires = parse_expiry(expires_text) if expires_text else None
    return Token(role, secret, expires)


def parse_tokens(text: str) -> tuple[Token, ...]:
    """Comma- or newline-separated token entries; blank lines and # comments are skipped."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    entries = [e.strip() for line in lines for e in line.split(",")]
    return tuple(parse_token_entry(e) for e in entries if e)


def mint(role: Role, expires: datetime | None = None) -> Token:
    return Token(role, secrets.token_urlsafe(24), expires)


class TokenStore:
    """Checks presented secrets against the configured tokens in constant time."""

    def __init__(self, tokens: tuple[Token, ...]) -> None:
        self.tokens = tokens

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def check(self, presented: str | None, now: datetime | None = None) -> Role | None:
        """The role of the presented secret, or None (unknown, malformed or expired)."""
        if not presented:
            return None
        now = now or datetime.now(UTC)
        try:
            candidate = presented.encode()
        except UnicodeEncodeError:  # undecodable header bytes: never a valid token
            return None
        found: Role | None = None
        # Compare against every token so timing does not reveal which one matched.
        for token in self.tokens:
            match = hmac.compare_digest(candidate, token.secret.encode())
            if match and (token.expires is None or token.expires > now):
                found = token.role if found is None else max(found, token.role)
        return found
