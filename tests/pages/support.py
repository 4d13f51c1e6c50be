"""Helpers for page tests: log in with the test client, read CSRF tokens."""
from __future__ import annotations

import re

from tests.identity.test_pages_login import csrf_of, login  # noqa: F401  (re-exported)


def client_for(suite, login_name: str):
    client = suite.app.test_client()
    res = login(client, login_name)
    assert res.status_code == 302, res.get_data(as_text=True)
    return client


def post_form(client, page_url: str, action: str, data: dict | None = None, **kwargs):
    """POST ``data`` to ``action`` with the CSRF token of ``page_url``."""
    html = client.get(page_url).get_data(as_text=True)
    return client.post(action, data={**(data or {}), "csrf_token": csrf_of(html)}, **kwargs)


def text_of(res) -> str:
    return res.get_data(as_text=True)


def ids_in(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)
