"""A student's path through the explorer, in a real JupyterLab driven in Debian's Chromium by Playwright.

Starts JupyterLab on 127.0.0.1 (free port, a token, news and autosave off) over a temporary copy of the
notebooks, opens the initialization notebook, runs all cells from the Run menu, presses an arrow key on
the weight-scale slider and checks that the plot and the readout follow. Screenshots and the measured
key-press-to-plot time go to test-artifacts/. The same server and a Voila page also prove that nothing is
loaded from the internet at run time (every outside request is refused and recorded).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.chromium import launched, require_chromium

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # servers, browsers or extra environments: left out of `make test-quick`

ARTIFACTS = ROOT / "test-artifacts"
require_chromium()  # skips this module without a Chromium, with the reason (an error in CI)

from playwright.sync_api import Page, expect  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(settings_dir: Path) -> None:
    """User settings for the test server: no autosave, no news or update checks."""
    settings = {
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                            "checkForUpdates": False},
    }
    for name, value in settings.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@contextlib.contextmanager
def serve(cmd: list[str], url: str, work: Path, env: dict[str, str]):
    """Start a server process, wait until ``url`` answers, yield, then stop it."""
    log_path = work / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{cmd[2]} did not start:\n" + log_path.read_text()) from None
                    time.sleep(0.5)
            yield
        finally:
            server.terminate()
            server.wait(timeout=20)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a throwaway copy of the notebooks; yields (base URL, token)."""
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", work / "notebooks")
    write_settings(work / "settings")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"), "JUPYTER_RUNTIME_DIR": str(work / "runtime")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work / 'notebooks'}",
           "--LabApp.news_url=None", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    with serve(cmd, f"{base}/api/status?token={token}", work, env):
        yield base, token


@pytest.fixture(scope="module")
def browser():
    with launched() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def page(lab, browser):
    base, token = lab
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/lab/tree/01_initialization.ipynb?token={token}")
    yield page
    context.close()


def menu(page: Page, top: str, item: str) -> None:
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def run_all_cells(page: Page) -> None:
    """Clear the stored outputs (so nothing below can be mistaken for fresh output), then run everything."""
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    kernel_status = page.locator(".jp-StatusBar-TextItem").filter(has_text="Python 3 (ipykernel) |")
    expect(kernel_status).to_have_text("Python 3 (ipykernel) | Idle", timeout=60_000)
    menu(page, "Edit", "Clear Outputs of All Cells")
    expect(page.locator(".jp-OutputArea-output")).to_have_count(0)
    menu(page, "Run", "Run All Cells")
    expect(kernel_status).to_have_text("Python 3 (ipykernel) | Busy", timeout=30_000)
    expect(kernel_status).to_have_text("Python 3 (ipykernel) | Idle", timeout=180_000)


def go_to_heading(page: Page, heading: str) -> None:
    """Jump to a heading through the Table of Contents, as a student would (the notebook scrolls there)."""
    toc = page.locator(".jp-TableOfContents-content")
    if not toc.is_visible():
        page.locator("li[title^='Table of Contents'], [data-id='table-of-contents']").first.click()
    toc.get_by_text(heading, exact=True).first.click()
    page.wait_for_timeout(300)


def in_viewport(locator) -> bool:
    return locator.evaluate("el => { const r = el.getBoundingClientRect();"
                            " return r.bottom > 0 && r.top < window.innerHeight && r.height > 0; }")


EXPLORER_HEADING = "The explorer: try any scale yourself"


def notebook_01_explorer(page: Page):
    """Run notebook 01 and find its explorer, set from code to scale 1 (linear); return it, its readout and plot."""
    run_all_cells(page)
    go_to_heading(page, EXPLORER_HEADING)
    explorer = page.locator(".widget-vbox").filter(has=page.locator(".explorer-plot")).first
    explorer.wait_for(timeout=90_000)
    explorer.scroll_into_view_if_needed()
    readout = explorer.locator(".explorer-readout").first
    expect(readout).to_contain_text("scale 1 ·", timeout=90_000)
    return explorer, readout, explorer.locator("img.explorer-plot, .explorer-plot img").first


def test_explorer_follows_a_key_press(page: Page):
    explorer, readout, image = notebook_01_explorer(page)

    slider = explorer.locator(".widget-slider").first
    slider_readout = slider.locator(".widget-readout")
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "explorer_before.png"), full_page=False)
    before_src = image.get_attribute("src")
    before_value = float(slider_readout.inner_text())
    assert before_value == 1.0

    handle = slider.locator(".noUi-handle").first
    latencies = []
    expected = before_value
    for key in ("ArrowRight", "ArrowRight", "ArrowLeft", "ArrowRight", "ArrowRight", "ArrowLeft"):
        handle.focus()
        latencies.append(time_to_new_pixels(page, image, lambda key=key: page.keyboard.press(key)))
        expected *= 10 ** 0.01 if key == "ArrowRight" else 10 ** -0.01  # one slider step
        shown = float(slider_readout.inner_text())
        assert shown == float(f"{expected:.3g}"), (shown, expected)
        expect(readout).to_contain_text(f"scale {shown:.3g} ·")
        expect(readout).to_contain_text("overflowed to inf/nan at layer")
    assert image.get_attribute("src") != before_src
    page.screenshot(path=str(ARTIFACTS / "explorer_after.png"), full_page=False)

    clicks = []
    for name, scale in (("Xavier 1/sqrt(width)", "0.1"), ("unscaled 1.0", "1"), ("Kaiming sqrt(2/width)", "0.141"),
                        ("0.01", "0.01"), ("Xavier 1/sqrt(width)", "0.1"), ("unscaled 1.0", "1")):
        button = explorer.get_by_role("button", name=name, exact=True)
        clicks.append(time_to_new_pixels(page, image, button.click))
        expect(readout).to_contain_text(f"scale {scale} ·")
    report = (f"JupyterLab, key press to new pixels (ms): first {latencies[0]:.0f}, "
              f"median of the next {len(latencies) - 1}: {statistics.median(latencies[1:]):.0f}\n"
              f"JupyterLab, preset click to new pixels (ms): median of {len(clicks)}: "
              f"{statistics.median(clicks):.0f}\n")
    (ARTIFACTS / "browser_latency.txt").write_text(report)
    print("\n" + report)


def time_to_new_pixels(page: Page, image, action) -> float:
    """Milliseconds from the key press or click that ``action()`` makes to new pixels in the plot, timed in the page.

    The clock starts at the input event itself (keydown or pointerdown), not when the test asks for it:
    Playwright first checks that a button is visible and still, which is no part of what a student waits for.
    """
    page.evaluate("""(img) => {
        window.__inputAt = new Promise(resolve => {
            const seen = () => resolve(performance.now());
            window.addEventListener('keydown', seen, {capture: true, once: true});
            window.addEventListener('pointerdown', seen, {capture: true, once: true});
        });
        window.__plotChanged = new Promise(resolve => new MutationObserver(() => resolve(performance.now()))
            .observe(img, {attributes: true, attributeFilter: ['src']}));
    }""", image.element_handle())
    action()
    return page.evaluate("Promise.all([window.__inputAt, window.__plotChanged]).then(([a, b]) => b - a)")


def test_plot_survives_scrolling_away_and_back(page: Page):
    """JupyterLab 4's windowed notebook detaches off-screen cells; the explorer's image must come back."""
    explorer = page.locator(".widget-vbox").filter(has=page.locator(".explorer-plot")).first
    image = explorer.locator("img.explorer-plot, .explorer-plot img").first
    go_to_heading(page, "Summary")
    assert explorer.count() == 0 or not in_viewport(explorer), "the explorer should be scrolled out of view"
    go_to_heading(page, EXPLORER_HEADING)
    explorer.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    assert in_viewport(image)
    size = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().height]")
    assert size[0] > 0 and size[1] > 100, size
    page.screenshot(path=str(ARTIFACTS / "explorer_after_scroll.png"), full_page=False)


@contextlib.contextmanager
def voila_page(work: Path):
    """Voila serving a copy of notebooks/explorer_app.ipynb on 127.0.0.1; yields the page's URL."""
    shutil.copytree(ROOT / "notebooks", work / "notebooks")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "voila", str(work / "notebooks" / "explorer_app.ipynb"), "--no-browser",
           f"--port={port}", "--Voila.ip=127.0.0.1", f"--token={token}"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(work / "runtime")}
    url = f"http://127.0.0.1:{port}/?token={token}"
    with serve(cmd, url, work, env):
        yield url


LOCAL = {"127.0.0.1", "localhost"}


def watched_page(browser, width: int, height: int):
    """A page whose outside requests are refused, and the lists of those and of failed requests."""
    context = browser.new_context(viewport={"width": width, "height": height})
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


def test_a_notebook_in_jupyterlab_loads_nothing_from_outside(lab, browser):
    """No network at run time: with every outside request refused, notebook 02 opens without a failed request."""
    base, token = lab
    page, outside, failed = watched_page(browser, 1200, 1000)
    page.goto(f"{base}/lab/tree/02_forward.ipynb?token={token}")
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    link = page.locator(".jp-RenderedMarkdown a", has_text="Open in Colab").first
    expect(link).to_be_visible(timeout=60_000)
    status = page.locator(".jp-StatusBar-TextItem").filter(has_text="Python 3 (ipykernel) |")
    expect(status).to_have_text("Python 3 (ipykernel) | Idle", timeout=60_000)
    page.wait_for_load_state("networkidle")
    assert page.locator(".jp-Notebook img[src^='http']").count() == 0  # no badge image from outside
    assert outside == [] and failed == [], (outside, failed)
    page.context.close()


def test_explorer_app_under_voila(tmp_path, browser):
    """The lab page (notebooks/explorer_app.ipynb) served by Voila: nothing from outside, no code, live slider,
    pins, verdict, training."""
    with voila_page(tmp_path) as url:
        page, outside, failed = watched_page(browser, 1200, 1800)
        context = page.context
        page.goto(url)
        readout = page.locator(".explorer-readout").first
        expect(readout).to_contain_text("scale 0.1 ·", timeout=60_000)
        page.wait_for_load_state("networkidle")
        assert outside == [] and failed == [], (outside, failed)  # no CDN stylesheet, no outside font
        assert page.locator("link[href*='fontawesome']").count() == 0, "the course's Voila template is not in use"
        expect(page.get_by_text("reproducible(seed=0)")).to_have_count(0)  # Voila shows outputs, not code
        image = page.locator("img.explorer-plot, .explorer-plot img").first
        # Drawn at the size it is shown: no stretching, no blur.
        assert image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]") == [900, 900]
        before = image.get_attribute("src")
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowLeft")
        expect(readout).to_contain_text("scale 0.0977 ·")
        expect(image).not_to_have_attribute("src", before or "")

        # Xavier with ReLU dies out; the verdict says where. Pin it, then compare with Kaiming.
        page.get_by_role("button", name="ReLU", exact=True).click()
        clicks = [time_to_new_pixels(page, image, page.get_by_role("button", name="Xavier 1/sqrt(width)").click)]
        expect(readout).to_contain_text("scale 0.1 ·")  # the preset has landed before the next key press
        expect(readout).to_contain_text("Verdict: vanishing from layer")
        handle = page.locator(".widget-slider .noUi-handle").first
        handle.focus()  # the seminar's move: a step either side of Xavier, then back onto it
        page.keyboard.press("ArrowRight")
        expect(readout).to_contain_text("scale 0.102 ·")
        page.keyboard.press("ArrowLeft")
        expect(readout).to_contain_text("scale 0.1 ·")
        page.get_by_role("button", name="pin", exact=True).click()
        expect(readout).to_contain_text("pinned: orange dashed = ReLU, scale 0.1, 50x100")
        clicks.append(time_to_new_pixels(page, image, page.get_by_role("button", name="Kaiming sqrt(2/width)").click))
        expect(readout).to_contain_text("scale 0.141 ·")
        expect(readout).to_contain_text("Verdict: healthy")
        for name in ("unscaled 1.0", "0.01", "Kaiming sqrt(2/width)"):
            clicks.append(time_to_new_pixels(page, image, page.get_by_role("button", name=name).click))
        expect(page.locator(".widget-html").filter(has_text="A 50-layer stack of width 100 with ReLU")).to_have_count(1)

        # A short training of the live setting and of the pin: two loss curves.
        training = page.locator("img.explorer-training-plot, .explorer-training-plot img").first
        untrained = training.get_attribute("src")
        steps = page.locator(".widget-inline-hbox").filter(has_text="steps").locator("input").first
        steps.fill("30")
        steps.press("Enter")
        page.get_by_role("button", name="train", exact=True).click()
        expect(readout).to_contain_text("trained 30 steps (12 layers + read-out)", timeout=60_000)
        expect(training).not_to_have_attribute("src", untrained or "")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila_trained.png"), full_page=True)
        # The words follow the controls.
        depth = page.locator(".widget-slider").filter(has_text="depth").locator(".noUi-handle").first
        depth.focus()
        page.keyboard.press("ArrowLeft")
        expect(page.locator(".widget-html").filter(has_text="A 49-layer stack")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "voila_explorer.png"), full_page=True)
        # A narrow pane (a laptop with JupyterLab's file browser open): rows wrap, nothing is squeezed.
        page.set_viewport_size({"width": 720, "height": 1800})
        slider_width = page.locator(".widget-slider .noUi-target").first.evaluate("e => e.clientWidth")
        assert slider_width > 150, slider_width
        for name in ("unscaled 1.0", "Kaiming sqrt(2/width)", "pin", "clear pins", "train"):
            button = page.get_by_role("button", name=name, exact=True)
            assert button.evaluate("b => b.scrollWidth <= b.clientWidth"), f"{name!r} is cut off"
        assert image.evaluate("img => img.getBoundingClientRect().right") <= 720
        page.screenshot(path=str(ARTIFACTS / "voila_narrow.png"), full_page=True)
        report = f"Voila, preset click to new pixels (ms): median of {len(clicks)}: {statistics.median(clicks):.0f}\n"
        with open(ARTIFACTS / "browser_latency.txt", "a") as out:
            out.write(report)
        print("\n" + report)
        context.close()
