"""Rewrite one `## ` section of a Markdown file (docs/performance.md) with new text."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


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
