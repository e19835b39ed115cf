"""Headless Chromium for the browser test: Debian's ``chromium`` and ``chromium-driver``, never a download.

Installed with apt-get when absent and we are root (as ``include.deployment.ensure_servers`` does for
PostgreSQL and Redis); otherwise the browser test is skipped with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

APT_PACKAGES = ("chromium", "chromium-driver")
SCREENSHOTS_COPY = Path("/tmp/ui-screenshots")
# As root, Chromium needs --no-sandbox; the rest keeps it from calling home or updating itself.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1440,1000",
)


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium"), shutil.which("chromedriver")


def ensure_chromium(echo=print) -> tuple[str, str]:
    """Paths of chromium and chromedriver, installing Debian's packages when missing; skips when it cannot."""
    browser, driver = _binaries()
    if browser and driver:
        return browser, driver
    from include import apt

    try:
        apt.install(APT_PACKAGES, echo)
    except (apt.AptUnavailable, apt.AptFailed) as error:
        pytest.skip(f"{error} They run the browser test.")
    browser, driver = _binaries()
    if not (browser and driver):
        pytest.skip(f"{' '.join(APT_PACKAGES)} installed, but chromium or chromedriver is not on PATH.")
    return browser, driver


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A headless Chromium (Selenium WebDriver) with a fresh profile; quit afterwards."""
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (requirements.txt)"
    )
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = ensure_chromium()
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not download a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log")),
        options=options,
    )
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots(tmp_path: Path):
    """``shot(driver, name)`` saves ``<tmp_path>/screenshots/<name>.png`` and a copy in /tmp/ui-screenshots."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    SCREENSHOTS_COPY.mkdir(parents=True, exist_ok=True)

    def shot(driver, name: str, full_page: bool = False) -> Path:
        path = folder / f"{name}.png"
        if full_page:
            import base64

            metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = metrics["cssContentSize"]
            data = driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
                },
            )["data"]
            path.write_bytes(base64.b64decode(data))
        else:
            driver.save_screenshot(str(path))
        shutil.copy2(path, SCREENSHOTS_COPY / path.name)
        return path

    return shot
