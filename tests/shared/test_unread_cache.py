"""A web process without the identity service asks identity's API for the page header's
unread count at most once per account every UNREAD_CACHE_SECONDS, not on every render."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import Flask, render_template_string

from shared import pages
from shared.auth import AuthStateCache, Principal, issue_token
from shared.pages import COOKIE, RecentValues, init_pages, require_page

SECRET = "unread-cache-test-secret-" + "x" * 32


@pytest.fixture()
def app(monkeypatch):
    calls = []

    def remote(url, token):
        calls.append((url, token))
        return 3

    monkeypatch.setattr(pages, "_remote_unread", remote)
    app = Flask("unread")
    app.config.update(SECRET_KEY=SECRET, WTF_CSRF_ENABLED=False)
    app.extensions["nws.runtime"] = SimpleNamespace(
        settings=SimpleNamespace(identity_url="http://identity.invalid"))
    app.extensions["nws.auth_state"] = AuthStateCache(dict, 30)
    init_pages(app)

    @app.get("/page")
    @require_page()
    def page():
        return render_template_string("{{ unread_notifications() }}")

    app.calls = calls
    return app


def _cookie(account_id: int) -> str:
    return issue_token(Principal(account_id, f"u{account_id}", "131016", "applicant", "名",
                                 "課"), SECRET, 600)[0]


def test_the_remote_count_is_asked_once_per_account_while_it_is_fresh(app):
    client = app.test_client()
    client.set_cookie(COOKIE, _cookie(1))
    assert [client.get("/page").get_data(as_text=True) for _ in range(5)] == ["3"] * 5
    assert len(app.calls) == 1
    other = app.test_client()
    other.set_cookie(COOKIE, _cookie(2))
    assert other.get("/page").get_data(as_text=True) == "3"
    assert len(app.calls) == 2                   # each account its own count


def test_a_count_is_asked_again_once_it_is_older_than_the_cache_time():
    now = [0.0]
    cache = RecentValues(10.0, clock=lambda: now[0])
    answers = iter([1, 2])
    assert cache.get("a", lambda: next(answers)) == 1
    now[0] = 9.9
    assert cache.get("a", lambda: next(answers)) == 1
    now[0] = 10.0
    assert cache.get("a", lambda: next(answers)) == 2


def test_when_identity_cannot_answer_the_page_shows_no_number_and_does_not_wait_again(
        app, monkeypatch):
    calls = []

    def down(url, token):
        calls.append(token)
        raise OSError("identity is down")

    monkeypatch.setattr(pages, "_remote_unread", down)
    client = app.test_client()
    client.set_cookie(COOKIE, _cookie(7))
    assert client.get("/page").get_data(as_text=True) == "None"
    assert client.get("/page").get_data(as_text=True) == "None"
    assert len(calls) == 1


def test_the_cache_keeps_at_most_its_size():
    cache = RecentValues(60.0, size=10)
    for n in range(25):
        cache.get(n, lambda: n)
    assert len(cache._values) <= 10
    assert cache.get(24, lambda: "recomputed") == 24
