"""`aether doctor` and `aether sources`: real checks, their verdict and exit code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

import pytest

from aether.encode.probe import first_available
from tests.helpers import free_port, pulseaudio, xvfb

TEST_SOURCES = ("--source", "test", "--audio", "test", "--host", "127.0.0.1", "--stun", "none")


def aether(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "aether", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, proc.stdout


def test_everything_present_is_ready_to_serve() -> None:
    code, out = aether("doctor", *TEST_SOURCES, "--port", str(free_port()))
    assert code == 0, out
    assert out.rstrip().endswith("ready to serve")
    for line in ("OK    GStreamer ", "OK    encoder x264", "OK    video source test"):
        assert line in out, out


def test_a_missing_encoder_plugin_fails_with_the_fix() -> None:
    if first_available(("nvh264enc", "nvcudah264enc")):
        pytest.skip("this machine has NVENC elements; the test needs a machine without")
    code, out = aether("doctor", *TEST_SOURCES, "--port", str(free_port()), "--encoder", "nvenc")
    assert code == 1
    assert "FAIL  encoder nvenc" in out and "fix: an NVIDIA GPU" in out
    assert "serving would fail: encoder nvenc" in out


def test_port_in_use_and_missing_display_are_failures_in_json() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out = aether(
            "doctor", "--json", *TEST_SOURCES, "--port", str(port),
            "--source", "x11", "--display", ":249",
        )  # fmt: skip
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    failed: dict[str, Any] = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
    assert set(failed) == {f"port 127.0.0.1:{port}", "video source x11"}, failed
    assert "Xvfb" in failed["video source x11"]["fix"]
    assert "--port" in failed[f"port 127.0.0.1:{port}"]["fix"]


def test_sources_lists_every_randr_monitor_and_the_usable_encoders() -> None:
    with xvfb(1280, 480) as display:
        env = {"DISPLAY": display}
        for spec in ("LEFT 640/0x480/0+0+0", "RIGHT 640/0x480/0+640+0"):
            subprocess.run(["xrandr", "--setmonitor", *spec.split(), "none"],
                           env={**os.environ, **env}, check=True)  # fmt: skip
        code, out = aether("sources", "--json", "--display", display)
    data = json.loads(out)
    assert code == 0
    monitors = [(m["name"], m["geometry"]) for m in data["x11"]["monitors"]]
    assert ("LEFT", "640x480+0+0") in monitors and ("RIGHT", "640x480+640+0") in monitors
    usable = {e["name"]: e["usable"] for e in data["encoders"]}
    assert usable["x264"] == "yes"
    assert set(usable) == {"nvenc", "vaapi", "x264", "openh264", "copy"}
    assert usable["copy"] == "no"  # only with --source url


def test_sources_lists_pulseaudio_sources_by_the_name_audio_device_takes() -> None:
    with pulseaudio() as env:
        code, out = aether("sources", "--json", "--display", ":249", env=env)
        doctor_code, doctor_out = aether(
            "doctor", *TEST_SOURCES, "--port", str(free_port()), "--audio", "pulse",
            "--audio-device", "aether_test.monitor", env=env,
        )  # fmt: skip
    data = json.loads(out)
    assert code == 0
    names = [a.get("pulse_name") for a in data["audio_sources"]]
    assert "aether_test.monitor" in names, data["audio_sources"]
    assert "unavailable" not in json.dumps(data["encoders"])
    assert "error" in data["x11"]  # no display :249
    assert doctor_code == 0 and "OK    audio source pulse" in doctor_out, doctor_out
