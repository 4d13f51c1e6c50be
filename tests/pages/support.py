"""Helpers for page tests: log in with the test client, read CSRF tokens."""
from __future__ import annotations

import re
from html.parser import HTMLParser

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


class _FilterForm(HTMLParser):
    """The fields of a page's ``<form class="filters">`` as a browser submits them
    (text, search and hidden inputs, checked boxes, each select's chosen option)."""

    def __init__(self):
        super().__init__()
        self.inside = False
        self.found = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "filters" in (a.get("class") or "").split() and not self.found:
            self.inside = self.found = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "reset", "image"):
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self.select, self.options = a.get("name"), []
        elif tag == "option" and self.select is not None:
            self.options.append((a.get("value") or "", "selected" in a))

    def handle_endtag(self, tag):
        if tag == "select" and self.select is not None:
            chosen = [v for v, selected in self.options if selected] or [
                v for v, _ in self.options[:1]]
            if self.select and chosen:
                self.fields.append((self.select, chosen[0]))
            self.select = None
        elif tag == "form" and self.inside:
            self.inside = False


def filter_form(html: str) -> dict[str, str]:
    """What the page's filter form sends as it stands (no JavaScript involved)."""
    reader = _FilterForm()
    reader.feed(html)
    assert reader.found, "the page has no <form class=\"filters\">"
    return dict(reader.fields)


def webform_fields(html: str):
    """What a browser posts from a 様式 web form page (text, hidden, checked, selected),
    as a MultiDict (the row markers repeat)."""
    from tests.shared.test_webform import posted

    form, _ = posted(html[html.index('id="webform"'):])
    return form


def post_webform(client, page: str, fields, **changes):
    """POST a web form page's ``fields`` (``changes`` replace single values) with the
    page's CSRF token."""
    form = fields.copy()
    for key, value in changes.items():
        form[key] = value
    form["csrf_token"] = csrf_of(text_of(client.get(page)))
    return client.post(page, data=form)
