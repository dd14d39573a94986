"""WHIP's HTTP side without a network: URLs, answers to an offer, back-off, liveness,
and the two settings."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from aether.cli import show_config
from aether.config import load_config, load_config_with_sources
from aether.errors import ConfigError, PublishError
from aether.peers.liveness import Liveness
from aether.publish.whiphttp import (
    Answer,
    Backoff,
    Redirect,
    interpret_offer_response,
    mask_url,
    parse_bearer,
    parse_whip_url,
    request_headers,
    resolve_location,
    retry_after,
)
from aether.telemetry.webrtcstats import PeerNetStats, StreamStats, summarize

ENDPOINT = "http://ingest.example:7080/whip/endpoint/live"
SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"


def respond(status: int, body: str = "", url: str = ENDPOINT, **headers: str) -> Answer | Redirect:
    names = {k.replace("_", "-"): v for k, v in headers.items()}
    return interpret_offer_response(url, status, CIMultiDict(names), body)


def refusal(status: int, body: str = "", **headers: str) -> PublishError:
    with pytest.raises(PublishError) as err:
        respond(status, body, **headers)
    return err.value


# --- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("http://ingest:7080/whip/endpoint/x", "http://ingest:7080/whip/endpoint/x"),
        ("https://ingest.example/rtc/v1/whip/?app=live", "https://ingest.example/rtc/v1/whip/?app=live"),
        ("whip://10.0.0.5:8889/cam/whip", "http://10.0.0.5:8889/cam/whip"),
        ("WHIPS://ingest.example/live", "https://ingest.example/live"),
        ("  https://[::1]:8443/whip  ", "https://[::1]:8443/whip"),
        ("https://ingest.example", "https://ingest.example/"),
    ],
)  # fmt: skip
def test_whip_urls_and_their_aliases(given: str, used: str) -> None:
    assert parse_whip_url(given) == used


@pytest.mark.parametrize(
    "bad",
    ["ingest:7080/whip", "ftp://ingest/whip", "ws://ingest/whip", "http://", "http://:80/x",
     "http://ingest:99999/whip", "https://ingest/whip#frag", ""],
)  # fmt: skip
def test_bad_whip_urls_say_what_is_expected(bad: str) -> None:
    with pytest.raises(ValueError, match="http:// or https:// WHIP endpoint URL"):
        parse_whip_url(bad)


def test_shown_urls_lose_credentials_query_and_keylike_path_segments() -> None:
    assert mask_url(ENDPOINT) == ENDPOINT
    assert (
        mask_url("https://u:pw@ingest.example:8443/whip") == "https://***@ingest.example:8443/whip"
    )
    assert mask_url("https://ingest.example/whip?token=abc") == "https://ingest.example/whip?***"
    key = "0123456789abcdef0123456789abcdef"  # Cloudflare Stream: the key is in the path
    assert (
        mask_url(f"https://cf.example/{key}/webRTC/publish")
        == "https://cf.example/***/webRTC/publish"
    )


@pytest.mark.parametrize(
    ("location", "resolved"),
    [
        ("/whip/resource/live", "http://ingest.example:7080/whip/resource/live"),
        ("resource/7", "http://ingest.example:7080/whip/endpoint/resource/7"),
        ("../resource/7", "http://ingest.example:7080/whip/resource/7"),
        (" /r/7 ", "http://ingest.example:7080/r/7"),
        ("https://edge.example/r/7", "https://edge.example/r/7"),
        ("//edge.example/r/7", "http://edge.example/r/7"),
    ],
)
def test_locations_resolve_against_the_url_that_was_posted_to(location: str, resolved: str) -> None:
    assert resolve_location(ENDPOINT, location) == resolved


def test_request_headers_carry_the_token_only_when_there_is_one() -> None:
    assert request_headers(None, "application/sdp") == {"Content-Type": "application/sdp"}
    assert request_headers("s3cret") == {"Authorization": "Bearer s3cret"}


@pytest.mark.parametrize("bad", ["", "   ", "two words", "line\nbreak", "tab\tin", "ünicode"])
def test_bearer_tokens_must_fit_in_a_header(bad: str) -> None:
    with pytest.raises(ValueError, match="visible ASCII"):
        parse_bearer(bad)
    assert parse_bearer(" abc.DEF-123_~+/= ") == "abc.DEF-123_~+/="


# --- the answer to the offer ------------------------------------------------------------


def test_201_gives_the_answer_and_the_resolved_resource() -> None:
    outcome = respond(
        201, SDP, Content_Type="application/sdp", Location="/whip/resource/live", ETag='"e1"'
    )
    assert outcome == Answer(SDP, "http://ingest.example:7080/whip/resource/live", '"e1"')


def test_a_content_type_parameter_and_header_case_do_not_matter() -> None:
    outcome = respond(201, SDP, **{"content_type": "Application/SDP; charset=utf-8"})
    assert isinstance(outcome, Answer)
    assert outcome.resource is None  # no Location: nothing to DELETE later


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", SDP), ("application/sdp", ""), ("application/sdp", "<html>ok</html>")],
)
def test_a_success_without_an_sdp_answer_is_an_error(content_type: str, body: str) -> None:
    error = refusal(201, body, Content_Type=content_type)
    assert "without an SDP answer" in str(error)
    assert error.status == 201


@pytest.mark.parametrize("status", [307, 308])
def test_307_and_308_are_followed(status: int) -> None:
    assert respond(status, Location="/whip/endpoint/other") == Redirect(
        "http://ingest.example:7080/whip/endpoint/other"
    )


@pytest.mark.parametrize("status", [301, 302, 303])
def test_redirects_that_would_turn_the_post_into_a_get_are_not_followed(status: int) -> None:
    assert "only 307/308" in str(refusal(status, Location="/elsewhere"))


def test_a_redirect_from_https_to_http_is_refused() -> None:
    with pytest.raises(PublishError, match="refusing a redirect from https"):
        respond(307, url="https://ingest.example/whip", Location="http://ingest.example/whip")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "malformed"),
        (401, "--whip-token"),
        (403, "token not accepted"),
        (404, "no such WHIP endpoint"),
        (405, "does not take a WHIP POST"),
        (415, "application/sdp"),
        (422, "cannot use the offer"),
        (418, "refused the offer"),
        (500, "the ingest failed"),
        (502, "the ingest failed"),
        (503, "unavailable"),
    ],
)
def test_refusals_name_the_status_and_a_reason(status: int, reason: str) -> None:
    error = refusal(status, "Endpoint   ID\nalready in use")
    assert str(error).startswith(f"HTTP {status}: ")
    assert reason in str(error)
    assert "(Endpoint ID already in use)" in str(error)  # the body, on one line
    assert error.status == status
    assert error.retry_after is None


def test_a_long_error_body_is_cut_short() -> None:
    assert len(str(refusal(500, "x" * 5000))) < 250


def test_retry_after_in_seconds_is_honoured_and_a_date_ignored() -> None:
    assert refusal(503, Retry_After="7").retry_after == 7.0
    assert refusal(429, Retry_After="Wed, 21 Oct 2026 07:28:00 GMT").retry_after is None
    assert retry_after(None) is None
    assert retry_after(" 12 ") == 12.0


# --- back-off -----------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_starts_over_after_reset() -> None:
    backoff = Backoff(first=1.0, cap=30.0)
    assert [backoff.next() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next() == 1


def test_backoff_waits_at_least_what_the_server_asked_but_never_past_the_cap() -> None:
    backoff = Backoff(first=1.0, cap=30.0)
    assert backoff.next(at_least=5) == 5
    assert backoff.next(at_least=600) == 30
    assert backoff.next(at_least=0.5) == 4


def test_backoff_survives_days_of_failures() -> None:
    backoff = Backoff(first=1.0, cap=30.0)
    for _ in range(10_000):
        delay = backoff.next()
    assert delay == 30


# --- liveness from receiver reports ---------------------------------------------------------


_clock = iter(range(1, 10**9))


def net(*highest: int | None, sending: bool = True) -> PeerNetStats:
    """Figures of a peer whose packet counts move (unless not `sending`)."""
    sent = next(_clock) if sending else 0
    streams = [StreamStats(packets_sent=sent, highest_seq_reported=h) for h in highest]
    return PeerNetStats(video=streams[0], audio=streams[1] if len(streams) > 1 else None)


def test_a_receiver_that_keeps_reporting_is_alive() -> None:
    live = Liveness(limit=8)
    for second in range(30):
        assert live.observe(net(100 + second, 5), float(second)) is None


def test_reports_that_stop_moving_end_the_session_after_the_limit() -> None:
    live = Liveness(limit=8)
    assert live.observe(net(100, 50), 0.0) is None
    assert live.observe(net(101, 50), 2.0) is None  # video moved
    assert live.observe(net(101, 50), 9.9) is None
    assert live.observe(net(101, 50), 10.0) == 8.0


def test_either_stream_moving_counts() -> None:
    live = Liveness(limit=8)
    live.observe(net(100, 50), 0.0)
    assert live.observe(net(100, 51), 9.0) is None  # audio still received
    assert live.observe(net(100, 51), 17.5) == 8.5


def test_nothing_is_judged_while_nothing_is_sent() -> None:
    live = Liveness(limit=8)
    live.observe(net(100, sending=False), 0.0)
    for second in range(2, 40, 2):  # the source is lost: no packets, so no progress
        assert live.observe(net(100, sending=False), float(second)) is None
    # Sending again (since the look at 38 s): the limit counts from there.
    assert live.observe(net(100), 41.0) is None
    assert live.observe(net(100), 45.0) is None
    assert live.observe(net(100), 46.0) == 8.0


def test_nothing_is_judged_before_the_first_receiver_report() -> None:
    live = Liveness(limit=8)
    assert live.observe(PeerNetStats(), 0.0) is None
    assert live.observe(net(None, None), 100.0) is None


def test_the_highest_sequence_number_comes_from_the_receiver_report() -> None:
    reply = {
        "out": {"type": "outbound-rtp", "id": "out", "remote-id": "rr",
                "gst-rtpsource-stats": {"clock-rate": 90000}},
        "rr": {"type": "remote-inbound-rtp", "id": "rr",
               "gst-rtpsource-stats": {"have-rb": True, "rb-exthighestseq": 70123}},
    }  # fmt: skip
    assert summarize(reply).video is not None
    assert summarize(reply).video.highest_seq_reported == 70123  # type: ignore[union-attr]
    reply["rr"]["gst-rtpsource-stats"] = {"have-rb": False, "rb-exthighestseq": 0}
    assert summarize(reply).video.highest_seq_reported is None  # type: ignore[union-attr]


# --- the settings -------------------------------------------------------------------------


def test_the_settings_from_flag_environment_and_file() -> None:
    config = load_config({"whip_url": "whip://ingest:7080/whip/endpoint/a"}, {})
    assert config.whip_url == "http://ingest:7080/whip/endpoint/a"
    assert config.whip_token is None
    config = load_config({}, {"AETHER_WHIP_URL": "https://i.example/w", "AETHER_WHIP_TOKEN": "tok"})
    assert (config.whip_url, config.whip_token) == ("https://i.example/w", "tok")
    assert load_config({}, {}).whip_url is None  # off unless asked for


def test_a_bad_url_is_named_by_key_and_shown_masked() -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"whip_url": "ftp://user:pw@ingest/x?key=1"}, {})
    message = str(err.value)
    assert "whip_url (--whip-url)" in message
    assert "pw" not in message and "key=1" not in message
    assert "http:// or https://" in message


def test_a_bad_token_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"whip_url": ENDPOINT}, {"AETHER_WHIP_TOKEN": "bad token"})
    assert "bad token" not in str(err.value)
    assert "whip_token (AETHER_WHIP_TOKEN)" in str(err.value)


def test_a_token_without_an_url_is_an_error() -> None:
    with pytest.raises(ConfigError, match="only with whip_url"):
        load_config({"whip_token": "tok"}, {})


def test_the_token_is_masked_wherever_the_configuration_is_shown() -> None:
    flags = {"whip_url": "https://i.example/0123456789abcdef0123456789abcdef/whip",
             "whip_token": "s3cret-token"}  # fmt: skip
    config, sources = load_config_with_sources(flags, {})
    for shown in (config.summary(), show_config(config, sources, None, as_json=False),
                  show_config(config, sources, None, as_json=True)):  # fmt: skip
        assert "s3cret-token" not in shown
        assert "0123456789abcdef" not in shown
        assert "https://i.example/***/whip" in shown
