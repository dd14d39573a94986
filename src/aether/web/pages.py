"""The HTML pages, each served as one response: its stylesheets and scripts inlined.

A page that links a stylesheet and three scripts cannot open its signaling socket until
four more responses have arrived: on a 2-core machine busy encoding 1080p60 that took
20-290 ms of the time to first frame (docs/performance.md). Inlined, the socket opens as
soon as the HTML is parsed.

The Content-Security-Policy still allows no inline code but this: each inlined script and
style is named by its SHA-256 hash. The files stay served at their own paths as well.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

STATIC = resources.files("aether.web") / "static"

_STYLESHEET = re.compile(r'<link rel="stylesheet" href="/(?P<name>[\w.-]+\.css)">')
_SCRIPT = re.compile(r'<script src="/(?P<name>[\w.-]+\.js)"></script>')


def csp(script_hashes: tuple[str, ...] = (), style_hashes: tuple[str, ...] = ()) -> str:
    """The page's Content-Security-Policy: its own origin only, plus the inlined code."""
    scripts = " ".join(["'self'", *(f"'sha256-{h}'" for h in script_hashes)])
    styles = " ".join(["'self'", *(f"'sha256-{h}'" for h in style_hashes)])
    return (
        "default-src 'self'; connect-src 'self'; media-src 'self' blob: mediastream:; "
        f"img-src 'self' data:; style-src {styles}; script-src {scripts}; "
        "frame-ancestors 'none'"
    )


@dataclass(frozen=True)
class Page:
    html: str
    csp: str


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _contents(name: str, closing_tag: str) -> str:
    text = (STATIC / name).read_text(encoding="utf-8")
    if closing_tag in text.lower():  # it would end the inline element early
        raise ValueError(f"{name} contains {closing_tag!r}: it cannot be inlined")
    return text


def inline_page(name: str) -> Page:
    """The page `name` from the static folder with its own stylesheets and scripts inlined,
    and the policy that allows exactly those."""
    styles: list[str] = []
    scripts: list[str] = []

    def style(match: re.Match[str]) -> str:
        text = _contents(match["name"], "</style")
        styles.append(_digest(text))
        return f"<style>{text}</style>"

    def script(match: re.Match[str]) -> str:
        text = _contents(match["name"], "</script")
        scripts.append(_digest(text))
        return f"<script>{text}</script>"

    html = (STATIC / name).read_text(encoding="utf-8")
    html = _SCRIPT.sub(script, _STYLESHEET.sub(style, html))
    return Page(html, csp(tuple(scripts), tuple(styles)))
