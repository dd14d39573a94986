"""SIGHUP re-reads the config file: tokens and limits change at once, other settings are
named as needing a restart, a broken file is refused and the running config stays."""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers import ServerProcess

OLD, NEW = "admin:old-secret-0123456789ab", "admin:new-secret-0123456789ab"
BASE = 'source = "test"\naudio = "none"\nwidth = 320\nheight = 240\nfps = 15\n'


def status(server: ServerProcess, token: str) -> int:
    request = urllib.request.Request(
        server.url + "/stats", headers={"Authorization": f"Bearer {token.split(':')[1]}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for_log(server: ServerProcess, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while text not in (out := server.output()):
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{out[-2000:]}"
        time.sleep(0.1)
    return out


def test_sighup_applies_new_tokens_and_names_what_needs_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "aether.toml"
    path.write_text(BASE + f'tokens = ["{OLD}"]\nmax_viewers = 5\n')
    with ServerProcess("--config", str(path), env={"XDG_CONFIG_HOME": str(tmp_path)}) as server:
        assert server.proc is not None
        assert (status(server, OLD), status(server, NEW)) == (200, 401)

        path.write_text(BASE.replace("fps = 15", "fps = 20") + f'tokens = ["{NEW}"]\n')
        server.proc.send_signal(signal.SIGHUP)
        out = wait_for_log(server, "reload: applied")
        assert (status(server, NEW), status(server, OLD)) == (200, 401)
        assert "reload: applied max_viewers, tokens" in out
        assert "reload: fps changed but need a restart" in out
        assert "new-secret" not in out and "old-secret" not in out

        path.write_text(BASE + "max_viewers = 0\n")  # invalid: the running config stays
        server.proc.send_signal(signal.SIGHUP)
        wait_for_log(server, "reload refused")
        assert status(server, NEW) == 200
        assert server.proc.poll() is None
