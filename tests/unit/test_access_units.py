"""Access control, piece by piece: tokens, network policy, Origin, back-off, `aether token`.

Pure functions and classes with injected clocks: no server, no network, no sleeping.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from multidict import CIMultiDict

from aether import cli
from aether.access import backoff as backoff_module
from aether.access.backoff import (
    BACKOFF_FIRST,
    BACKOFF_MAX,
    FAILURE_WINDOW,
    FAILURES_ALLOWED,
    TRACKED_ADDRESSES,
    AuthBackoff,
    TokenBucket,
)
from aether.access.policy import (
    NetworkPolicy,
    is_loopback_host,
    origin_allowed,
    parse_networks,
)
from aether.access.tokens import (
    TOKEN_RE,
    Role,
    Token,
    TokenStore,
    mint,
    parse_token_entry,
    parse_tokens,
)
from aether.config import Config
from aether.web.access import ACCESS, AccessControl, access_middleware, presented_token
from tests.helpers import run_async

SECRET = "s3cret-Token_value.0123~xyz"
OTHER = "another-secret-0123456789"
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def value_error(func, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r".") as err:
        func(*args)
    return str(err.value)


# --- tokens: parsing ---------------------------------------------------------------------


def test_entry_without_expiry() -> None:
    token = parse_token_entry(f"view:{SECRET}")
    assert token == Token(Role.VIEW, SECRET, None)


@pytest.mark.parametrize(
    ("text", "role"),
    [("view", Role.VIEW), ("admin", Role.ADMIN), ("ADMIN", Role.ADMIN), (" Admin ", Role.ADMIN)],
)
def test_roles_are_case_insensitive(text: str, role: Role) -> None:
    assert parse_token_entry(f"{text}:{SECRET}").role is role


def test_admin_outranks_view() -> None:
    assert Role.ADMIN > Role.VIEW
    assert str(Role.ADMIN) == "admin" and str(Role.VIEW) == "view"


@pytest.mark.parametrize(
    ("expires", "when"),
    [
        # a date alone means the start of that day, UTC
        ("2026-12-31", datetime(2026, 12, 31, 0, 0, tzinfo=UTC)),
        ("2026-12-31T18:00:00Z", datetime(2026, 12, 31, 18, 0, tzinfo=UTC)),
        ("2026-12-31T18:00:00", datetime(2026, 12, 31, 18, 0, tzinfo=UTC)),  # naive = UTC
        ("2026-12-31T18:00:00+02:00", datetime(2026, 12, 31, 16, 0, tzinfo=UTC)),
    ],
)
def test_expiry_formats(expires: str, when: datetime) -> None:
    token = parse_token_entry(f"admin:{SECRET}:{expires}")
    assert token.secret == SECRET  # the expiry's own colons do not leak into the secret
    assert token.expires == when
    assert token.expires is not None and token.expires.utcoffset() is not None


def test_entry_round_trips() -> None:
    for token in (Token(Role.VIEW, SECRET), Token(Role.ADMIN, SECRET, NOW)):
        assert parse_token_entry(token.entry()) == token
    assert Token(Role.ADMIN, SECRET, NOW).entry() == f"admin:{SECRET}:2026-06-01T12:00:00Z"


def test_secret_length_bounds() -> None:
    assert parse_token_entry("view:" + "a" * 16).secret == "a" * 16
    assert parse_token_entry("view:" + "a" * 256).secret == "a" * 256
    with pytest.raises(ValueError, match="16-256"):
        parse_token_entry("view:" + "a" * 15)
    with pytest.raises(ValueError, match="16-256"):
        parse_token_entry("view:" + "a" * 257)


BAD_ENTRIES = [
    pytest.param(f"root:{SECRET}", "view or admin", id="bad-role"),
    pytest.param(f"{SECRET}", "ROLE:SECRET", id="no-role"),
    pytest.param(f"{SECRET}:view", "view or admin", id="swapped"),
    pytest.param("view:shortSECRET", "16-256", id="short"),
    pytest.param(f"view:{SECRET}/x", "16-256", id="slash"),
    pytest.param(f"view:{SECRET} x", "16-256", id="space"),
    pytest.param(f"view:{SECRET}\N{LATIN SMALL LETTER E WITH ACUTE}", "16-256", id="non-ascii"),
    pytest.param(f"view:{SECRET};x", "16-256", id="semicolon"),
    pytest.param(f"view:{SECRET}:tomorrow", "ISO 8601", id="bad-expiry"),
    pytest.param(f"view:{SECRET}:2026-13-40", "ISO 8601", id="impossible-date"),
]


@pytest.mark.parametrize(("entry", "says"), BAD_ENTRIES)
def test_bad_entries_say_what_is_wrong_without_echoing_the_secret(entry: str, says: str) -> None:
    message = value_error(parse_token_entry, entry)
    assert says in message
    assert SECRET not in message and "shortSECRET" not in message
    # parse_tokens (what --tokens and --token-file use) does not echo it either
    message = value_error(parse_tokens, f"admin:{OTHER},{entry}")
    assert SECRET not in message and OTHER not in message and "shortSECRET" not in message


def test_parse_tokens_skips_comments_and_blank_lines() -> None:
    text = (
        "# operators\n"
        f"admin:{SECRET}  # Alice\n"
        "\n"
        "   \n"
        f"view:{OTHER}:2026-12-31, view:{'b' * 20}\n"
        "# view:this-one-is-commented-out-0123\n"
    )
    tokens = parse_tokens(text)
    assert [(t.role, t.secret) for t in tokens] == [
        (Role.ADMIN, SECRET),
        (Role.VIEW, OTHER),
        (Role.VIEW, "b" * 20),
    ]
    assert tokens[1].expires == datetime(2026, 12, 31, tzinfo=UTC)
    assert parse_tokens("") == () and parse_tokens("# nothing\n\n") == ()


def test_comments_may_contain_commas() -> None:
    text = f"# operators: alice, bob\nadmin:{SECRET}  # alice, until Friday\n"
    assert parse_tokens(text) == (Token(Role.ADMIN, SECRET),)


def test_token_repr_never_shows_the_secret() -> None:
    for token in (Token(Role.VIEW, SECRET), Token(Role.ADMIN, SECRET, NOW)):
        for text in (repr(token), str(token), f"{token}", repr((token,)), str([token])):
            assert SECRET not in text
            assert "***" in text
        assert str(token.role) in repr(token)
    assert "2026-06-01" in repr(Token(Role.ADMIN, SECRET, NOW))


def test_config_summary_shows_only_count_and_roles() -> None:
    config = Config(tokens=(Token(Role.ADMIN, SECRET), Token(Role.VIEW, OTHER, NOW)))
    summary = config.summary()
    assert "tokens=2 (admin, view)" in summary
    assert SECRET not in summary and OTHER not in summary
    assert "tokens=0 (none)" in Config().summary()


# --- tokens: checking --------------------------------------------------------------------


def test_check_matches_only_the_exact_secret() -> None:
    store = TokenStore((Token(Role.VIEW, SECRET), Token(Role.ADMIN, OTHER)))
    assert store.check(SECRET, NOW) is Role.VIEW
    assert store.check(OTHER, NOW) is Role.ADMIN
    for wrong in (SECRET[:-1], SECRET + "x", SECRET.upper(), " " + SECRET, "x" * 24):
        assert store.check(wrong, NOW) is None


def test_check_refuses_empty_and_missing() -> None:
    store = TokenStore((Token(Role.ADMIN, SECRET),))
    assert store.check(None, NOW) is None
    assert store.check("", NOW) is None
    assert TokenStore(()).check(SECRET, NOW) is None
    assert not TokenStore(()) and store


def test_check_expiry_uses_now() -> None:
    expires = datetime(2026, 6, 1, tzinfo=UTC)
    store = TokenStore((Token(Role.VIEW, SECRET, expires),))
    assert store.check(SECRET, expires - timedelta(seconds=1)) is Role.VIEW
    assert store.check(SECRET, expires) is None  # the expiry instant is already too late
    assert store.check(SECRET, expires + timedelta(days=1)) is None
    # without `now` the real clock is used: 2020 is long gone, 2999 is not here yet
    past = TokenStore((Token(Role.VIEW, SECRET, datetime(2020, 1, 1, tzinfo=UTC)),))
    future = TokenStore((Token(Role.VIEW, SECRET, datetime(2999, 1, 1, tzinfo=UTC)),))
    assert past.check(SECRET) is None
    assert future.check(SECRET) is Role.VIEW


@pytest.mark.parametrize("admin_first", [True, False])
def test_same_secret_twice_gives_the_highest_valid_role(admin_first: bool) -> None:
    pair = [Token(Role.VIEW, SECRET), Token(Role.ADMIN, SECRET)]
    store = TokenStore(tuple(reversed(pair)) if admin_first else tuple(pair))
    assert store.check(SECRET, NOW) is Role.ADMIN
    # an expired admin entry does not lift a valid view entry
    expired_admin = Token(Role.ADMIN, SECRET, NOW - timedelta(seconds=1))
    store = TokenStore((expired_admin, Token(Role.VIEW, SECRET)))
    assert store.check(SECRET, NOW) is Role.VIEW


def test_check_of_non_ascii_text_is_a_plain_refusal() -> None:
    store = TokenStore((Token(Role.ADMIN, SECRET),))
    assert store.check("\N{LATIN SMALL LETTER E WITH ACUTE}" * 20, NOW) is None


def test_check_of_undecodable_header_bytes_is_a_plain_refusal() -> None:
    store = TokenStore((Token(Role.ADMIN, SECRET),))
    presented = b"abc\xff\xfedefghijklmnop".decode("utf-8", "surrogateescape")
    assert store.check(presented, NOW) is None


def test_mint_gives_distinct_url_safe_secrets() -> None:
    tokens = [mint(Role.VIEW) for _ in range(200)]
    secrets = {t.secret for t in tokens}
    assert len(secrets) == len(tokens)
    for token in tokens:
        assert len(token.secret) >= 32
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token.secret)
        assert TOKEN_RE.match(token.secret)  # usable in --tokens as printed
        assert token.role is Role.VIEW and token.expires is None
    expiring = mint(Role.ADMIN, NOW)
    assert parse_token_entry(expiring.entry()) == expiring


# --- token transport ---------------------------------------------------------------------


def request(path: str = "/signal", **headers: str):  # type: ignore[no-untyped-def]
    return make_mocked_request("GET", path, headers=CIMultiDict(headers))


def test_token_from_bearer_header() -> None:
    assert presented_token(request(Authorization=f"Bearer {SECRET}")) == SECRET
    assert presented_token(request(Authorization=f"bearer   {SECRET} ")) == SECRET
    assert presented_token(request(Authorization=f"Basic {SECRET}")) is None


def test_token_from_websocket_subprotocol() -> None:
    offered = f"aether.v1, aether-token.{SECRET}"
    assert presented_token(request(**{"Sec-WebSocket-Protocol": offered})) == SECRET
    assert presented_token(request(**{"Sec-WebSocket-Protocol": "aether.v1"})) is None


def test_token_is_never_read_from_the_query_string() -> None:
    for query in (f"?token={SECRET}", f"?access_token={SECRET}", f"?aether-token.{SECRET}"):
        assert presented_token(request("/signal" + query)) is None


# --- the middleware, in front of a stand-in app --------------------------------------------


async def _get(config: Config, path: str, headers: dict[str, str]) -> tuple[int, str]:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(text="secret stats")

    app = web.Application(middlewares=[access_middleware])
    app[ACCESS] = AccessControl(config)
    app.router.add_get(path, handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(path, headers=headers)
        return response.status, await response.text()


def test_loopback_without_tokens_lets_local_clients_in_as_admin() -> None:
    config = Config(host="127.0.0.1")
    assert run_async(_get(config, "/stats", {})) == (200, "secret stats")
    with_tokens = Config(host="127.0.0.1", tokens=(Token(Role.ADMIN, SECRET),))
    assert run_async(_get(with_tokens, "/stats", {}))[0] == 401
    bearer = {"Authorization": f"Bearer {SECRET}"}
    assert run_async(_get(with_tokens, "/stats", bearer)) == (200, "secret stats")


def test_loopback_server_refuses_a_foreign_host_name() -> None:
    config = Config(host="127.0.0.1")
    rebound = {"Host": "attacker.example:7800", "Origin": "http://attacker.example:7800"}
    assert run_async(_get(config, "/stats", rebound))[0] in (400, 403, 421)


# --- network policy ----------------------------------------------------------------------


def test_parse_networks() -> None:
    assert parse_networks("") == () and parse_networks("none") == ()
    assert parse_networks(" none ") == ()
    nets = parse_networks("10.0.0.0/8, 192.168.1.5,::1,10.1.2.3/16")
    assert nets == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.5/32"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.1.0.0/16"),  # host bits are forgiven
    )
    for bad in ("10.0.0.300", "example.com", "10.0.0.0/33", "none,10.0.0.1"):
        assert "CIDRs" in value_error(parse_networks, bad)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


PROXIED = NetworkPolicy(trusted_proxies=parse_networks("127.0.0.1,10.0.0.0/8"))


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    policy = NetworkPolicy()
    xff = {"X-Forwarded-For": "198.51.100.7"}
    assert policy.client_address("203.0.113.9", xff) == addr("203.0.113.9")
    assert policy.client_address("2001:db8::5", {}) == addr("2001:db8::5")
    assert policy.client_address(None, xff) is None
    assert policy.client_address("not-an-address", xff) is None
    # an untrusted peer cannot speak for someone else even when proxies are configured
    assert PROXIED.client_address("203.0.113.9", xff) == addr("203.0.113.9")


def test_trusted_proxy_names_the_right_most_untrusted_hop() -> None:
    one = {"X-Forwarded-For": "203.0.113.9"}
    assert PROXIED.client_address("127.0.0.1", one) == addr("203.0.113.9")
    # the client prepended a forged hop: the proxy's own append is what counts
    forged = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    assert PROXIED.client_address("127.0.0.1", forged) == addr("203.0.113.9")
    # a chain of trusted proxies is skipped from the right
    chain = {"X-Forwarded-For": "198.51.100.1,203.0.113.9 , 10.1.1.1,10.2.2.2"}
    assert PROXIED.client_address("127.0.0.1", chain) == addr("203.0.113.9")
    bracketed = {"X-Forwarded-For": "[2001:db8::7]"}
    assert PROXIED.client_address("127.0.0.1", bracketed) == addr("2001:db8::7")


def test_all_hops_trusted_or_no_header_means_the_peer() -> None:
    assert PROXIED.client_address("127.0.0.1", {"X-Forwarded-For": "10.0.0.2, 10.0.0.3"}) == addr(
        "127.0.0.1"
    )
    assert PROXIED.client_address("10.0.0.9", {}) == addr("10.0.0.9")
    assert PROXIED.client_address("10.0.0.9", {"X-Forwarded-For": " , "}) == addr("10.0.0.9")


def test_malformed_hop_makes_the_client_unknown() -> None:
    for chain in ("203.0.113.9, garbage", "unknown", "203.0.113.9:4711", "10.0.0.2, 300.1.1.1"):
        assert PROXIED.client_address("127.0.0.1", {"X-Forwarded-For": chain}) is None
    # ...but only when it is reached: a valid untrusted hop to its right decides first
    fine = {"X-Forwarded-For": "garbage, 203.0.113.9"}
    assert PROXIED.client_address("127.0.0.1", fine) == addr("203.0.113.9")


def test_ipv4_mapped_ipv6_peer_is_its_ipv4_address() -> None:
    assert NetworkPolicy().client_address("::ffff:203.0.113.9", {}) == addr("203.0.113.9")
    # and matches an IPv4 trusted proxy (dual-stack sockets report proxies this way)
    xff = {"X-Forwarded-For": "198.51.100.4"}
    assert PROXIED.client_address("::ffff:127.0.0.1", xff) == addr("198.51.100.4")


def test_repeated_forwarded_for_lines_form_one_list() -> None:
    headers = CIMultiDict(
        [("X-Forwarded-For", "198.51.100.66"), ("X-Forwarded-For", "203.0.113.5")]
    )
    assert PROXIED.client_address("127.0.0.1", headers) == addr("203.0.113.5")


def test_allow_list() -> None:
    assert NetworkPolicy().allowed(None)  # no list: everyone, even an unknown address
    assert NetworkPolicy().allowed(addr("203.0.113.9"))
    policy = NetworkPolicy(allow=parse_networks("10.9.9.0/24,2001:db8::/32"))
    assert policy.allowed(addr("10.9.9.7"))
    assert policy.allowed(addr("2001:db8::1"))
    assert not policy.allowed(addr("10.9.8.7"))
    assert not policy.allowed(addr("2001:db9::1"))
    assert not policy.allowed(None)


# --- Origin ------------------------------------------------------------------------------

HOST = "stream.example.com:7800"


@pytest.mark.parametrize(
    ("origin", "scheme", "allowed", "ok"),
    [
        (None, "http", (), True),  # not a browser
        ("http://stream.example.com:7800", "http", (), True),
        ("HTTP://Stream.Example.COM:7800", "http", (), True),
        ("http://stream.example.com:7801", "http", (), False),
        ("http://stream.example.com", "http", (), False),
        ("http://evil.example:7800", "http", (), False),
        ("http://stream.example.com.evil.example:7800", "http", (), False),
        ("https://stream.example.com:7800", "https", (), True),
        # TLS ends at a proxy: the server sees http, the page's origin is https
        ("https://stream.example.com:7800", "http", (), True),
        # but never the other way round
        ("http://stream.example.com:7800", "https", (), False),
        ("https://console.example.org", "http", ("https://console.example.org",), True),
        ("https://console.example.org", "http", ("HTTPS://CONSOLE.EXAMPLE.ORG",), True),
        ("https://console.example.org:8443", "http", ("https://console.example.org",), False),
        ("https://evil.example", "http", ("https://console.example.org",), False),
        ("https://evil.example", "http", ("*",), True),
        ("null", "http", ("*",), True),
        ("null", "http", (), False),
        ("file://stream.example.com:7800", "http", (), False),
        ("ws://stream.example.com:7800", "http", (), False),
        ("chrome-extension://stream.example.com:7800", "http", (), False),
    ],
)
def test_origin_allowed(origin: str | None, scheme: str, allowed: tuple[str, ...],
                        ok: bool) -> None:  # fmt: skip
    assert origin_allowed(origin, HOST, scheme, allowed) is ok


def test_origin_needs_a_host_to_compare_with() -> None:
    assert not origin_allowed("http://stream.example.com:7800", None, "http", ())
    assert not origin_allowed("http://stream.example.com:7800", "", "http", ())


# --- back-off ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_backoff_constants_are_what_the_docs_say() -> None:
    assert (FAILURES_ALLOWED, FAILURE_WINDOW, BACKOFF_FIRST, BACKOFF_MAX) == (5, 60, 10, 600)
    assert TRACKED_ADDRESSES == 10_000


def test_five_failures_are_allowed_the_sixth_blocks() -> None:
    clock = FakeClock()
    backoff = AuthBackoff(clock)
    for _ in range(FAILURES_ALLOWED):
        backoff.failed("10.0.0.1")
        assert backoff.retry_after("10.0.0.1") == 0
    backoff.failed("10.0.0.1")
    assert backoff.retry_after("10.0.0.1") == BACKOFF_FIRST
    assert backoff.retry_after("10.0.0.2") == 0  # per address
    clock.advance(4)
    assert backoff.retry_after("10.0.0.1") == BACKOFF_FIRST - 4
    clock.advance(6)
    assert backoff.retry_after("10.0.0.1") == 0


def test_retry_after_doubles_up_to_the_cap() -> None:
    clock = FakeClock()
    backoff = AuthBackoff(clock)
    for _ in range(FAILURES_ALLOWED):
        backoff.failed("a")
    waits = []
    for _ in range(9):
        backoff.failed("a")
        waits.append(backoff.retry_after("a"))
    assert waits == [10, 20, 40, 80, 160, 320, 600, 600, 600]


def test_failing_again_after_waiting_doubles_the_wait() -> None:
    clock = FakeClock()
    backoff = AuthBackoff(clock)
    for _ in range(FAILURES_ALLOWED + 1):
        backoff.failed("a")
    clock.advance(BACKOFF_FIRST)
    assert backoff.retry_after("a") == 0
    backoff.failed("a")  # still more than five failures within the window
    assert backoff.retry_after("a") == 2 * BACKOFF_FIRST


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = FakeClock()
    backoff = AuthBackoff(clock)
    for _ in range(FAILURES_ALLOWED):
        backoff.failed("a")
        backoff.failed("b")
    clock.advance(FAILURE_WINDOW - 1)
    backoff.failed("a")  # six within the window
    assert backoff.retry_after("a") == BACKOFF_FIRST
    clock.advance(1)
    backoff.failed("b")  # the first five are exactly one window old: gone
    assert backoff.retry_after("b") == 0


def test_success_clears_the_record() -> None:
    clock = FakeClock()
    backoff = AuthBackoff(clock)
    for _ in range(FAILURES_ALLOWED + 3):
        backoff.failed("a")
    assert backoff.retry_after("a") > 0
    backoff.succeeded("a")
    assert backoff.retry_after("a") == 0
    for _ in range(FAILURES_ALLOWED):
        backoff.failed("a")
    assert backoff.retry_after("a") == 0  # the count started again
    backoff.failed("a")
    assert backoff.retry_after("a") == BACKOFF_FIRST  # and so did the doubling
    backoff.succeeded("never-seen")  # harmless


def test_memory_is_bounded_and_the_oldest_address_goes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit = 50
    monkeypatch.setattr(backoff_module, "TRACKED_ADDRESSES", limit)
    backoff = AuthBackoff(FakeClock())
    for _ in range(FAILURES_ALLOWED + 1):
        backoff.failed("old")
        backoff.failed("busy")
    for i in range(limit - 2):
        backoff.failed(f"10.0.{i // 256}.{i % 256}")
    assert backoff.retry_after("old") > 0 and backoff.retry_after("busy") > 0
    backoff.failed("busy")  # a fresh failure makes it the newest entry
    backoff.failed("one-too-many")
    assert backoff.retry_after("old") == 0  # the least recently failed address was dropped
    assert backoff.retry_after("busy") > 0
    assert len(backoff._records) == limit


def test_memory_bound_at_the_real_size() -> None:
    backoff = AuthBackoff(FakeClock())
    for i in range(TRACKED_ADDRESSES + 500):
        backoff.failed(str(ipaddress.ip_address(i + 1)))
    assert len(backoff._records) == TRACKED_ADDRESSES


# --- token bucket ------------------------------------------------------------------------


def takes(bucket: TokenBucket, n: int) -> list[bool]:
    return [bucket.take() for _ in range(n)]


def test_bucket_allows_a_burst_then_refuses() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=5, burst=10, clock=clock)
    assert takes(bucket, 11) == [True] * 10 + [False]


def test_bucket_refills_at_the_rate_and_caps_at_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=5, burst=10, clock=clock)
    takes(bucket, 10)
    clock.advance(0.1)  # half a message's worth
    assert not bucket.take()
    clock.advance(0.1)  # the half from before still counts
    assert takes(bucket, 2) == [True, False]
    clock.advance(1.0)
    assert takes(bucket, 6) == [True] * 5 + [False]
    clock.advance(3600)
    assert takes(bucket, 11) == [True] * 10 + [False]


def test_session_bucket_sustains_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=50, burst=100, clock=clock)
    allowed = 0
    for _ in range(10 * 200):  # 200 messages/s for 10 s
        clock.advance(1 / 200)
        allowed += bucket.take()
    assert 100 + 50 * 10 - 2 <= allowed <= 100 + 50 * 10


# --- aether token ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("1d", timedelta(days=1)),
        ("0m", timedelta(0)),
    ],
)
def test_parse_when_durations(text: str, delta: timedelta) -> None:
    assert cli.parse_when(text, NOW) == NOW + delta


def test_parse_when_iso() -> None:
    assert cli.parse_when("2027-01-02", NOW) == datetime(2027, 1, 2, tzinfo=UTC)
    assert cli.parse_when("2027-01-02T03:04:05Z", NOW) == datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("text", ["7w", "d", "-5m", "5 d", "soon", "1.5h"])
def test_parse_when_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        cli.parse_when(text, NOW)


def test_token_command_prints_a_usable_entry(capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(UTC)
    assert cli.main(["token", "--role", "admin", "--expires", "1d"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1
    token = parse_token_entry(lines[0])
    assert token.role is Role.ADMIN
    assert token.expires is not None
    ahead = token.expires - before
    assert timedelta(hours=23, minutes=59) <= ahead <= timedelta(days=1, seconds=5)
    assert len(token.secret) >= 32
    assert f"#token={token.secret}" in err  # the viewer URL carries it in the fragment
    assert "?token=" not in out + err


def test_token_command_defaults_to_view_without_expiry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["token"]) == 0
    first = parse_token_entry(capsys.readouterr().out.strip())
    assert (first.role, first.expires) == (Role.VIEW, None)
    assert cli.main(["token"]) == 0
    second = parse_token_entry(capsys.readouterr().out.strip())
    assert second.secret != first.secret


def test_token_command_rejects_a_bad_expiry(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", "--expires", "next-week"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no token is printed
    assert "invalid --expires='next-week'" in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["token", "--role", "root"])
    assert exit_.value.code == 2


def test_token_command_rejects_an_absurd_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", "--expires", "99999999d"]) == 2
    assert "invalid --expires" in capsys.readouterr().err
