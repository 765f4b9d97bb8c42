"""Headless Chromium driven through chromedriver (the W3C WebDriver protocol over HTTP, with requests), for the
tests that use a page as a visitor does: type, click, read what the page shows, take screenshots.

Chromium runs with scripts/check_browser.py's flags (headless, a throwaway profile, every host name but
127.0.0.1 unresolvable). Debian: ``apt-get install -y chromium chromium-driver`` (scripts/setup.sh --dev).
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
from recipe_runs import load_module

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
INSTALL_HINT = "install Debian's chromium and chromium-driver (scripts/setup.sh --dev does, as root)"


def browser_missing() -> str | None:
    """Why no browser test can run here (None when Chromium and chromedriver are on PATH)."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    return f"{' and '.join(missing)} not on PATH: {INSTALL_HINT}" if missing else None


class Browser:
    """One headless Chromium session; use as a context manager (it ends the session and chromedriver)."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 1000):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.driver = subprocess.Popen([shutil.which("chromedriver"), f"--port={port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        flags = load_module("scripts/check_browser.py").CHROMIUM_FLAGS
        options = {"binary": shutil.which("chromium"),
                   "args": [*flags, f"--user-data-dir={profile}", f"--window-size={width},{height}"]}
        for _ in range(100):  # chromedriver listens within a second
            try:
                answer = requests.post(f"{self.base}/session", timeout=60,
                                       json={"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            self.driver.kill()
            raise RuntimeError("chromedriver did not start")
        self.session = f"{self.base}/session/{self._value(answer)['sessionId']}"

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            requests.delete(self.session, timeout=30)
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=30)

    @staticmethod
    def _value(answer: requests.Response) -> Any:
        value = answer.json().get("value")
        if answer.status_code != 200:
            raise RuntimeError(f"WebDriver: {answer.status_code} {value}")
        return value

    def _call(self, method: str, route: str, body: dict | None = None) -> Any:
        return self._value(requests.request(method, self.session + route, json=body, timeout=120))

    def open(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        """The element matching a CSS selector (an error when there is none)."""
        return self._call("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def type(self, css: str, text: str) -> None:
        """Clear an input and type ``text`` into it, key by key."""
        element = self.find(css)
        self._call("POST", f"/element/{element}/clear", {})
        self._call("POST", f"/element/{element}/value", {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", f"/element/{self.find(css)}/click", {})

    def run(self, script: str, *args: Any) -> Any:
        """Run JavaScript in the page (the body of a function of ``arguments``) and return its value."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, timeout: float) -> Any:
        """Poll ``script`` until it returns a truthy value; that value (an error after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.run(script)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"no answer from {script!r} in {timeout:.0f} s")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))
        return path
