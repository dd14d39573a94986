"""systemd units for `aether install-service`: a user service for a desktop session (the
capture needs the user's display and audio) or a system service for a headless box.

Type=notify: the server says READY=1 once it serves and WATCHDOG=1 while video frames
flow, so systemd restarts it when it hangs or the stream stops; restart on failure.
Hardening where it does not break capture: /tmp stays shared, because the X server's
socket lives in /tmp/.X11-unix.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

WATCHDOG_SEC = 15


@dataclass(frozen=True)
class UnitPlan:
    path: Path
    text: str
    enable: str  # the commands that enable and start it


def executable() -> str:
    """The `aether` launcher next to this Python (the venv's), else `python -m aether`."""
    launcher = Path(sys.executable).with_name("aether")
    if launcher.is_file():
        return str(launcher)
    return f"{sys.executable} -m aether"


def render(user: bool, serve_args: list[str], config: str | None, run_as: str | None = None) -> str:
    command = [executable(), "serve"]
    if config:
        command += ["--config", str(Path(config).resolve())]
    command += serve_args
    exec_start = " ".join(shlex.quote(part) for part in command)
    after = "graphical-session.target" if user else "network-online.target"
    wanted_by = "default.target" if user else "multi-user.target"
    wants = "" if user else "Wants=network-online.target\n"
    system_only = "" if user else "ProtectHome=read-only\n"
    if run_as and not user:
        system_only = f"User={run_as}\n" + system_only
    return f"""[Unit]
Description=Aether: low-latency screen and audio streaming to browsers (WebRTC)
After={after}
{wants}
[Service]
Type=notify
NotifyAccess=main
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=3
WatchdogSec={WATCHDOG_SEC}
TimeoutStopSec=15
NoNewPrivileges=yes
ProtectSystem=full
{system_only}PrivateDevices=no
RestrictSUIDSGID=yes
LockPersonality=yes

[Install]
WantedBy={wanted_by}
"""


def plan(
    user: bool, serve_args: list[str], config: str | None, run_as: str | None = None
) -> UnitPlan:
    if user:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        path = base / "systemd" / "user" / "aether.service"
        enable = "systemctl --user daemon-reload && systemctl --user enable --now aether"
    else:
        path = Path("/etc/systemd/system/aether.service")
        enable = "systemctl daemon-reload && systemctl enable --now aether"
    return UnitPlan(path, render(user, serve_args, config, run_as), enable)


def install(unit: UnitPlan) -> None:
    unit.path.parent.mkdir(parents=True, exist_ok=True)
    unit.path.write_text(unit.text, encoding="utf-8")


def uninstall(user: bool) -> Path | None:
    path = plan(user, [], None).path
    if path.exists():
        path.unlink()
        return path
    return None
