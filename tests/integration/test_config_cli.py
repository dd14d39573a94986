"""`aether config` shows the effective settings and their origin; a bad file stops serve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SECRET = "admin:s3cr3t-value-0123456789"


def aether(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "aether", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "XDG_CONFIG_HOME": "/nonexistent", **(env or {})},
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_config_shows_values_with_their_origin_and_masks_secrets(tmp_path: Path) -> None:
    path = tmp_path / "aether.toml"
    path.write_text(f'source = "test"\nmax_viewers = 7\ntokens = ["{SECRET}"]\n')
    code, out, _ = aether(
        "config", "--json", "--config", str(path), "--fps", "24", env={"AETHER_PORT": "7011"}
    )
    assert code == 0
    report = json.loads(out)
    rows = {r["setting"]: r for r in report["settings"]}
    assert report["file"] == str(path)
    assert (rows["fps"]["value"], rows["fps"]["from"]) == (24, "--fps")
    assert (rows["port"]["value"], rows["port"]["from"]) == (7011, "AETHER_PORT")
    assert (rows["max_viewers"]["value"], rows["max_viewers"]["from"]) == (7, f"{path}:2")
    assert rows["tokens"]["value"] == ["admin:***"]
    assert rows["bitrate"]["from"] == "default"
    assert "s3cr3t" not in out


def test_serve_refuses_a_file_with_an_unknown_key_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "aether.toml"
    path.write_text('source = "test"\nbitrat = 4000\n')
    code, _out, err = aether("serve", "--config", str(path))
    assert code == 2
    assert f"{path}:2" in err and "bitrat" in err
