"""SIGHUP: read the configuration again and apply what can change while serving.

Tokens, the address allow-list, trusted proxies, allowed origins and the viewer limit take
effect at once (for new connections; viewers watching are not dropped). Any other changed
setting is named as needing a restart and left as it is.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from aether.access.tokens import Token
from aether.config import Config
from aether.errors import AetherError
from aether.peers.registry import Viewers
from aether.web.access import AccessControl

log = logging.getLogger(__name__)

LIVE = frozenset(
    {"tokens", "token_file", "allow_ips", "trusted_proxies", "allowed_origins", "max_viewers"}
)


def changed_fields(old: Config, new: Config) -> list[str]:
    return [
        f.name for f in dataclasses.fields(Config) if getattr(old, f.name) != getattr(new, f.name)
    ]


def reload(
    current: Config,
    read: Callable[[], Config],
    access: AccessControl,
    viewers: Viewers,
    generated: tuple[Token, ...],
) -> Config:
    """Apply a re-read configuration; returns the configuration now in force."""
    try:
        new = read()
    except AetherError as exc:
        log.error("reload refused, the running configuration stays: %s", exc)
        return current
    changed = changed_fields(current, new)
    live = [f for f in changed if f in LIVE]
    later = [f for f in changed if f not in LIVE]
    if not changed:
        log.info("reload: nothing changed")
        return current
    applied = dataclasses.replace(current, **{f: getattr(new, f) for f in live})
    if live:
        access.update(applied, generated)
        viewers.max_viewers = applied.max_viewers
        log.info("reload: applied %s", ", ".join(live))
    if later:
        log.warning("reload: %s changed but need a restart to take effect", ", ".join(later))
    return applied
