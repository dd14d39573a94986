"""Sources and encoders that cannot run stop start-up with the reason and the fix."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ServerProcess


def test_missing_camera_is_named_with_the_fix() -> None:
    code, out = ServerProcess(
        "--source", "v4l2", "--device", "/dev/video-aether-missing", "--audio", "none"
    ).run_to_exit()
    assert code == 1
    assert "no camera device /dev/video-aether-missing" in out and "--device" in out
    assert "Traceback" not in out


def test_a_path_that_is_not_a_device_is_refused() -> None:
    code, out = ServerProcess("--source", "v4l2", "--device", "/etc/hostname").run_to_exit()
    assert code == 1
    assert "/etc/hostname is not a device node" in out


def test_url_source_needs_a_url_and_a_file_that_exists(tmp_path: Path) -> None:
    code, out = ServerProcess("--source", "url", "--audio", "none").run_to_exit()
    assert code == 1 and "a feed URL or file path with --source url" in out
    missing = f"{tmp_path}/nothing.mp4"
    code, out = ServerProcess("--source", "url", "--url", missing, "--audio", "none").run_to_exit()
    assert code == 1
    assert f"no such file: {missing}" in out and "fix:" in out


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]  # bound, never listening: connections are refused


def test_feed_that_does_not_answer_is_named_without_its_credentials(closed_port: int) -> None:
    url = f"rtsp://operator:hunter2@127.0.0.1:{closed_port}/live"
    code, out = ServerProcess("--source", "url", "--url", url, "--audio", "none").run_to_exit()
    assert code == 1
    assert "does not answer" in out
    assert "hunter2" not in out


def test_explicit_encoder_that_cannot_run_names_the_fix() -> None:
    from aether.encode.probe import first_available

    if first_available(("vah264enc", "vaapih264enc")):
        pytest.skip("this machine has a VA-API H.264 element; the test needs one without")
    code, out = ServerProcess(
        "--source", "test", "--audio", "none", "--encoder", "vaapi"
    ).run_to_exit()
    assert code == 1
    assert "encoder vaapi" in out and "fix:" in out and "VA-API driver" in out
