"""Rewrite one `## ` section of a Markdown file (docs/performance.md) with new text."""

from __future__ import annotations

from pathlib import Path


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
