"""Attachments reach the reviewers (issue 13 point 1): GET …/attachments lists them with
the form cells that name them, GET …/attachments/AID gives the PDF (checksum checked on
every download), DELETE removes one while the application is editable. The owner's
accounts, the case's forwarder and reviewers of the current round and operators may
read; anyone else gets 404."""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import update

from services.intake.models import Attachment
from tests import factories, form_data
from tests.conftest import Suite, wait_for
from tests.form_data import form_03_08, put_selection_for, query_delegation
from tests.test_lifecycle_embedded import decide

RULE = "児童手当事務の委託に関する規約"
NAME = f"{RULE}.pdf"


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("attachments") / "var")
    suite.add_user("other-pref", "270008", "primary_reviewer")
    suite.add_user("meguro", "132012", "applicant")
    yield suite
    suite.close()


def url(app_id: int, aid: str | None = None) -> str:
    base = f"/api/intake/applications/{app_id}/attachments"
    return base if aid is None else f"{base}/{aid}"


def draft_with_evidence(s) -> int:
    """A draft whose 様03-08 names the attached 規約 A001 in its (1) row."""
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    forms = factories.all_forms()
    forms["03-08"] = form_03_08(query_delegations=[query_delegation()])
    put_selection_for(s.client, h, app_id, forms["03-08"])
    res = factories.attach_pdf(s.client, h, app_id, NAME, RULE)
    assert res.status_code == 201 and res.get_json()["id"] == "A001"
    forms["03-06"]["attached_forms"] = forms["03-06"]["attached_forms"] + ["other"]
    factories.put_forms(s.client, h, app_id, forms)
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(app_id)["forms"].values()),
             what="forms validated")
    return app_id


@pytest.fixture(scope="module")
def under_review(s) -> int:
    """Submitted, approved by the prefecture, now at 総務省's stage."""
    app_id = draft_with_evidence(s)
    res = s.client.post(f"/api/intake/applications/{app_id}/submit",
                        headers=s.headers("demo-applicant"))
    assert res.status_code == 202, res.get_json()
    s.wait_status(app_id, "primary_review")
    return app_id


def test_the_list_names_each_attachment_with_the_form_cells_that_refer_to_it(s):
    app_id = draft_with_evidence(s)
    res = s.client.get(url(app_id), headers=s.headers("demo-applicant"))
    assert res.status_code == 200
    [item] = res.get_json()["items"]
    assert {k: item[k] for k in ("id", "filename", "title", "size")} == {
        "id": "A001", "filename": NAME, "title": RULE, "size": len(factories.PDF)}
    assert len(item["sha256"]) == 64 and item["uploaded_at"]
    assert item["uploaded_by"]["login"] == "demo-applicant"
    assert item["uploaded_by"]["org_name"] == "東京都千代田区"
    [ref] = item["referenced_by"]
    assert ref["form"] == "03-08" and ref["path"] == "query_delegations[0].basis.attachment_id"
    assert ref["location"].startswith("様03-08 「様03-08(1)」シート")
    assert "1 行目の条例・規則・規約の添付資料ID" in ref["label"]


def test_the_owner_downloads_the_pdf_with_a_safe_japanese_file_name(s):
    app_id = draft_with_evidence(s)
    res = s.client.get(url(app_id, "A001"), headers=s.headers("demo-applicant"))
    assert res.status_code == 200
    assert res.data == factories.PDF
    assert res.headers["Content-Type"] == "application/pdf"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Content-Disposition"] == (
        f"attachment; filename=\"A001.pdf\"; filename*=UTF-8''{quote(NAME, safe='')}")


@pytest.mark.parametrize("name, plain, encoded", [
    ('..\\..\\evil";\r\nX-Injected: 1.pdf', "evilX-Injected__1.pdf", "evilX-Injected%3A%201.pdf"),
    ("/etc/条例.pdf", "A007.pdf", quote("条例.pdf", safe="")),
    ("\x00\x7f", "A007", "A007"),
    ("rule v2.pdf", "rule_v2.pdf", "rule%20v2.pdf"),
])
def test_a_hostile_file_name_is_made_safe_in_the_header(name, plain, encoded):
    from shared.web import content_disposition

    header = content_disposition(name, "A007")
    assert header == f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"


def test_another_organisation_and_an_unknown_id_get_404(s):
    app_id = draft_with_evidence(s)
    for login in ("meguro", "demo-pref", "other-pref", "demo-mic", "demo-jlis"):
        h = s.headers(login)
        assert s.client.get(url(app_id), headers=h).status_code == 404, login
        res = s.client.get(url(app_id, "A001"), headers=h)
        assert res.status_code == 404, login
        assert res.get_json()["error"]["message"] == "申請が見つかりません。"
    res = s.client.get(url(app_id, "A999"), headers=s.headers("demo-applicant"))
    assert res.status_code == 404
    assert res.get_json()["error"]["message"] == "添付資料「A999」が見つかりません。"
    assert s.client.get(url(10 ** 6, "A001"), headers=s.headers("demo-applicant")).status_code == 404


def test_every_account_of_the_owner_organisation_reads_but_only_applicants_delete(s):
    app_id = draft_with_evidence(s)
    res = s.client.get(url(app_id, "A001"), headers=s.headers("demo-forwarder"))  # 131016
    assert res.status_code == 200 and res.data == factories.PDF
    assert s.client.delete(url(app_id, "A001"), headers=s.headers("demo-forwarder")).status_code == 403
    assert s.client.get(url(app_id), headers=s.headers("demo-applicant")).get_json()["items"]


def test_the_reviewers_the_case_was_routed_to_and_operators_read_it_others_not(s, under_review):
    app_id = under_review
    for login in ("demo-pref", "demo-operator"):
        res = s.client.get(url(app_id, "A001"), headers=s.headers(login))
        assert res.status_code == 200 and res.data == factories.PDF, login
    for login in ("other-pref", "demo-mic", "meguro", "demo-jlis"):  # not routed to (yet)
        assert s.client.get(url(app_id), headers=s.headers(login)).status_code == 404, login
    assert decide(s, "demo-pref", app_id, "承認").status_code == 201
    s.wait_status(app_id, "secondary_review")
    for login in ("demo-mic", "demo-pref"):   # 総務省 now, the prefecture still
        items = s.client.get(url(app_id), headers=s.headers(login)).get_json()["items"]
        assert [i["id"] for i in items] == ["A001"], login


def test_a_reviewer_may_not_delete(s, under_review):
    res = s.client.delete(url(under_review, "A001"), headers=s.headers("demo-pref"))
    assert res.status_code == 403


def test_delete_after_submission_is_409_naming_the_status_in_japanese(s, under_review):
    res = s.client.delete(url(under_review, "A001"), headers=s.headers("demo-applicant"))
    assert res.status_code == 409
    message = res.get_json()["error"]["message"]
    assert message.startswith("申請は現在「") and "のため変更できません" in message
    assert "review" not in message
    items = s.client.get(url(under_review), headers=s.headers("demo-applicant")).get_json()["items"]
    assert [i["id"] for i in items] == ["A001"]


def test_deleting_an_attachment_marks_the_cell_that_still_names_it(s):
    app_id = draft_with_evidence(s)
    h = s.headers("demo-applicant")
    assert s.client.delete(url(app_id, "A001"), headers=h).status_code == 204
    assert s.client.get(url(app_id), headers=h).get_json()["items"] == []
    assert s.client.get(url(app_id, "A001"), headers=h).status_code == 404
    form = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
        s.get_app(app_id)["forms"]["03-08"]), what="03-08 validated again")
    assert form["status"] == "invalid"
    assert [(f["rule"], f["location"]) for f in form["findings"] if f["severity"] == "error"] == [
        ("03-08.basis.attachment_unknown", "query_delegations[0].basis.attachment_id")]
    # only the form naming it was validated again; the others keep their findings
    assert {c: f["status"] for c, f in s.get_app(app_id)["forms"].items() if c != "03-08"} == {
        c: "valid" for c in factories.all_forms() if c != "03-08"}
    history = [e["event"] for e in s.get_app(app_id)["history"]]
    assert "attachment_deleted" in history
    # A new attachment never takes the deleted one's 添付資料ID.
    assert factories.attach_pdf(s.client, h, app_id).get_json()["id"] == "A002"


def test_corrupted_stored_content_is_an_error_never_the_bytes(s, caplog):
    app_id = draft_with_evidence(s)
    with s.ctx("intake").transaction() as session:
        session.execute(update(Attachment).where(Attachment.application_id == app_id)
                        .values(content=factories.PDF.replace(b"1.4", b"1.5")))
    with caplog.at_level(logging.ERROR, logger="services.intake.uploads"):
        res = s.client.get(url(app_id, "A001"), headers=s.headers("demo-applicant"))
    assert res.status_code == 500
    assert b"%PDF" not in res.data
    assert res.get_json()["error"]["message"].startswith(
        f"添付資料「A001」（{NAME}）の保存内容が登録時のチェックサムと一致しないため")
    assert any("does not match its sha256" in r.getMessage() for r in caplog.records)


def test_the_migration_gives_applications_under_review_their_current_route(tmp_path):
    """intake_0014 on an application already at the prefecture: the prefecture still
    reads its attachments after the upgrade."""
    from sqlalchemy import create_engine, text

    from services.intake import models
    from shared.migrate import upgrade

    migrations = Path(models.__file__).parent / "migrations"
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    upgrade("intake", migrations, url, "intake_0013")
    engine = create_engine(url)
    with engine.begin() as conn:
        for app_id, stage, org in ((1, "primary", "130001"), (2, None, None)):
            conn.execute(text(
                "INSERT INTO intake_applications (id, org_id, kind, status, round, stage, "
                "reviewer_org_id, findings, created_by, created_at, updated_at) VALUES "
                "(:id, '131016', 'connection', 'draft', 1, :stage, :org, '[]', 'x', "
                "'2026-12-01 00:00:00', '2026-12-01 00:00:00')"),
                {"id": app_id, "stage": stage, "org": org})
    upgrade("intake", migrations, url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, routes FROM intake_applications")).all())
    engine.dispose()
    assert rows == {1: '{"primary": "130001"}', 2: None}
