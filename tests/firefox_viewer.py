"""Firefox ESR as a test viewer: tests/firefox/viewer.js (puppeteer-core, WebDriver BiDi) in
a child process, reporting the player's state and getStats figures as JSON lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT

FIREFOX = "/usr/bin/firefox-esr"
DRIVER_DIR = ROOT / "tests" / "firefox"
DRIVER = DRIVER_DIR / "viewer.js"


def missing() -> str | None:
    """Why Firefox tests cannot run here, or None when they can."""
    if not Path(FIREFOX).exists():
        return f"{FIREFOX} not installed (scripts/setup.sh --test installs firefox-esr)"
    if shutil.which("node") is None:
        return "node not installed (scripts/setup.sh --test installs nodejs)"
    if not (DRIVER_DIR / "node_modules" / "puppeteer-core").is_dir():
        return "puppeteer-core not installed in tests/firefox (scripts/setup.sh --test)"
    return None


def require_firefox() -> None:
    """Skip (or fail, when AETHER_REQUIRE_E2E=1 as in scripts/test.sh) without Firefox."""
    reason = missing()
    if reason is None:
        return
    if os.environ.get("AETHER_REQUIRE_E2E") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def decoded(s: dict[str, Any]) -> int:
    return int((s.get("video") or {}).get("framesDecoded", 0))


def audio_packets(s: dict[str, Any]) -> int:
    return int((s.get("audio") or {}).get("packetsReceived", 0))


class FirefoxViewer:
    """One headless Firefox with the player page open at `url`."""

    def __init__(self, url: str, interval_ms: int = 250) -> None:
        self.url = url
        self.interval_ms = interval_ms
        self.lines: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._stderr: Any = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> FirefoxViewer:
        self._stderr = tempfile.NamedTemporaryFile("w+", prefix="aether-firefox-", suffix=".log")
        self._profile = tempfile.TemporaryDirectory(prefix="aether-firefox-profile-")
        self._proc = subprocess.Popen(
            [
                "node",
                str(DRIVER),
                self.url,
                "--interval-ms",
                str(self.interval_ms),
                "--profile",
                self._profile.name,
            ],
            cwd=DRIVER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="firefox-viewer", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"event": "garbage", "text": raw}
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.lines.append({"event": "exit"})
            self._changed.notify_all()

    def click(self, selector: str) -> None:
        """Click an element as a user would (fullscreen and unmute need a real gesture)."""
        assert self._proc is not None and self._proc.stdin is not None
        with self._changed:
            seen = len(self.lines)
        self._proc.stdin.write(f"click {selector}\n")
        self._proc.stdin.flush()
        deadline = time.monotonic() + 10
        with self._changed:
            while not any(x["event"] in ("clicked", "error") for x in self.lines[seen:]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"click {selector}: no reply")
                self._changed.wait(left)
            reply = next(x for x in self.lines[seen:] if x["event"] in ("clicked", "error"))
        assert reply["event"] == "clicked", reply

    def latest(self) -> dict[str, Any] | None:
        with self._changed:
            return next((x for x in reversed(self.lines) if x["event"] == "stats"), None)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0, what: str = ""
    ) -> dict[str, Any]:
        """The first report after now for which predicate holds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            seen = len(self.lines)
            while True:
                for line in self.lines[seen:]:
                    if line["event"] == "exit":
                        raise AssertionError(f"the Firefox driver exited:\n{self.output()}")
                    if line["event"] == "stats" and predicate(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    last = self.latest()
                    raise AssertionError(f"timed out waiting for {what}; last report {last}")
                self._changed.wait(left)

    def events(self, kind: str) -> list[dict[str, Any]]:
        with self._changed:
            return [x for x in self.lines if x["event"] == kind]

    def output(self) -> str:
        errors = [x for x in self.lines if x["event"] in ("error", "console", "garbage")]
        stderr = Path(self._stderr.name).read_text()[-4000:] if self._stderr else ""
        return "\n".join(json.dumps(x) for x in errors[-20:]) + "\n" + stderr

    def close(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()  # the driver closes Firefox and exits
        try:
            self._proc.wait(20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._reader is not None:
            self._reader.join(5)
        self._stderr.close()
        if self._profile is not None:
            self._profile.cleanup()
        self._proc = None

    def __enter__(self) -> FirefoxViewer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
