"""Nothing from the internet at run time: the Voila page and a notebook in JupyterLab, with every outside request
blocked, load without a single failed or outside request (no CDN stylesheet, no badge image)."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.chromium import require_chromium

require_chromium()  # skips this module without a Chromium, with the reason (an error in CI)

from playwright.sync_api import expect  # noqa: E402

from tests.test_browser import browser, lab, voila_page  # noqa: E402,F401

LOCAL = {"127.0.0.1", "localhost"}
pytestmark = pytest.mark.slow  # servers, browsers or extra environments: left out of `make test-quick`


def watched_page(browser):  # noqa: F811
    """A page whose outside requests are refused, and the lists of those and of failed requests."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    outside, failed = [], []

    def route(request_route):
        url = request_route.request.url
        if urllib.parse.urlsplit(url).hostname in LOCAL or url.startswith(("data:", "blob:")):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    return page, outside, failed


def test_the_voila_page_loads_nothing_from_outside(tmp_path, browser):  # noqa: F811
    with voila_page(tmp_path) as url:
        page, outside, failed = watched_page(browser)
        page.goto(url)
        expect(page.locator(".explorer-readout").first).to_contain_text("scale 0.1 ·", timeout=60_000)
        page.wait_for_load_state("networkidle")
        assert outside == [] and failed == [], (outside, failed)
        assert page.locator("link[href*='fontawesome']").count() == 0, "the course's Voila template is not in use"
        page.context.close()


def test_a_notebook_in_jupyterlab_loads_nothing_from_outside(lab, browser):  # noqa: F811
    base, token = lab
    page, outside, failed = watched_page(browser)
    page.goto(f"{base}/lab/tree/02_forward.ipynb?token={token}")
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    link = page.locator(".jp-RenderedMarkdown a", has_text="Open in Colab").first
    expect(link).to_be_visible(timeout=60_000)
    status = page.locator(".jp-StatusBar-TextItem").filter(has_text="Python 3 (ipykernel) |")
    expect(status).to_have_text("Python 3 (ipykernel) | Idle", timeout=60_000)
    page.wait_for_load_state("networkidle")
    assert page.locator(".jp-Notebook img[src^='http']").count() == 0
    assert outside == [] and failed == [], (outside, failed)
    page.context.close()
