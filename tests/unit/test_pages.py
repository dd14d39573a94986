"""Pages served as one response: scripts and styles inlined, allowed only by their hashes."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from aether.web import pages
from aether.web.pages import STATIC, csp, inline_page


def sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def inline_blocks(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)


@pytest.mark.parametrize("name", ["index.html", "admin.html"])
def test_every_linked_script_and_style_is_inlined_and_named_by_its_hash(name: str) -> None:
    source = (STATIC / name).read_text()
    linked = re.findall(r'(?:src|href)="/([\w.-]+\.(?:js|css))"', source)
    assert linked  # the page does link its own files
    page = inline_page(name)
    assert "<script src=" not in page.html and 'rel="stylesheet"' not in page.html
    scripts, styles = inline_blocks(page.html, "script"), inline_blocks(page.html, "style")
    assert len(scripts) + len(styles) == len(linked)
    for file in linked:  # in place, whole, in the order the page gave
        assert (STATIC / file).read_text() in scripts + styles
    script_src = re.search(r"script-src ([^;]+);", page.csp)
    style_src = re.search(r"style-src ([^;]+);", page.csp)
    assert script_src and style_src
    assert script_src[1].split() == ["'self'", *(f"'sha256-{sha256(s)}'" for s in scripts)]
    assert style_src[1].split() == ["'self'", *(f"'sha256-{sha256(s)}'" for s in styles)]
    assert "unsafe-inline" not in page.csp and "unsafe-eval" not in page.csp
    assert "frame-ancestors 'none'" in page.csp


def test_the_player_scripts_keep_their_order() -> None:
    html = inline_page("index.html").html
    charts, overlay, player = (
        (STATIC / f).read_text() for f in ("charts.js", "overlay.js", "player.js")
    )
    assert html.index(charts) < html.index(overlay) < html.index(player)


def test_a_file_that_would_close_its_element_early_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "page.html").write_text('<body><script src="/bad.js"></script></body>')
    (tmp_path / "bad.js").write_text('document.write("</SCRIPT>");')
    monkeypatch.setattr(pages, "STATIC", tmp_path)
    with pytest.raises(ValueError, match=r"bad\.js contains '</script'"):
        inline_page("page.html")


def test_the_policy_without_inlined_code_allows_only_the_origin() -> None:
    policy = csp()
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "sha256" not in policy
