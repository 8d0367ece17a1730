"""Headless Chromium for the UI tests, driven from Python through its command line only.

``find_chromium()`` is the browser's path or None; ``dump_dom(url, ...)`` the DOM after the
page's scripts ran (``--virtual-time-budget``: timers such as the live page's 2 s polling run
fast, and real network fetches are waited for); ``screenshot(url, png)`` writes a PNG.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("no chromium on PATH")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=True)


def dump_dom(url: str, budget_ms: int = 3000, timeout: float = 60) -> str:
    return _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", url], timeout).stdout


def screenshot(url: str, png, size: str = "1280,1600", budget_ms: int = 3000, timeout: float = 60) -> None:
    _run([f"--virtual-time-budget={budget_ms}", f"--screenshot={png}", f"--window-size={size}", url], timeout)
