"""make slides: offline reveal.js decks. Nothing in them may load from the network."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # servers, browsers or extra environments: left out of `make test-quick`

spec = importlib.util.spec_from_file_location("build_slides", ROOT / "tools" / "build_slides.py")
build_slides = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_slides)

# Anything a browser would fetch: src/href attributes, CSS url() and @import, JS module imports.
REMOTE = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']|url\(\s*["']?|@import\s+["']|\bfrom\s+["']|import\(\s*["'])"""
                    r"""(?:https?:)?//""", re.IGNORECASE)
ANCHOR = re.compile(r"<a\s[^>]*href=", re.IGNORECASE)


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> list[Path]:
    if shutil.which("npm") is None and not build_slides.MODULES.exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI must build the slides, but npm is missing")
        pytest.skip("npm is needed once to fetch reveal.js and MathJax")
    return build_slides.build(tmp_path_factory.mktemp("slides"))


def remote_references(text: str) -> list[str]:
    found = []
    for match in REMOTE.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if ANCHOR.search(text[line_start:match.end()]):
            continue  # a link the reader may click, not something the page loads
        found.append(text[max(0, match.start() - 40):match.end() + 40])
    return found


def test_core_notebooks_have_slide_metadata():
    for name in build_slides.DECKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        types = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
        assert None not in types, name
        assert types[0] == "slide" and types.count("slide") >= 4, name


def test_one_deck_per_core_notebook(decks):
    assert [d.name for d in decks] == [f"{n}.slides.html" for n in build_slides.DECKS]


def test_decks_and_their_styles_load_nothing_remote(decks):
    vendor = decks[0].parent / "vendor"
    styles = [p for p in vendor.rglob("*.css")]
    assert styles
    for path in [*decks, *styles]:
        assert not remote_references(path.read_text(encoding="utf-8", errors="replace")), path.name


def test_local_references_exist(decks):
    text = decks[0].read_text(encoding="utf-8")
    for ref in ("vendor/reveal.js/dist/reveal.css", "vendor/reveal.js/dist/theme/white.css",
                "vendor/reveal.js/dist/reveal.js", "vendor/require.js", "vendor/jquery.min.js",
                "vendor/mathjax/MathJax.js"):
        assert ref in text
        assert (decks[0].parent / ref).exists(), ref


def test_a_deck_runs_offline_in_chromium(decks):
    from playwright.sync_api import sync_playwright

    from tests.chromium import ARGS as CHROMIUM_ARGS
    from tests.chromium import require_chromium

    chromium = require_chromium()  # any usual install; skipped with the reason without one, an error in CI

    deck = next(d for d in decks if d.name.startswith("03_backward"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(deck.as_uri())
        page.locator(".reveal.ready").wait_for(timeout=30_000)
        page.locator(".MathJax_CHTML").first.wait_for(timeout=30_000)  # the chain rule, typeset locally
        slides = page.locator(".reveal .slides > section").count()
        browser.close()
    assert slides >= 5
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
