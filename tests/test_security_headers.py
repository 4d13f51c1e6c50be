"""Security headers on every response of every service — an API answer, a page, the
error answers (404, 500) and a static file — HSTS only over TLS, cookie attributes from
NWS_COOKIE_SECURE, and templates that need no inline script or style."""
from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from nws.app import create_app
from shared.pages import COOKIE
from tests.conftest import Suite
from tests.identity.test_pages_login import login

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = sorted([*REPO.glob("services/*/templates/**/*.html"),
                    *REPO.glob("shared/templates/*.html")])


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("headers") / "var", start_worker=False)
    yield s
    s.close()


def assert_secure_headers(res, *, tls: bool = False) -> None:
    h = res.headers
    csp = h.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], csp
    for kind in ("script-src", "style-src", "default-src"):
        assert directives.get(kind) == ["'self'"], csp       # no 'unsafe-inline'
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives.get("object-src") == ["'none'"]
    assert h.get("X-Frame-Options") == "DENY"
    assert h.get("X-Content-Type-Options") == "nosniff"
    assert h.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin")
    if tls:
        assert re.fullmatch(r"max-age=\d{7,}.*", h.get("Strict-Transport-Security", ""))
    else:
        assert "Strict-Transport-Security" not in h


def test_an_api_answer(suite):
    res = suite.client.get("/api/review/queue", headers=suite.headers("demo-pref"))
    assert res.status_code == 200 and res.is_json
    assert_secure_headers(res)


def test_an_api_error(suite):
    res = suite.client.get("/api/review/queue")
    assert res.status_code == 401
    assert_secure_headers(res)


def test_a_page(suite):
    res = suite.client.get("/auth/login")
    assert res.status_code == 200 and res.mimetype == "text/html"
    assert_secure_headers(res)
    client = suite.app.test_client()
    login(client, "demo-operator")
    page = client.get("/master/")
    assert page.status_code == 200 and "マスタ" in page.get_data(as_text=True)
    assert_secure_headers(page)


def test_the_404_answers(suite):
    res = suite.client.get("/no/such/page")
    assert res.status_code == 404
    assert_secure_headers(res)
    client = suite.app.test_client()
    login(client, "demo-operator")
    page = client.get("/master/versions/999")      # a page blueprint's HTML error page
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert_secure_headers(page)


def test_the_500_answer(suite):
    app = create_app(suite.runtime)

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("boom")

    res = app.test_client().get("/api/boom")
    assert res.status_code == 500
    assert "boom" not in res.get_data(as_text=True)
    assert_secure_headers(res)


def test_a_static_file(suite):
    res = suite.client.get("/static/nws.css")
    assert res.status_code == 200 and res.mimetype == "text/css"
    assert_secure_headers(res)
    html = suite.client.get("/auth/login").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/static/nws.css">' in html


def test_hsts_only_over_tls(suite):
    assert_secure_headers(suite.client.get("/static/nws.css", base_url="https://localhost"),
                          tls=True)
    assert_secure_headers(suite.client.get("/api/review/queue", base_url="https://localhost"),
                          tls=True)
    # A forwarded scheme counts only when the web process trusts the proxy (below).
    assert_secure_headers(suite.client.get("/static/nws.css",
                                           headers={"X-Forwarded-Proto": "https"}))


@pytest.mark.parametrize("trusted", [True, False])
def test_nws_web_trusts_the_gateways_scheme_only_when_told(suite, monkeypatch, trusted):
    """`nws web` with NWS_TRUSTED_PROXY takes X-Forwarded-Proto from that proxy (so HSTS
    follows the gateway's TLS); without it the header is ignored."""
    from click.testing import CliRunner

    from nws import cli

    served = {}
    monkeypatch.setattr(cli, "_runtime", lambda services=(), embedded=False: suite.runtime)
    import nws.webserver

    monkeypatch.setattr(nws.webserver, "serve", lambda app, **kw: served.update(app=app, kw=kw))
    monkeypatch.setattr(suite.runtime, "close", lambda: None)    # the fixture's to close
    import dataclasses

    # NWS_TRUSTED_PROXY as the settings read it
    monkeypatch.setattr(suite.runtime, "settings", dataclasses.replace(
        suite.runtime.settings, trusted_proxy="127.0.0.1" if trusted else ""))
    result = CliRunner().invoke(cli.main, ["web", "--service", "review"])
    assert result.exit_code == 0, result.output
    # What waitress does with those options (waitress.server.create_server).
    from waitress.adjustments import Adjustments
    from waitress.proxy_headers import proxy_headers_middleware
    from werkzeug.test import Client

    kw = {k: v for k, v in served["kw"].items()
          if k not in ("host", "port", "threads", "grace", "on_listen")}
    adj = Adjustments(**kw)
    app = served["app"]
    if adj.trusted_proxy or adj.clear_untrusted_proxy_headers:
        app = proxy_headers_middleware(app, trusted_proxy=adj.trusted_proxy,
                                       trusted_proxy_count=adj.trusted_proxy_count,
                                       trusted_proxy_headers=adj.trusted_proxy_headers,
                                       clear_untrusted=adj.clear_untrusted_proxy_headers)
    res = Client(app).get("/static/nws.css", headers={"X-Forwarded-Proto": "https"},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert res.status_code == 200
    assert ("Strict-Transport-Security" in res.headers) is trusted


# --- cookies -------------------------------------------------------------------------------

def cookies_of(res) -> dict[str, str]:
    out = {}
    for header in res.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0]
        out[name] = header
    return out


def attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]} | {
        part.strip().lower() for part in header.split(";")[1:] if "samesite" in part.lower()}


@pytest.mark.parametrize("secure", [False, True])
def test_session_and_csrf_cookies(tmp_path, secure):
    env = {"NWS_COOKIE_SECURE": "true"} if secure else {}
    s = Suite(tmp_path / "var", start_worker=False, env=env)
    try:
        client = s.app.test_client()
        page = client.get("/auth/login")              # the CSRF token goes in Flask's session
        res = login(client, "demo-operator")
        assert res.status_code == 302
        cookies = {**cookies_of(page), **cookies_of(res)}
        assert set(cookies) >= {"session", COOKIE}
        for name in ("session", COOKIE):
            attrs = attributes(cookies[name])
            assert "httponly" in attrs and "samesite=lax" in attrs, cookies[name]
            assert ("secure" in attrs) is secure, cookies[name]
        SimpleCookie(cookies[COOKIE])                 # well-formed
    finally:
        s.close()


def test_cookies_are_secure_only_when_told(tmp_path):
    from shared.config import Settings

    assert Settings.from_env({"NWS_DATA_DIR": str(tmp_path)}, embedded=True).cookie_secure is False
    assert Settings.from_env({"NWS_DATA_DIR": str(tmp_path), "NWS_COOKIE_SECURE": "on"},
                             embedded=True).cookie_secure is True
    with pytest.raises(ValueError, match="NWS_COOKIE_SECURE"):
        Settings.from_env({"NWS_DATA_DIR": str(tmp_path), "NWS_COOKIE_SECURE": "maybe"},
                          embedded=True)


# --- templates need nothing inline ------------------------------------------------------------

@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(REPO)))
def test_templates_have_no_inline_script_or_style(template):
    text = template.read_text(encoding="utf-8")
    for match in re.finditer(r"<script\b([^>]*)>", text, re.I):
        assert "src=" in match.group(1), f"inline <script> in {template.name}"
    assert not re.search(r"<style\b", text, re.I), f"<style> in {template.name}"
    assert not re.search(r"\sstyle\s*=", text, re.I), f"style= attribute in {template.name}"
    assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"on…= handler in {template.name}"
    assert "javascript:" not in text.lower()


def test_the_style_sheet_ships_with_the_package():
    css = REPO / "shared" / "static" / "nws.css"
    assert css.exists() and ":root" in css.read_text(encoding="utf-8")
    import tomllib

    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.css" in data["tool"]["setuptools"]["package-data"]["*"]
