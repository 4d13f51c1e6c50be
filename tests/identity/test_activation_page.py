"""The activation page: an issued account's password is set through a form that takes
the one-time token in its posted body (typed in, or carried by the receipt's button),
never in the URL."""
from __future__ import annotations

import re

from tests.identity.test_activation import approved, issue, login
from tests.pages.support import csrf_of, post_form, text_of

PAGE = "/auth/activate"
GOOD = "hakodate-passphrase-2026"


def test_the_page_takes_the_token_in_a_posted_form_not_in_the_url(idle_suite):
    client = idle_suite.app.test_client()
    token = issue(idle_suite, approved())
    html = text_of(client.get(PAGE))
    assert re.search(r'<form method="post"[^>]*action="/auth/activate"', html)
    assert 'type="password" id="token" name="token"' in html
    assert 'autocomplete="new-password"' in html and "12 文字以上" in html
    # A token in the URL is not read into the form.
    html = text_of(client.get(f"{PAGE}?token={token}"))
    assert token not in html


def test_the_receipt_button_posts_the_token_and_the_password_form_follows(idle_suite):
    client = idle_suite.app.test_client()
    token = issue(idle_suite, approved())
    res = post_form(client, PAGE, PAGE, {"token": token})
    assert res.status_code == 200
    html = text_of(res)
    assert f'value="{token}"' in html and 'id="password_confirm"' in html
    res = client.post(PAGE, data={"csrf_token": csrf_of(html), "token": token,
                                  "password": GOOD, "password_confirm": GOOD})
    assert res.status_code == 200, text_of(res)
    assert '<strong id="activated-login">hakodate-joho</strong>' in text_of(res)
    assert login(idle_suite, "hakodate-joho", GOOD).status_code == 200


def test_mistakes_are_shown_beside_their_field_and_the_link_stays_usable(idle_suite):
    client = idle_suite.app.test_client()
    token = issue(idle_suite, approved())
    res = post_form(client, PAGE, PAGE, {"token": token, "password": GOOD,
                                         "password_confirm": GOOD + "x"})
    assert res.status_code == 422 and "確認用のパスワードが一致しません" in text_of(res)
    assert re.search(r'id="password_confirm"[^>]*aria-invalid="true"', text_of(res))
    res = post_form(client, PAGE, PAGE, {"token": token, "password": "password1234",
                                         "password_confirm": "password1234"})
    assert res.status_code == 422 and "よく使われている" in text_of(res)
    assert re.search(r'id="password"[^>]*aria-invalid="true"', text_of(res))
    res = post_form(client, PAGE, PAGE, {"token": "not-a-token", "password": GOOD,
                                         "password_confirm": GOOD})
    assert res.status_code == 404 and "有効化リンクが正しくありません" in text_of(res)
    # None of these used the link.
    res = post_form(client, PAGE, PAGE, {"token": token, "password": GOOD,
                                         "password_confirm": GOOD})
    assert res.status_code == 200
    res = post_form(client, PAGE, PAGE, {"token": token, "password": GOOD,
                                         "password_confirm": GOOD})
    assert res.status_code == 409 and "既に使用されています" in text_of(res)


def test_the_page_needs_its_csrf_token(idle_suite):
    token = issue(idle_suite, approved())
    res = idle_suite.app.test_client().post(PAGE, data={
        "token": token, "password": GOOD, "password_confirm": GOOD})
    assert res.status_code == 400
    assert login(idle_suite, "hakodate-joho", GOOD).status_code != 200
