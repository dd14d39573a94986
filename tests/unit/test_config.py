"""load_config: defaults, precedence and every parser's accepted and rejected values."""

from __future__ import annotations

from pathlib import Path

import pytest

from aether.config import (
    DEFAULT_STUN,
    Config,
    Region,
    load_config,
    parse_bool,
    parse_host,
    parse_region,
    parse_stun,
)
from aether.errors import ConfigError


def config_error(flags: dict[str, str | None], environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(flags, environ)
    return err.value


# --- defaults and precedence ------------------------------------------------------------


def test_nothing_given_yields_the_documented_defaults() -> None:
    config = load_config({}, {})
    assert config == Config()
    assert config.host == "0.0.0.0"
    assert config.port == 7800
    assert config.display == ":1"
    assert config.stun == (DEFAULT_STUN,)
    assert config.cursor is True
    assert config.monitor is None
    assert config.region is None
    assert config.tokens == ()


def test_flag_given_as_none_counts_as_not_given() -> None:
    assert load_config({"port": None}, {"AETHER_PORT": "9000"}).port == 9000


def test_unrelated_environment_variables_are_ignored() -> None:
    assert load_config({}, {"PORT": "1234", "aether_port": "1234"}).port == 7800


def test_flag_beats_environment() -> None:
    assert load_config({"port": "8000"}, {"AETHER_PORT": "9000"}).port == 8000


def test_environment_is_not_even_parsed_when_the_flag_is_given() -> None:
    config = load_config({"port": "8000"}, {"AETHER_PORT": "not-a-port"})
    assert config.port == 8000


def test_environment_beats_default() -> None:
    config = load_config({}, {"AETHER_FPS": "30", "AETHER_KEYFRAME_INTERVAL": "0.5"})
    assert config.fps == 30
    assert config.keyframe_interval == 0.5


def test_multi_word_settings_use_underscored_env_names() -> None:
    config = load_config({}, {"AETHER_AUDIO_DEVICE": "mic", "AETHER_MAX_VIEWERS": "3"})
    assert config.audio_device == "mic"
    assert config.max_viewers == 3


@pytest.mark.parametrize(
    ("flags", "environ", "expected"),
    [
        ({"display": ":5"}, {"AETHER_DISPLAY": ":6", "DISPLAY": ":7"}, ":5"),
        ({}, {"AETHER_DISPLAY": ":6", "DISPLAY": ":7"}, ":6"),
        ({}, {"DISPLAY": ":7"}, ":7"),
        ({}, {}, ":1"),
    ],
)
def test_display_precedence_flag_env_fallback_default(
    flags: dict[str, str | None], environ: dict[str, str], expected: str
) -> None:
    assert load_config(flags, environ).display == expected


def test_fallback_variable_only_applies_to_the_setting_that_declares_it() -> None:
    # DISPLAY is display's fallback; nothing else reads unprefixed variables.
    assert load_config({}, {"DISPLAY": ":7", "HOST": "10.0.0.1"}).host == "0.0.0.0"


# --- error messages -----------------------------------------------------------------------


def test_error_from_a_flag_names_setting_flag_value_and_what_is_allowed() -> None:
    err = config_error({"port": "70000"}, {})
    assert err.key == "port (--port)"
    assert err.value == "70000"
    assert err.allowed == "expected an integer from 1 to 65535"
    assert str(err) == "invalid port (--port)='70000': expected an integer from 1 to 65535"


def test_error_from_the_environment_names_the_variable() -> None:
    err = config_error({}, {"AETHER_MAX_VIEWERS": "many"})
    assert err.key == "max_viewers (AETHER_MAX_VIEWERS)"
    assert "'many'" in str(err)
    assert "an integer from 1 to 10000" in str(err)


def test_error_from_the_fallback_names_the_fallback_variable() -> None:
    err = config_error({}, {"DISPLAY": "   "})
    assert err.key == "display (DISPLAY)"
    assert "non-empty" in err.allowed


def test_multi_word_flag_is_named_with_dashes() -> None:
    err = config_error({"audio_bitrate": "1000"}, {})
    assert err.key == "audio_bitrate (--audio-bitrate)"


def test_secret_values_are_never_echoed() -> None:
    secret = "view:short-secret"
    err = config_error({}, {"AETHER_TOKENS": secret})
    assert err.key == "tokens (AETHER_TOKENS)"
    assert err.value == "***"
    assert "short-secret" not in str(err)


# --- integers and numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text", "allowed"),
    [
        ("port", "0", "from 1 to 65535"),
        ("port", "65536", "from 1 to 65535"),
        ("width", "14", "from 16 to 7680"),
        ("width", "7682", "from 16 to 7680"),
        ("height", "4322", "from 16 to 4320"),
        ("fps", "0", "from 1 to 240"),
        ("fps", "241", "from 1 to 240"),
        ("bitrate", "99", "from 100 to 100000"),
        ("audio_bitrate", "5", "from 6 to 510"),
        ("max_viewers", "0", "from 1 to 10000"),
        ("max_message_rate", "10001", "from 1 to 10000"),
    ],
)
def test_integers_out_of_range_are_rejected(field: str, text: str, allowed: str) -> None:
    err = config_error({field: text}, {})
    assert err.key.startswith(field + " ")
    assert err.value == text
    assert allowed in err.allowed


@pytest.mark.parametrize(("field", "text"), [("port", "1"), ("port", "65535"), ("fps", "240")])
def test_integer_range_bounds_are_inclusive(field: str, text: str) -> None:
    assert getattr(load_config({field: text}, {}), field) == int(text)


@pytest.mark.parametrize("text", ["", "eighty", "80.0", "0x50", "8e3", "80 80"])
def test_non_integers_are_rejected(text: str) -> None:
    err = config_error({"port": text}, {})
    assert err.allowed == "expected an integer from 1 to 65535"


@pytest.mark.parametrize("text", ["0.05", "61", "nan", "inf", "two"])
def test_bad_keyframe_intervals_are_rejected(text: str) -> None:
    err = config_error({"keyframe_interval": text}, {})
    assert "a number from 0.1 to 60" in err.allowed


@pytest.mark.parametrize("text", ["5", "30", "20ms", "2.5", ""])
def test_audio_frames_other_than_opus_webrtc_lengths_are_rejected(text: str) -> None:
    err = config_error({"audio_frame_ms": text}, {})
    assert err.key == "audio_frame_ms (--audio-frame-ms)"
    assert "one of 10, 20, 40, 60" in err.allowed


def test_audio_frame_length_defaults_to_20_ms_and_takes_the_environment() -> None:
    assert load_config({}, {}).audio_frame_ms == 20
    assert load_config({}, {"AETHER_AUDIO_FRAME_MS": "40"}).audio_frame_ms == 40


def test_fractional_numbers_are_accepted_for_float_settings() -> None:
    config = load_config({"keyframe_interval": "0.1", "negotiation_timeout": "2.5"}, {})
    assert config.keyframe_interval == 0.1
    assert config.negotiation_timeout == 2.5


@pytest.mark.parametrize(
    ("flags", "shown"),
    [({"width": "1921"}, "1921x1080"), ({"width": "1280", "height": "721"}, "1280x721")],
)
def test_odd_output_sizes_are_rejected(flags: dict[str, str | None], shown: str) -> None:
    err = config_error(flags, {})
    assert err.key == "width/height"
    assert err.value == shown
    assert "even" in err.allowed


def test_odd_height_from_the_environment_is_rejected() -> None:
    assert config_error({}, {"AETHER_HEIGHT": "719"}).key == "width/height"


def test_even_output_size_is_accepted() -> None:
    config = load_config({"width": "1280", "height": "720"}, {})
    assert (config.width, config.height) == (1280, 720)


# --- choices ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "good", "bad", "allowed"),
    [
        ("source", "x11", "wayland", "one of auto, x11, test, v4l2, url"),
        ("source", "test", "X11", "one of auto, x11, test, v4l2, url"),
        ("audio", "none", "alsa", "one of auto, pulse, test, none"),
        ("encoder", "x264", "quicksync", "one of auto, nvenc, vaapi, x264, openh264, copy"),
    ],
)
def test_choices(field: str, good: str, bad: str, allowed: str) -> None:
    assert getattr(load_config({field: good}, {}), field) == good
    err = config_error({field: bad}, {})
    assert err.value == bad
    assert err.allowed == "expected " + allowed


# --- booleans -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", "true", "TRUE", "True", " yes ", "on", "On"])
def test_true_spellings(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["0", "false", "FALSE", "no", "No", "off", " OFF "])
def test_false_spellings(text: str) -> None:
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["", "2", "y", "n", "enabled", "truee", "-1"])
def test_other_bool_spellings_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="true or false"):
        parse_bool(text)


def test_cursor_can_be_switched_off_from_the_environment() -> None:
    assert load_config({}, {"AETHER_CURSOR": "off"}).cursor is False
    assert config_error({}, {"AETHER_CURSOR": "maybe"}).key == "cursor (AETHER_CURSOR)"


# --- regions and monitors -----------------------------------------------------------------


def test_region_is_parsed_as_size_then_offset() -> None:
    region = parse_region("1280x720+10+20")
    assert region == Region(x=10, y=20, width=1280, height=720)
    assert str(region) == "1280x720+10+20"


def test_smallest_region_is_accepted() -> None:
    assert parse_region(" 16x16+0+0 ") == Region(0, 0, 16, 16)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1280x720",
        "1280x720+10",
        "1280*720+0+0",
        "1280X720+0+0",
        "-1280x720+0+0",
        "1280x720+-5+0",
        "1280x720+0+0+0",
        "1280.5x720+0+0",
        "wxh+x+y",
    ],
)
def test_malformed_regions_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=r"WIDTHxHEIGHT\+X\+Y"):
        parse_region(text)


@pytest.mark.parametrize("text", ["15x720+0+0", "1280x15+0+0", "0x0+0+0"])
def test_tiny_regions_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="at least 16x16"):
        parse_region(text)


def test_region_and_monitor_through_load_config() -> None:
    config = load_config({"region": "640x480+8+8"}, {"AETHER_MONITOR": " DP-1 "})
    assert config.region == Region(8, 8, 640, 480)
    assert config.monitor == "DP-1"
    assert load_config({"monitor": ""}, {}).monitor is None
    assert config_error({"region": "640x480"}, {}).key == "region (--region)"


# --- STUN -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["none", " none ", "", " , ,"])
def test_stun_can_be_disabled(text: str) -> None:
    assert parse_stun(text) == ()


def test_stun_lists_are_split_and_trimmed() -> None:
    assert parse_stun("stun:a.example:3478, stun:b.example ,stun:[2001:db8::1]:3478") == (
        "stun:a.example:3478",
        "stun:b.example",
        "stun:[2001:db8::1]:3478",
    )


def test_stuns_is_refused_because_webrtcbin_cannot_use_it() -> None:
    with pytest.raises(ValueError, match="stun:HOST"):
        parse_stun("stuns:b.example")


@pytest.mark.parametrize(
    "text",
    [
        "turn:a.example:3478",
        "http://a.example",
        "a.example:3478",
        "stun:",
        "stun:a b",
        "stun:a.example,none",
        "stun:a.example?transport=udp",
    ],
)
def test_bad_stun_urls_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="stun:HOST"):
        parse_stun(text)


def test_stun_none_through_load_config() -> None:
    assert load_config({"stun": "none"}, {}).stun == ()
    err = config_error({}, {"AETHER_STUN": "turn:x"})
    assert err.key == "stun (AETHER_STUN)"
    assert "'none'" in err.allowed


# --- host ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        (" 0.0.0.0 ", "0.0.0.0"),
        ("::", "::"),
        ("[::1]", "[::1]"),
        ("my-host.example", "my-host.example"),
    ],
)
def test_valid_hosts(text: str, expected: str) -> None:
    assert parse_host(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "a b", "host/path", "h;rm", "user@host"])
def test_invalid_hosts(text: str) -> None:
    with pytest.raises(ValueError, match="an IP address or host name"):
        parse_host(text)


def test_invalid_host_through_load_config() -> None:
    err = config_error({"host": "a b"}, {})
    assert err.key == "host (--host)"
    assert err.value == "a b"


# --- files ----------------------------------------------------------------------------------


def test_cert_without_key_is_rejected(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("pem")
    err = config_error({"cert": str(cert)}, {})
    assert err.key == "cert/key"
    assert load_config({"cert": str(cert), "key": str(cert)}, {}).tls is True


def test_missing_file_is_rejected() -> None:
    err = config_error({"token_file": "/nonexistent/aether-tokens"}, {})
    assert err.key == "token_file (--token-file)"
    assert "readable file" in err.allowed


def test_nack_is_on_by_default_and_can_be_turned_off() -> None:
    assert load_config({}, {}).nack is True
    assert load_config({"nack": "false"}, {}).nack is False
    assert load_config({}, {"AETHER_NACK": "no"}).nack is False
    with pytest.raises(ConfigError, match="nack"):
        load_config({"nack": "sometimes"}, {})
