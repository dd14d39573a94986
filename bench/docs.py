"""Rewrite one `## ` section of a Markdown file (docs/performance.md) with new text, and
say which code a run measured."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent


def add_docs_options(parser: argparse.ArgumentParser) -> None:
    """--no-docs, and --docs-from to rewrite the section from an earlier results file."""
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument(
        "--docs-from",
        metavar="JSON",
        help="only rewrite the docs section from an earlier results file (no measuring)",
    )


def load_results(path: str) -> dict[str, Any]:
    """An earlier run's results, with the file name the docs cite as its raw data."""
    saved: dict[str, Any] = json.loads(Path(path).read_text())
    saved.setdefault("file", Path(path).name)
    return saved


def replace_section(doc: Path, header: str, section: str) -> None:
    """Put `section` (starting with `header`) where the old one was, or at the end; the
    section runs to the next `## ` heading."""
    text = doc.read_text() if doc.exists() else "# Performance\n"
    start = text.find(header + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(header))
        rest = text[end + 1 :] if end >= 0 else ""
        text = text[:start] + section + ("\n" + rest if rest else "")
    doc.parent.mkdir(exist_ok=True)
    doc.write_text(text.rstrip("\n") + "\n")


def code_version() -> str:
    """The commit of the `aether` package the server will run (as this Python finds it,
    PYTHONPATH included): "c746538", "c746538 + changes" when its files differ from the
    commit, and the tree's path first when it is not this repository (an A/B copy)."""
    spec = importlib.util.find_spec("aether")
    if spec is None or spec.origin is None:
        return "?"
    package = Path(spec.origin).resolve().parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(package), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "?"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    version = commit + (" + changes" if changed else "")
    top = git("rev-parse", "--show-toplevel")
    if top and Path(top).resolve() != REPOSITORY:
        version = f"{top}: {version}"
    return version
