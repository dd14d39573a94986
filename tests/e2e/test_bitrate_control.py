"""`POST /encoder`: an admin changes the bitrate while a viewer watches; the viewer stays
connected and receives at the new rate; a viewer token may not."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import decoded, stats, wait_for
from tests.helpers import ServerProcess

pytestmark = pytest.mark.e2e

ADMIN, VIEWER = "admin-secret-0123456789abc", "view-secret-0123456789abc"


def post(server: ServerProcess, body: Any, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        server.url + "/encoder",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def received_kbps(page: Any, seconds: float = 3.0) -> float:
    before = stats(page)["video"]["bytesReceived"]
    page.wait_for_timeout(seconds * 1000)
    return float((stats(page)["video"]["bytesReceived"] - before) * 8 / seconds / 1000)


def test_admin_lowers_the_bitrate_while_a_viewer_watches(browser: Any) -> None:
    tokens = f"admin:{ADMIN},view:{VIEWER}"
    args = ("--source", "test", "--audio", "none", "--width", "640", "--height", "360",
            "--fps", "30", "--bitrate", "2500", "--tokens", tokens)  # fmt: skip
    with ServerProcess(*args) as server:
        page = browser.new_context().new_page()
        try:
            page.goto(f"{server.url}/#token={VIEWER}")
            wait_for(page, lambda s: decoded(s) > 10, what="frames")
            high = received_kbps(page)
            assert post(server, {"bitrate_kbps": 300}, VIEWER)[0] == 403
            assert post(server, {"bitrate_kbps": 5}, ADMIN)[0] == 400
            assert post(server, {"bitrate_kbps": "fast"}, ADMIN)[0] == 400
            code, answer = post(server, {"bitrate_kbps": 300}, ADMIN)
            assert (code, answer) == (200, {"bitrate_kbps": 300, "previous_kbps": 2500})
            page.wait_for_timeout(1500)  # the rate control settles
            low = received_kbps(page)
            after = stats(page)
        finally:
            page.context.close()
    assert after["state"] == "connected"
    assert high > 1000, high
    assert low < 0.4 * high and low < 600, (high, low)
