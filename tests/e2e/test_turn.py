"""TURN: a Chromium viewer forced to relay (#relay=1) plays through a real coturn.

coturn's turnserver runs privately on the test namespace's address with long-term
credentials; `aether serve --turn turn://USER:PASS@HOST:PORT` gives the server to webrtcbin
and, in the welcome, to the browser. The player page opened with #relay=1 uses only relay
candidates: it must decode frames over a selected candidate pair whose local end is a relay
allocated on that coturn. The TURN password never reaches the server's log.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.conftest import decoded, wait_for
from tests.helpers import ServerProcess, free_port, stop_process

pytestmark = pytest.mark.e2e

TURN_HOST = "10.213.0.2"  # scripts/netns-run.sh's second address, inside the namespace
USER, PASSWORD = "aether-test", "turn-pass:w0rd/with@specials"
SOURCE = ("--source", "test", "--audio", "test", "--width", "320", "--height", "240",
          "--fps", "15", "--bitrate", "300")  # fmt: skip

SELECTED_PAIR_JS = """
async () => {
  const pc = window.aether && window.aether.pc;
  if (!pc) return null;
  const byId = {};
  let pairId = null;
  (await pc.getStats()).forEach(r => {
    byId[r.id] = r;
    if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
  });
  const pair = pairId && byId[pairId];
  if (!pair) return null;
  const pick = (c) => c && {type: c.candidateType, address: c.address, port: c.port,
                            protocol: c.protocol, relayProtocol: c.relayProtocol || null};
  return {state: pair.state, local: pick(byId[pair.localCandidateId]),
          remote: pick(byId[pair.remoteCandidateId])};
}
"""


class Coturn:
    """A private turnserver on TURN_HOST with one long-term user; ended by its PID."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log_path = workdir / "turnserver.log"
        config = workdir / "turnserver.conf"
        config.write_text(
            "\n".join(
                [
                    f"listening-ip={TURN_HOST}",
                    f"relay-ip={TURN_HOST}",
                    f"listening-port={self.port}",
                    "min-port=49160",
                    "max-port=49200",
                    "lt-cred-mech",
                    "realm=aether.test",
                    f"user={USER}:{PASSWORD}",
                    "fingerprint",
                    "no-tls",
                    "no-dtls",
                    "no-cli",
                    "no-multicast-peers",
                    f"pidfile={workdir / 'turnserver.pid'}",
                    f"log-file={self.log_path}",
                    "simple-log",
                    "verbose",
                ]
            )
            + "\n"
        )
        self.proc = subprocess.Popen(
            ["turnserver", "-c", str(config), "--no-stdout-log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:  # its TCP listener answers once it serves (UDP shares the port)
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited {self.proc.returncode}: {self.log()}")
            try:
                socket.create_connection((TURN_HOST, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"turnserver not listening: {self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc, 10)


@pytest.fixture
def coturn() -> Iterator[Coturn]:
    if shutil.which("turnserver") is None:
        pytest.skip("coturn's turnserver is not installed: run scripts/setup.sh --test")
    with tempfile.TemporaryDirectory(prefix="aether-coturn-") as workdir:
        server = Coturn(Path(workdir))
        try:
            yield server
        finally:
            server.stop()


def selected_pair(page: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pair = page.evaluate(SELECTED_PAIR_JS)
        if pair and pair["state"] == "succeeded" and pair["local"]:
            return pair
        page.wait_for_timeout(200)
    raise AssertionError(f"no selected candidate pair: {page.evaluate(SELECTED_PAIR_JS)}")


def turn_url(port: int) -> str:
    return f"turn://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@{TURN_HOST}:{port}"


def test_a_relay_only_viewer_plays_through_coturn(browser: Any, coturn: Coturn) -> None:
    with ServerProcess(*SOURCE, "--turn", turn_url(coturn.port)) as server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(server.url + "/#relay=1")
            stats = wait_for(page, lambda s: decoded(s) >= 15, 30, "frames over the relay")
            assert stats["state"] == "connected"
            pair = selected_pair(page)
            assert pair["local"]["type"] == "relay", pair
            assert pair["local"]["address"] == TURN_HOST, pair
            assert 49160 <= pair["local"]["port"] <= 49200, pair  # coturn's relay range
            before = decoded(stats)
            wait_for(page, lambda s: decoded(s) > before + 15, 10, "frames keep coming")
        finally:
            context.close()
        log = server.output()
    turn_log = coturn.log()
    # The browser's allocation, and webrtcbin's own (it was given the server too).
    assert turn_log.count("ALLOCATE processed, success") >= 2, turn_log[-3000:]
    assert PASSWORD not in log and "w0rd" not in log, "the TURN password reached the log"
    assert f"turn=turn://***@{TURN_HOST}:{coturn.port}" in log


def test_relay_only_without_a_turn_server_says_so(browser: Any) -> None:
    with ServerProcess(*SOURCE) as server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(server.url + "/#relay=1")
            page.wait_for_function(
                "() => window.aether && window.aether.status === 'error'", timeout=15000
            )
            text = page.inner_text("#state")
            assert "no TURN server" in text, text
        finally:
            context.close()


def doctor(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "aether", "doctor", "--source", "test", "--audio", "test",
         "--stun", "none", "--port", str(free_port()), *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return proc.stdout + proc.stderr


def test_doctor_allocates_on_the_turn_server_and_names_refused_credentials(
    coturn: Coturn,
) -> None:
    name = f"TURN turn://***@{TURN_HOST}:{coturn.port}"
    good = doctor("--turn", turn_url(coturn.port))
    assert re.search(rf"OK +{re.escape(name)} +credentials taken, relay at {TURN_HOST}:49", good)
    wrong = turn_url(coturn.port).replace(quote(PASSWORD, safe=""), "not-the-password")
    bad = doctor("--turn", wrong)
    assert re.search(rf"WARN +{re.escape(name)} +credentials refused: 401", bad), bad
    for out in (good, bad):
        assert PASSWORD not in out and quote(PASSWORD, safe="") not in out
        assert "not-the-password" not in out
    # The allocation was released at once (a Refresh with lifetime 0), not left to expire.
    log = coturn.log()
    assert "lifetime=0" in log and "REFRESH processed, success" in log, log[-2000:]
