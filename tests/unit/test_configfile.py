"""The TOML config file: discovery, precedence (flag > env > file > default), errors that
name the file and line, secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from aether.config import SETTINGS, load_config_with_sources
from aether.configfile import find_config_file, read_config_file
from aether.errors import ConfigError

KNOWN = {s.field for s in SETTINGS}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_precedence_is_flag_then_environment_then_file_then_default(tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 7001\nwidth = 640\nheight = 360\nfps = 25\nsource = "test"\n')
    file = read_config_file(path, KNOWN)
    config, sources = load_config_with_sources(
        {"width": "800"}, {"AETHER_PORT": "7002", "AETHER_WIDTH": "1024"}, file
    )
    assert (config.width, config.port, config.height, config.fps) == (800, 7002, 360, 25)
    assert sources["width"] == "--width"
    assert sources["port"] == "AETHER_PORT"
    assert sources["height"] == f"{path}:3"
    assert sources["bitrate"] == "default"


def test_toml_types_become_setting_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cursor = false\nkeyframe-interval = 1.5\nstun = []\n"
        'tokens = ["admin:a-secret-0123456789", "view:v-secret-0123456789"]\n',
    )
    config, _ = load_config_with_sources({}, {}, read_config_file(path, KNOWN))
    assert config.cursor is False and config.keyframe_interval == 1.5 and config.stun == ()
    assert [str(t.role) for t in config.tokens] == ["admin", "view"]


def test_unknown_key_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 7001\n\n# resolution\nwidht = 640\n")
    with pytest.raises(ConfigError) as info:
        read_config_file(path, KNOWN)
    assert f"{path}:4" in str(info.value) and "widht" in str(info.value)


def test_bad_value_names_the_setting_file_and_line_without_echoing_secrets(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "max_viewers = 0\n")
    with pytest.raises(ConfigError) as info:
        load_config_with_sources({}, {}, read_config_file(path, KNOWN))
    assert f"max_viewers ({path}:1)" in str(info.value)
    path = write(tmp_path, 'tokens = ["root:hunter2-but-longer-0123"]\n')
    with pytest.raises(ConfigError) as info:
        load_config_with_sources({}, {}, read_config_file(path, KNOWN))
    assert f"tokens ({path}:1)" in str(info.value) and "hunter2" not in str(info.value)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "port = \n")
    with pytest.raises(ConfigError, match="valid TOML"):
        read_config_file(path, KNOWN)


def test_discovery_explicit_then_user_then_none(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="readable TOML file"):
        find_config_file(str(tmp_path / "missing.toml"), {})
    user = tmp_path / "xdg" / "aether" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("port = 7003\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert find_config_file(None, environ) == user
    assert find_config_file(None, {"AETHER_CONFIG": str(user)}) == user
    empty = {"XDG_CONFIG_HOME": str(tmp_path / "nothing"), "HOME": str(tmp_path)}
    expected = Path("/etc/aether/config.toml")
    assert find_config_file(None, empty) == (expected if expected.is_file() else None)
