"""Password login for pages: a cookie carrying the same signed token as the API."""
from __future__ import annotations

import re

from shared.pages import COOKIE


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, login_name: str, password: str = "demo-pass-2026", next_url: str = ""):
    page = client.get("/auth/login" + (f"?next={next_url}" if next_url else ""))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'lang="ja"' in html and "<label for=\"login\">ログイン名</label>" in html
    return client.post("/auth/login", data={"login": login_name, "password": password,
                                       "next": next_url, "csrf_token": csrf_of(html)})


def test_login_sets_an_httponly_token_cookie_and_follows_next(idle_suite):
    client = idle_suite.app.test_client()
    res = login(client, "demo-pref", next_url="/auth/account")
    assert res.status_code == 302 and res.headers["Location"] == "/auth/account"
    cookie = res.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/auth/account").get_data(as_text=True)
    assert "demo-pref" in page and "一次審査者" in page


def test_wrong_password_shows_a_japanese_error(idle_suite):
    res = login(idle_suite.app.test_client(), "demo-pref", "nope")
    assert res.status_code == 401
    assert "ログイン名またはパスワードが正しくありません。" in res.get_data(as_text=True)


def test_a_page_without_login_redirects_to_the_login_page(idle_suite):
    res = idle_suite.app.test_client().get("/auth/account")
    assert res.status_code == 302 and res.headers["Location"].startswith("/auth/login?next=")


def test_login_without_csrf_token_is_refused(idle_suite):
    client = idle_suite.app.test_client()
    client.get("/auth/login")
    res = client.post("/auth/login", data={"login": "demo-pref", "password": "demo-pass-2026"})
    assert res.status_code == 400
    assert COOKIE not in res.headers.get("Set-Cookie", "")


def test_next_never_leaves_the_site(idle_suite):
    res = login(idle_suite.app.test_client(), "demo-pref", next_url="https://evil.example/")
    assert res.headers["Location"] == "/"


def test_logging_in_from_anywhere_lands_on_the_roles_home(idle_suite):
    homes = {"demo-applicant": "/applicant/", "demo-forwarder": "/review/",
             "demo-pref": "/review/", "demo-mic": "/review/", "demo-operator": "/master/"}
    for who, home in homes.items():
        for next_url in ("", "/", "/auth/login", "/auth/logout"):
            client = idle_suite.app.test_client()
            res = login(client, who, next_url=next_url)
            assert res.status_code == 302 and res.headers["Location"] == "/", (who, next_url)
            assert client.get("/").headers["Location"] == home, who


def test_logout_clears_the_cookie(idle_suite):
    client = idle_suite.app.test_client()
    login(client, "demo-pref")
    html = client.get("/auth/account").get_data(as_text=True)
    res = client.post("/auth/logout", data={"csrf_token": csrf_of(html)})
    assert res.status_code == 302
    assert client.get("/auth/account").status_code == 302


def test_an_expired_cookie_counts_as_logged_out(idle_suite):
    from shared.auth import Principal, issue_token

    client = idle_suite.app.test_client()
    token, _ = issue_token(Principal(1, "demo-pref", "130001", "primary_reviewer", "x", ""),
                           idle_suite.runtime.settings.secret_key, -1)
    client.set_cookie(COOKIE, token)
    assert client.get("/auth/account").status_code == 302


def test_the_cookie_does_not_authenticate_api_calls(idle_suite):
    client = idle_suite.app.test_client()
    login(client, "demo-applicant")
    assert client.get("/api/intake/applications").status_code == 401
