"""The embedded default (no NWS_SMTP_URL): each mail is an .eml file under the data
folder's mail/, and the notice is in the inbox. A suite of its own: an embedded worker
is one per process at a time."""
from __future__ import annotations

import email
import email.policy

from sqlalchemy import select

from services.identity.models import Mail, Notification
from tests.conftest import Suite, wait_for
from tests.identity.smtp_support import text_of
from tests.review.support import CHIYODA, decide, submit


def test_without_an_smtp_server_each_mail_is_an_eml_file_and_a_notice(tmp_path):
    s = Suite(tmp_path / "var")
    try:
        s.add_user("eml-applicant", "131016", "applicant", email="eml@example.lg.jp")
        app_id = submit(s, CHIYODA)
        assert decide(s, "demo-pref", app_id, "否認", "eml の確認").status_code == 201
        files = wait_for(lambda: sorted((tmp_path / "var" / "mail").glob("*.eml"))
                         if (tmp_path / "var" / "mail").exists() else None,
                         what="an .eml file")
        msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
        assert msg["To"] == "eml@example.lg.jp"
        assert str(msg["Subject"]) == f"【差戻し】申請 2026-{app_id:06d} が否認されました"
        assert "eml の確認" in text_of(msg)
        box = s.client.get("/api/auth/notifications", headers=s.headers("eml-applicant")).get_json()
        assert box["unread"] == 1 and box["items"][0]["subject"] == str(msg["Subject"])
        with s.ctx("identity").transaction() as session:
            row = session.scalar(select(Mail))
            assert row.status == "sent" and row.attempts == 1
            assert session.scalar(select(Notification.id).where(
                Notification.id == row.notification_id)) is not None
    finally:
        s.close()
