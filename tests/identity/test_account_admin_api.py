"""The operators' account API beside the pages: list, create, one-time password link
(the same functions as the pages and ``nws users``)."""
from __future__ import annotations

from click.testing import CliRunner

from tests.identity.test_account_pages import _directory


def test_list_create_and_password_link_through_the_api(idle_suite):
    _directory(idle_suite, {"131016": "東京都千代田区", "112011": "埼玉県川越市", "MIC": "総務省"})
    op = idle_suite.headers("demo-operator")
    res = idle_suite.client.get("/api/auth/accounts?q=千代田&role=forwarder", headers=op)
    assert res.status_code == 200
    body = res.get_json()
    assert [i["login"] for i in body["items"]] == ["demo-forwarder"]
    assert body["items"][0]["org_name"] == "東京都千代田区" and body["total"] == 1
    res = idle_suite.client.get("/api/auth/accounts?sort=nope", headers=op)
    assert res.status_code == 422

    new = {"login": "kawagoe-fwd", "password": "saitama-river-passphrase-26", "org": "112011",
           "role": "forwarder", "name": "経由 三郎"}
    res = idle_suite.client.post("/api/auth/accounts", json=new, headers=op)
    assert res.status_code == 201 and res.get_json()["role"] == "forwarder"
    assert idle_suite.client.post("/api/auth/accounts", json=new, headers=op).status_code == 409
    res = idle_suite.client.post("/api/auth/accounts", json={**new, "login": "x-unknown",
                                                             "org": "999999"}, headers=op)
    assert res.status_code == 422 and res.get_json()["error"]["details"] == {"field": "org"}

    res = idle_suite.client.post("/api/auth/accounts/kawagoe-fwd/password-link", headers=op)
    assert res.status_code == 201 and res.get_json()["mailed"] is False
    token = res.get_json()["token"]
    res = idle_suite.client.post("/api/auth/activate", json={
        "token": token, "password": "another-river-passphrase"})
    assert res.status_code == 200

    applicant = idle_suite.headers("demo-applicant")
    assert idle_suite.client.get("/api/auth/accounts", headers=applicant).status_code == 403
    assert idle_suite.client.post("/api/auth/accounts", json=new,
                                  headers=applicant).status_code == 403


def test_nws_users_password_link_prints_the_token_once(idle_suite, monkeypatch):
    import os

    from nws import cli

    for key in [k for k in os.environ if k.startswith("NWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("NWS_DATA_DIR", str(idle_suite.data_dir))
    result = CliRunner().invoke(cli.main, ["users", "password-link", "demo-jlis"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    res = idle_suite.client.post("/api/auth/activate", json={
        "token": token, "password": "jlis-new-passphrase-2026"})
    assert res.status_code == 200, res.get_json()
