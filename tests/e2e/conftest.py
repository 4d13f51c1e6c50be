"""Headless Chromium against the embedded suite served over real HTTP.

The browser is Debian's ``chromium`` driven by Playwright's Python package (never a
browser downloaded by ``playwright install``). Without either, the tests skip with the
reason, except under CI=true where that is a failure.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import CI, Suite

CHROMIUM = os.environ.get("NWS_CHROMIUM", "/usr/bin/chromium")
# --lang=ja: the browser's own texts (the file field's 「ファイルを選択」) are Japanese, as
# on a Japanese clerk's machine.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--lang=ja",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


def _missing(reason: str):
    if CI:
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveSuite:
    """An embedded suite (worker thread included) served by waitress on 127.0.0.1."""

    def __init__(self, data_dir: Path):
        from waitress import create_server

        self.suite = Suite(data_dir)
        self.port = _free_port()
        self.server = create_server(self.suite.app, host="127.0.0.1", port=self.port,
                                    threads=4, clear_untrusted_proxy_headers=True)
        self.thread = threading.Thread(target=self.server.run, name="waitress", daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=5)
        self.suite.close()


def logged_in(browser, live, login: str, viewport: dict | None = None, *,
              javascript: bool = True):
    """A new page of ``browser``, logged in as ``login`` through the login page."""
    from tests import factories

    context = browser.new_context(viewport=viewport or VIEWPORT, locale="ja-JP",
                                  accept_downloads=True, java_script_enabled=javascript)
    page = context.new_page()
    page.goto(f"{live.url}/auth/login?next=/")
    page.fill("#login", login)
    page.fill("#password", factories.DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state()
    return page


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    s = LiveSuite(tmp_path_factory.mktemp("e2e") / "var")
    yield s
    s.close()


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole test session (each test opens its own contexts)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright's Python package is not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        _missing("Debian's chromium is not installed (apt-get install -y chromium fonts-noto-cjk)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                              else shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
