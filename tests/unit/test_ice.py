"""ICE settings: the UDP port range and TURN servers, as parsed, shown and handed on."""

from __future__ import annotations

import pytest

from aether.config import Config, load_config
from aether.errors import ConfigError
from aether.peers.ice import PortRange, TurnServer, is_udp, parse_port_range, parse_turn
from aether.signaling import protocol

SECRET = "pa:ss@w/rd"
TURN_URL = "turn://alice:pa%3Ass%40w%2Frd@turn.example.com:3478"


def config_error(flags: dict[str, str | None]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(flags, {})
    return err.value


# --- UDP port range ---------------------------------------------------------------------


def test_port_range_is_parsed_inclusive() -> None:
    ports = parse_port_range("40000-40099")
    assert ports == PortRange(40000, 40099)
    assert ports is not None and ports.size == 100 and str(ports) == "40000-40099"
    assert 40000 in ports and 40099 in ports and 39999 not in ports and 40100 not in ports


def test_a_single_port_and_spaces_are_accepted() -> None:
    assert parse_port_range(" 50000 - 50000 ") == PortRange(50000, 50000)


def test_any_means_no_range() -> None:
    assert parse_port_range("any") is None
    assert load_config({}, {}).udp_ports is None


@pytest.mark.parametrize("text", ["40099-40000", "80-90", "40000-70000", "40000", "a-b", "1-2-3"])
def test_bad_port_ranges_are_refused_naming_key_value_and_what_is_allowed(text: str) -> None:
    err = config_error({"udp_ports": text})
    assert "udp_ports" in str(err) and text in str(err)
    assert "LOW-HIGH with 1024 <= LOW <= HIGH <= 65535" in str(err)


def test_port_range_from_the_environment() -> None:
    config = load_config({}, {"AETHER_UDP_PORTS": "41000-41009"})
    assert config.udp_ports == PortRange(41000, 41009)
    assert config.ice.udp_ports == PortRange(41000, 41009)


# --- TURN -------------------------------------------------------------------------------


def test_turn_url_is_parsed_with_escaped_credentials() -> None:
    (turn,) = parse_turn(TURN_URL)
    assert (turn.secure, turn.host, turn.port, turn.transport) == (
        False,
        "turn.example.com",
        3478,
        None,
    )
    assert (turn.username, turn.password) == ("alice", SECRET)


def test_turns_default_port_and_transport() -> None:
    a, b = parse_turn("turns://u:p@relay.example, turn://u:p@10.0.0.1?transport=tcp")
    assert (a.secure, a.port) == (True, 5349)
    assert (b.secure, b.port, b.transport) == (False, 3478, "tcp")


def test_none_means_no_turn() -> None:
    assert parse_turn("none") == ()
    assert load_config({}, {}).turn == ()


@pytest.mark.parametrize(
    "text",
    [
        "turn://relay.example:3478",  # no credentials
        "turn://alice@relay.example:3478",  # no password
        "stun:relay.example:3478",
        "http://u:p@relay.example",
        "turn://u:p@relay.example:3478?transport=sctp",
        "turn://u:p@relay.example:99999",
        "turn://u:p@relay.example/path",
    ],
)
def test_bad_turn_urls_are_refused_without_echoing_them(text: str) -> None:
    err = config_error({"turn": text})
    assert "turn" in str(err) and "turn://USER:PASS@HOST" in str(err)
    assert err.value == "***" and text not in str(err)


def test_turn_credentials_never_show_in_str_repr_summary_or_config() -> None:
    config = load_config({"turn": TURN_URL}, {})
    (turn,) = config.turn
    shown = [str(turn), repr(turn), config.summary(), repr(config)]
    for text in shown:
        assert SECRET not in text and "pa%3Ass" not in text and "alice" not in text
    assert str(turn) == "turn://***@turn.example.com:3478"


def test_webrtcbin_gets_the_escaped_uri() -> None:
    (turn,) = parse_turn(TURN_URL + "?transport=tcp")
    assert turn.gst_uri() == ("turn://alice:pa%3Ass%40w%2Frd@turn.example.com:3478?transport=tcp")


def test_ipv6_turn_host_is_bracketed() -> None:
    (turn,) = parse_turn("turn://u:p@[fd00::1]:3478")
    assert turn.gst_uri() == "turn://u:p@[fd00::1]:3478"
    assert turn.browser()["urls"] == ["turn:[fd00::1]:3478"]


def test_the_browser_gets_stun_then_turn_with_credentials() -> None:
    config = load_config({"stun": "stun:s.example:3478", "turn": TURN_URL}, {})
    servers = protocol.ice_servers(config.ice.stun, config.ice.turn)
    assert servers == [
        {"urls": ["stun:s.example:3478"]},
        {"urls": ["turn:turn.example.com:3478"], "username": "alice", "credential": SECRET},
    ]
    message = protocol.welcome("1", servers)
    assert message["iceServers"] == servers


def test_no_turn_leaves_the_welcome_as_before() -> None:
    assert protocol.ice_servers(Config(stun=()).stun, Config().turn) == []


def test_turn_server_is_frozen_and_comparable() -> None:
    assert parse_turn("turn://u:p@h:1") == (TurnServer(False, "h", 1, "u", "p"),)


# --- candidates -------------------------------------------------------------------------


def test_udp_candidates_are_told_from_tcp_ones() -> None:
    assert is_udp("candidate:1 1 UDP 2015363327 10.213.0.2 40000 typ host")
    assert is_udp("candidate:5 1 udp 5 192.0.2.1 50000 typ relay raddr 0.0.0.0 rport 0")
    assert not is_udp("candidate:2 1 TCP 1015021823 10.213.0.2 9 typ host tcptype active")
    assert not is_udp("")
