"""Debian's Chromium for the browser tests: where it is, how it is launched, where shots go."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
EXPECT_TIMEOUT_MS = 5_000  # Playwright's own default for `expect`

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
)


@contextmanager
def chromium_page(
    viewport: ViewportSize = DESKTOP, timeout_ms: float = 15_000, **options: Any
) -> Iterator[Page]:
    """A page in a fresh Chromium profile (Vietnamese locale), closed afterwards; `options` go
    to Playwright's `launch_persistent_context` (is_mobile, java_script_enabled...). Actions and
    `expect` assertions wait up to `timeout_ms` for the page."""
    expect.set_options(timeout=timeout_ms)
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport=viewport,
            locale="vi-VN",
            **options,
        )
        try:
            context.set_default_timeout(timeout_ms)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
            expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot in test-artifacts/ (git-ignored), for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
