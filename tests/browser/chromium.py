"""Headless Chromium driven by Selenium, from the system's binaries.

No browser is downloaded: the test uses Debian's ``chromium`` and ``chromium-driver``
packages (``scripts/setup.sh`` installs them as root with apt-get, like the broker programs).
When they are missing, :func:`start_chromium` raises :class:`BrowserMissing` with the line
that installs them; the tests turn it into a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

INSTALL = (
    "install them with: sudo apt-get install -y chromium chromium-driver "
    "(scripts/setup.sh does it when run as root)"
)


class BrowserMissing(RuntimeError):
    """Chromium, its driver or Selenium is not installed."""


def _binary(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        given = os.environ[env]
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise BrowserMissing(f"{env}={given} is not an executable file; {INSTALL}")
        return given
    for name in names:
        if found := shutil.which(name):
            return found
    return None


def start_chromium(downloads: Path | None = None):
    """A headless Chromium (1400x1000) under Selenium; the caller quits it."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise BrowserMissing(
            f"Selenium is not installed ({exc}); run scripts/setup.sh (it installs the pins)"
        ) from exc
    browser = _binary("COURSE_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver = _binary("COURSE_CHROMEDRIVER", "chromedriver")
    if browser is None or driver is None:
        missing = [n for n, p in (("chromium", browser), ("chromedriver", driver)) if not p]
        raise BrowserMissing(f"{' and '.join(missing)} not found on PATH; {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI machines and containers run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--no-first-run",
        "--disable-extensions",
        "--allow-file-access-from-files",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))
