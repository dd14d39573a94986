"""systemd integration: generated units pass `systemd-analyze verify`; the server speaks
sd_notify (READY once serving, WATCHDOG while frames flow, STOPPING at the end)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aether.service import unit
from tests.helpers import ServerProcess

VERIFY = shutil.which("systemd-analyze")


def verify(path: Path) -> None:
    if VERIFY is None:
        pytest.skip("systemd-analyze is not installed (package systemd)")
    proc = subprocess.run([VERIFY, "verify", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_user_unit_is_written_verified_and_removed(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    run = [sys.executable, "-m", "aether"]
    proc = subprocess.run([*run, "install-service", "--user", "--", "--source", "test"],
                          env=env, capture_output=True, text=True, check=True)  # fmt: skip
    path = tmp_path / "systemd" / "user" / "aether.service"
    assert f"wrote {path}" in proc.stderr and "systemctl --user enable --now aether" in proc.stderr
    text = path.read_text()
    for line in ("Type=notify", "Restart=on-failure", "WatchdogSec=", "NoNewPrivileges=yes",
                 "WantedBy=default.target", "ExecReload=/bin/kill -HUP $MAINPID"):  # fmt: skip
        assert line in text
    assert "serve --source test" in text
    assert "PrivateTmp" not in text  # the X server's socket is in /tmp
    verify(path)
    subprocess.run([*run, "uninstall-service", "--user"], env=env, check=True)
    assert not path.exists()


def test_system_unit_runs_as_the_given_user_and_verifies(tmp_path: Path) -> None:
    text = unit.render(user=False, serve_args=["--source", "test"], config=None, run_as="daemon")
    assert "User=daemon" in text and "WantedBy=multi-user.target" in text
    path = tmp_path / "aether.service"
    path.write_text(text)
    verify(path)


def test_server_tells_systemd_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(10)
        env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
        server = ServerProcess("--source", "test", "--audio", "none", "--width", "320",
                               "--height", "240", "--fps", "15", env=env)  # fmt: skip
        messages: list[str] = []
        with server:
            deadline = time.monotonic() + 10
            while sum("WATCHDOG=1" in m for m in messages) < 2 and time.monotonic() < deadline:
                messages.append(sock.recv(4096).decode())
        messages.append(sock.recv(4096).decode())  # sent as the server stops
    assert messages[0].startswith("READY=1") and "STATUS=serving on" in messages[0], messages
    assert sum(m == "WATCHDOG=1" for m in messages) >= 2, messages
    assert messages[-1] == "STOPPING=1", messages
