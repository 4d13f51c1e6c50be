"""An アカウント発行申請 carries the requester's address to the issued account: the
account's first notice is mailed there (an .eml file in the embedded suite), and a
malformed address is refused in Japanese before anything is filed."""
from __future__ import annotations

import email
import email.policy

import pytest

from tests.conftest import Suite, wait_for
from tests.identity.smtp_support import text_of
from tests.intake.test_account_requests import (HOKKAIDO, file_request, post_request,
                                                request_body, request_id, wait_receipt)
from tests.review import support as review


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("account-notice") / "var")
    s.add_user(HOKKAIDO, "010006", "primary_reviewer")
    yield s
    s.close()


def test_the_issued_account_is_mailed_at_the_address_of_its_request(suite):
    filed = file_request(suite)
    wait_for(lambda: [i for i in review.queue(suite, HOKKAIDO) if i["kind"] == "account"],
             what="the request in 北海道's queue")
    app_id = request_id(suite, filed["number"])
    assert review.decide(suite, HOKKAIDO, app_id).status_code == 201
    wait_receipt(suite, filed, lambda r: r["status"] == "secondary_review", "secondary")
    assert review.decide(suite, "demo-mic", app_id, "承認", "発行します").status_code == 201
    folder = suite.data_dir / "mail"
    files = wait_for(lambda: sorted(folder.glob("*.eml")) if folder.exists() else None,
                     what="the account mail")
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "joho@city.hakodate.example.jp"
    assert str(msg["Subject"]) == "【アカウント発行】情報共有サイトのアカウントが発行されました"
    assert f"（申請番号 {filed['number']}）" in text_of(msg)


def test_a_malformed_address_in_the_request_is_refused_in_japanese(suite):
    body = request_body(login="hakodate-bad")
    body["requester"]["email"] = "joho@@hakodate"
    res = post_request(suite, body)
    assert res.status_code == 422
    assert res.get_json()["error"]["details"]["requester"]["email"] == [
        "メールアドレスの形式が正しくありません。"]
