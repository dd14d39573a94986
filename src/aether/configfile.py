"""The optional TOML config file: where it is, and its settings with their line numbers.

    # /etc/aether/config.toml (or $XDG_CONFIG_HOME/aether/config.toml, or --config PATH)
    host = "0.0.0.0"
    source = "x11"
    max_viewers = 20
    tokens = ["admin:SECRET1", "view:SECRET2"]

Keys are the settings' names (`max_viewers`, or `max-viewers`); values are TOML strings,
numbers, booleans, or lists of strings where a setting takes a comma-separated list.
Flags beat environment variables, which beat the file, which beats the defaults.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aether.errors import ConfigError

SYSTEM_PATH = Path("/etc/aether/config.toml")
_KEY_LINE = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")


@dataclass(frozen=True)
class FileValue:
    text: str  # as a flag would give it, for the setting's own parser
    path: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def find_config_file(given: str | None, environ: Mapping[str, str]) -> Path | None:
    """--config/AETHER_CONFIG if given (it must exist), else the user's, else the system's."""
    explicit = given or environ.get("AETHER_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError("config", explicit, "the path of a readable TOML file")
        return path
    xdg = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    for path in (Path(xdg).expanduser() / "aether" / "config.toml", SYSTEM_PATH):
        if path.is_file():
            return path
    return None


def read_config_file(path: Path, known: set[str]) -> dict[str, FileValue]:
    """The file's settings by field name; unknown keys and bad TOML name file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config", str(path), f"a readable file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config ({path})", "", f"valid TOML: {exc}") from None
    lines = {}
    for number, row in enumerate(text.splitlines(), start=1):
        match = _KEY_LINE.match(row)
        if match and match.group(1) not in lines:
            lines[match.group(1)] = number
    values = {}
    for key, value in data.items():
        line = lines.get(key, 0)
        field = key.replace("-", "_")
        if field not in known:
            raise ConfigError(
                f"config ({path}:{line})", key, "a known setting: " + ", ".join(sorted(known))
            )
        values[field] = FileValue(_as_text(value, f"{path}:{line}", key), path, line)
    return values


def _as_text(value: object, where: str, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value) if value else "none"
    raise ConfigError(f"{key} ({where})", type(value).__name__, "a string, number, boolean or list")


def config_path_hint(environ: Mapping[str, str]) -> str:
    """Where a config file would be looked for, for help texts."""
    xdg = environ.get("XDG_CONFIG_HOME") or os.path.join("~", ".config")
    return f"{xdg}/aether/config.toml, then {SYSTEM_PATH}"
