"""Reviewed forms (issue 13 point 3): once a review stage has decided, every workbook
of the application carries the reviewers' block (審査者記入欄) as review reported it,
and a reviewed workbook uploaded again after a 差戻し is accepted."""
from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from services.identity.accounts import create_account
from services.intake.models import Application, Organisation
from services.intake.reviewed import NO_DEPARTMENT
from tests import factories
from tests.conftest import Suite, wait_for
from tests.intake.test_uploads import upload_and_wait
from tests.test_lifecycle_embedded import decide, prepare_submitted

BLOCK = ("F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11")


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("reviewed-forms") / "var")
    yield suite
    suite.close()


def block_of(xlsx: bytes, code: str) -> tuple:
    ws = openpyxl.load_workbook(io.BytesIO(xlsx))[f"様{code}"]
    return tuple(ws[ref].value for ref in BLOCK)


def download(s, app_id: int, code: str) -> bytes:
    res = s.client.get(f"/api/intake/applications/{app_id}/forms/{code}.xlsx",
                       headers=s.headers("demo-applicant"))
    assert res.status_code == 200, res.get_json()
    return res.data


def download_zip(s, app_id: int) -> dict[str, bytes]:
    res = s.client.get(f"/api/intake/applications/{app_id}/forms.zip",
                       headers=s.headers("demo-applicant"))
    assert res.status_code == 200, res.get_json()
    with zipfile.ZipFile(io.BytesIO(res.data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def number_of(s, app_id: int) -> str:
    return s.get_app(app_id)["number"]


def org_name(s, org_id: str) -> str:
    with s.ctx("intake").transaction() as session:
        return session.get(Organisation, org_id).name


def test_the_block_is_empty_until_a_stage_decides_then_shows_the_primary_decision(s):
    app_id = prepare_submitted(s)
    s.wait_status(app_id, "primary_review")
    assert block_of(download(s, app_id, "02-01"), "02-01") == (None,) * 8

    assert decide(s, "demo-pref", app_id, "承認", "記載内容を確認しました。").status_code == 201
    s.wait_status(app_id, "secondary_review")

    number = number_of(s, app_id)
    assert block_of(download(s, app_id, "02-01"), "02-01") == (
        number, org_name(s, "130001"), "東京都 デジタルサービス局", "審査 一郎",
        "承認", "記載内容を確認しました。", None, None)
    for name, xlsx in download_zip(s, app_id).items():
        code = name.split("様")[-1].removesuffix(".xlsx")
        assert block_of(xlsx, code)[:6] == (
            number, org_name(s, "130001"), "東京都 デジタルサービス局", "審査 一郎",
            "承認", "記載内容を確認しました。"), name


def test_after_the_secondary_rejection_every_workbook_shows_both_decisions_and_a_reupload_is_accepted(s):
    app_id = prepare_submitted(s)
    s.wait_status(app_id, "primary_review")
    assert decide(s, "demo-pref", app_id, "承認").status_code == 201
    s.wait_status(app_id, "secondary_review")
    assert decide(s, "demo-mic", app_id, "否認", "責任者の職名を確認してください。").status_code == 201
    s.wait_status(app_id, "returned")

    number = number_of(s, app_id)
    expected = (number, org_name(s, "130001"), "東京都 デジタルサービス局", "審査 一郎",
                "承認", None, "否認", "責任者の職名を確認してください。")
    files = download_zip(s, app_id)
    assert len(files) == 7
    for name, xlsx in files.items():
        code = name.split("様")[-1].removesuffix(".xlsx")
        assert block_of(xlsx, code) == expected, name

    # The applicant fixes the reviewed workbook and uploads it as it is: the block the
    # system wrote is not held against it.
    app = upload_and_wait(s, app_id, download(s, app_id, "02-01"))
    assert app["uploads"][-1]["status"] == "done", app["uploads"][-1]
    wait_for(lambda: s.get_app(app_id)["forms"]["02-01"]["status"] in ("valid", "invalid"),
             what="02-01 validated")
    rules = [f["rule"] for f in s.get_app(app_id)["forms"]["02-01"]["findings"]]
    assert "02-01.reviewer_filled" not in rules, rules


def test_a_reviewer_cell_changed_by_the_applicant_is_refused(s):
    app_id = prepare_submitted(s)
    s.wait_status(app_id, "primary_review")
    assert decide(s, "demo-pref", app_id, "否認", "様式02-01を確認してください。").status_code == 201
    s.wait_status(app_id, "returned")
    wb = openpyxl.load_workbook(io.BytesIO(download(s, app_id, "02-01")))
    wb["様02-01"]["F8"] = "承認"
    buf = io.BytesIO()
    wb.save(buf)

    upload_and_wait(s, app_id, buf.getvalue())
    found = wait_for(lambda: [f for f in s.get_app(app_id)["forms"]["02-01"]["findings"]
                              if f["rule"] == "02-01.reviewer_filled"],
                     what="reviewer_filled finding")
    assert found[0]["message"].startswith("「様02-01」シート F8: 審査者記入欄（一次審査結果）")


def test_a_reviewer_account_without_a_department_is_shown_as_such(s):
    with s.ctx("identity").transaction() as session:
        create_account(session, login="pref-nodept", password=factories.DEMO_PASSWORD,
                       org_id="130001", role="primary_reviewer", name="部署 なし")
    app_id = prepare_submitted(s)
    s.wait_status(app_id, "primary_review")
    assert decide(s, "pref-nodept", app_id, "否認", "再提出してください。").status_code == 201
    s.wait_status(app_id, "returned")
    block = block_of(download(s, app_id, "02-02"), "02-02")
    assert block[2:5] == (NO_DEPARTMENT, "部署 なし", "否認")


def test_a_resubmitted_round_starts_with_an_empty_block(s):
    app_id = prepare_submitted(s)
    s.wait_status(app_id, "primary_review")
    assert decide(s, "demo-pref", app_id, "否認", "再提出してください。").status_code == 201
    s.wait_status(app_id, "returned")
    assert block_of(download(s, app_id, "02-01"), "02-01")[4] == "否認"
    res = s.client.post(f"/api/intake/applications/{app_id}/submit",
                        headers=s.headers("demo-applicant"))
    assert res.status_code == 202, res.get_json()
    s.wait_status(app_id, "primary_review")
    assert block_of(download(s, app_id, "02-01"), "02-01") == (None,) * 8
    with s.ctx("intake").transaction() as session:
        assert session.scalar(select(Application.round).where(Application.id == app_id)) == 2


def test_the_reviewers_of_the_application_download_the_reviewed_workbooks_others_get_404(s):
    app_id = prepare_submitted(s)
    s.wait_status(app_id, "primary_review")
    assert decide(s, "demo-pref", app_id, "承認", "確認済み").status_code == 201
    s.wait_status(app_id, "secondary_review")
    for login in ("demo-pref", "demo-mic", "demo-operator"):
        res = s.client.get(f"/api/intake/applications/{app_id}/forms/02-01.xlsx",
                           headers=s.headers(login))
        assert res.status_code == 200, (login, res.get_json())
        assert block_of(res.data, "02-01")[4:6] == ("承認", "確認済み"), login
        res = s.client.get(f"/api/intake/applications/{app_id}/forms.zip",
                           headers=s.headers(login))
        assert res.status_code == 200, (login, res.get_json())
    # J-LIS reviews 都道府県知事部局 only: this application was never routed to it
    res = s.client.get(f"/api/intake/applications/{app_id}/forms/02-01.xlsx",
                       headers=s.headers("demo-jlis"))
    assert res.status_code == 404


def test_the_reviewer_downloads_the_reviewed_workbooks_from_the_case_page(s):
    from tests.pages.support import client_for, text_of

    app_id = prepare_submitted(s)
    s.wait_status(app_id, "primary_review")
    assert decide(s, "demo-pref", app_id, "承認", "確認済み").status_code == 201
    s.wait_status(app_id, "secondary_review")
    client = client_for(s, "demo-mic")
    link = f"/applicant/applications/{app_id}/forms.zip"
    assert f'href="{link}" id="download-forms"' in text_of(
        client.get(f"/review/applications/{app_id}"))
    res = client.get(link)
    assert res.status_code == 200 and res.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(res.data)) as zf:
        name = next(n for n in zf.namelist() if n.endswith("様02-01.xlsx"))
        assert block_of(zf.read(name), "02-01")[4:6] == ("承認", "確認済み")
    assert client_for(s, "demo-jlis").get(link).status_code == 404
