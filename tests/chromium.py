"""Where the browser tests find Chromium: on PATH under its usual names, or Playwright's own download."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Debian's package, Ubuntu's (a snap, also reachable as chromium-browser), Google's build.
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SNAP = Path("/snap/bin/chromium")
# As in the machine notes: headless, and no background traffic to hosts this machine cannot reach.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOW_TO_GET_ONE = ("install Chromium (Debian: apt-get install chromium; Ubuntu: snap install chromium) "
                  "or Playwright's own (.venv/bin/playwright install chromium)")


def playwright_chromium() -> str | None:
    """The Chromium that `playwright install chromium` downloaded, if it did."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        path = p.chromium.executable_path
    return path if path and Path(path).exists() else None


def find_chromium() -> str | None:
    """Path of a Chromium to drive, or None."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    if SNAP.exists():
        return str(SNAP)
    return playwright_chromium()


def require_chromium() -> str:
    """A Chromium's path; skip the calling module without one, except in CI, where that is an error."""
    found = find_chromium()
    if found:
        return found
    reason = f"no Chromium found (looked on PATH for {', '.join(NAMES)}, {SNAP}, Playwright's own): {HOW_TO_GET_ONE}"
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the browser tests, but {reason}")
    pytest.skip(reason, allow_module_level=True)


@contextlib.contextmanager
def launched() -> Iterator[Any]:
    """A headless Chromium driven by Playwright, closed again when the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=ARGS)
        yield browser
        browser.close()
