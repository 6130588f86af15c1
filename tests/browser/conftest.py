"""Playwright driving Debian's Chromium against a live server of the console.

Chromium is the system package (`/usr/bin/chromium`, installed by `make test` as root); Playwright
never downloads a browser.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.integration.conftest import allow_flush_after_transactional_tests  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} not found; run `make test` or apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; Django's ORM then refuses to run
    # unless told that the loop is not serving async code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
