"""--rtp-forward: the target syntax, its defaults, and errors that name key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from aether.config import load_config
from aether.configfile import read_config_file
from aether.errors import ConfigError
from aether.publish.targets import RtpTarget, parse_rtp_forward


def test_video_only_target_gets_rtcp_on_the_next_port() -> None:
    (target,) = parse_rtp_forward("janus1:5004")
    assert target == RtpTarget("janus1", 5004)
    assert target.audio_port is None
    assert target.video_rtcp_port == 5005


def test_video_and_audio() -> None:
    (target,) = parse_rtp_forward("127.0.0.1:5004:5002")
    assert (target.video_port, target.audio_port, target.video_rtcp_port) == (5004, 5002, 5005)


def test_explicit_rtcp_port_with_and_without_audio() -> None:
    with_audio, without = parse_rtp_forward("a:5004:5002:6000, b:5004::6001")
    assert (with_audio.audio_port, with_audio.video_rtcp_port) == (5002, 6000)
    assert (without.audio_port, without.video_rtcp_port) == (None, 6001)


def test_several_targets_and_ipv6() -> None:
    targets = parse_rtp_forward("10.0.0.5:5004:5002,[fd00::7]:5004,janus-3.lan:7000")
    assert [t.host for t in targets] == ["10.0.0.5", "fd00::7", "janus-3.lan"]


@pytest.mark.parametrize("text", ["", "none", " , "])
def test_empty_or_none_forwards_nothing(text: str) -> None:
    assert parse_rtp_forward(text) == ()


@pytest.mark.parametrize(
    "text",
    ["janus1:5004:5002:6000", "janus1:5004", "janus1:5004::6000", "[::1]:5004:5002"],
)
def test_str_round_trips(text: str) -> None:
    (target,) = parse_rtp_forward(text)
    assert str(target) == text
    assert parse_rtp_forward(str(target)) == (target,)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("janus1", "has no HOST:VIDEOPORT"),
        ("5004", "has no HOST:VIDEOPORT"),
        ("janus1:", "VIDEOPORT"),
        ("janus1:0", "VIDEOPORT"),
        ("janus1:70000", "VIDEOPORT"),
        ("janus1:video", "VIDEOPORT"),
        ("janus1:5004:x", "AUDIOPORT"),
        ("janus1:5004:5002:99999", "RTCPPORT"),
        ("janus1:5004:5002:6000:7000", "more than three ports"),
        ("janus1:65535", "past 65535"),
        ("janus1:5004:5005", "one port for two things"),
        ("janus1:5004::5004", "one port for two things"),
        ("janus1:5004,janus1:5005", "used by two targets"),
        ("bad host:5004", "has no HOST:VIDEOPORT"),
        ("http://janus1:5004", "has no HOST:VIDEOPORT"),
    ],
)
def test_bad_targets_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as err:
        parse_rtp_forward(text)
    assert "HOST:VIDEOPORT[:AUDIOPORT[:RTCPPORT]]" in str(err.value)


def test_config_reads_flag_env_and_file_and_defaults_to_none() -> None:
    assert load_config({}, {}).rtp_forward == ()
    from_env = load_config({}, {"AETHER_RTP_FORWARD": "janus1:5004:5002"})
    assert from_env.rtp_forward == (RtpTarget("janus1", 5004, 5002),)
    from_flag = load_config({"rtp_forward": "none"}, {"AETHER_RTP_FORWARD": "janus1:5004"})
    assert from_flag.rtp_forward == ()
    assert "rtp_forward=janus1:5004:5002" in from_env.summary()


def test_config_file_takes_a_list_of_targets(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('rtp_forward = ["janus1:5004:5002", "janus2:5004:5002"]\n')
    config = load_config({}, {}, read_config_file(path, {"rtp_forward"}))
    assert [t.host for t in config.rtp_forward] == ["janus1", "janus2"]
    path.write_text('\nrtp_forward = "janus1:5004:5004"\n')
    with pytest.raises(ConfigError) as err:
        load_config({}, {}, read_config_file(path, {"rtp_forward"}))
    assert err.value.key == f"rtp_forward ({path}:2)"


def test_a_bad_value_names_the_key_and_the_value() -> None:
    with pytest.raises(ConfigError) as err:
        load_config({}, {"AETHER_RTP_FORWARD": "janus1:5004:nope"})
    assert err.value.key == "rtp_forward (AETHER_RTP_FORWARD)"
    assert err.value.value == "janus1:5004:nope"
    assert "AUDIOPORT" in err.value.allowed
