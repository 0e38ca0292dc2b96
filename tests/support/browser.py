"""Debian's Chromium driven by Playwright, for the browser tests (tests/test_browser.py,
tests/test_capture_browser.py): the ``chromium`` and ``browser`` fixtures."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed once by scripts/install-chromium.sh when missing."""
    import playwright.sync_api  # noqa: F401  (the test extra; missing = a broken install, not a skip)
    if not os.access(CHROMIUM, os.X_OK):
        proc = subprocess.run(["sh", str(ROOT / "scripts" / "install-chromium.sh")], capture_output=True,
                              text=True, timeout=600, check=False)
        if proc.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
            pytest.fail(f"Chromium ({CHROMIUM}) is missing and scripts/install-chromium.sh could not install it: "
                        f"{(proc.stderr or proc.stdout).strip()[-400:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright import sync_api
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
