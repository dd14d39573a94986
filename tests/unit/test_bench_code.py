"""bench/docs.py's code_version(): which code a benchmark run measured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def version_seen_with(pythonpath: Path) -> str:
    """code_version() as a bench started with PYTHONPATH=`pythonpath` would record it."""
    done = subprocess.run(
        [sys.executable, "-c", "from bench.docs import code_version; print(code_version())"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(pythonpath)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def git(tree: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_a_run_on_another_tree_names_the_tree_its_commit_and_its_changes(tmp_path: Path) -> None:
    package = tmp_path / "aether"
    package.mkdir()
    (package / "__init__.py").write_text("")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "one")
    commit = git(tmp_path, "rev-parse", "--short", "HEAD")
    assert version_seen_with(tmp_path) == f"{tmp_path.resolve()}: {commit}"
    (package / "__init__.py").write_text("# changed\n")
    assert version_seen_with(tmp_path) == f"{tmp_path.resolve()}: {commit} + changes"


def test_a_run_on_this_repository_is_just_its_commit() -> None:
    commit = git(ROOT, "rev-parse", "--short", "HEAD")
    version = version_seen_with(ROOT / "src")
    assert version.split(" + ")[0] == commit
