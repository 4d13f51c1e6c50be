"""The header every form has: 機関, 申請年月日, 申請区分, and the reviewers' block."""
from __future__ import annotations

import pytest

from services.intake import validation
from tests import form_data
from tests.plugins.conftest import rules

CODES = list(form_data.BUILDERS)


@pytest.mark.parametrize("code", CODES)
def test_the_builders_data_is_valid(check, code):
    data = form_data.form_03_08_full() if code == "03-08" else form_data.BUILDERS[code]()
    assert check(code, data, attachments=[form_data.EVIDENCE]) == []


@pytest.mark.parametrize("code", CODES)
def test_a_reviewer_block_in_the_json_is_refused(check, code):
    data = form_data.BUILDERS[code](reviewer={"result": "承認"})
    found = check(code, data)
    assert rules(found) == [(f"{code}.schema", "error", "reviewer")]
    assert "審査者" in found[0].message


@pytest.mark.parametrize("code", CODES)
def test_an_unknown_field_is_refused(check, code):
    found = check(code, form_data.BUILDERS[code](primary_result="承認"))
    assert rules(found) == [(f"{code}.schema", "error", "primary_result")]


@pytest.mark.parametrize("value, rule", [
    ("2026-11-26", "format"), ("2026/11/31", "invalid"), ("2026/2/3", "format"),
    ("令和8年11月26日", "era"), ("R8.11.26", "era"), ("", "format")])
@pytest.mark.parametrize("code", CODES)
def test_application_date_must_be_a_real_western_date(check, code, value, rule):
    found = check(code, form_data.BUILDERS[code](application_date=value))
    assert rules(found) == [(f"{code}.application_date.{rule}", "error", "application_date")]
    assert "申請年月日" in found[0].message
    if rule == "era":
        assert "西暦" in found[0].message


@pytest.mark.parametrize("code", CODES)
def test_application_date_must_not_be_in_the_future_in_japan_time(check, code, monkeypatch):
    import datetime as dt

    # 2026-11-26 15:00 UTC is 2026-11-27 00:00 in Japan: the 27th is today, not the future
    monkeypatch.setattr("plugins.forms.common._now_utc",
                        lambda: dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.timezone.utc))
    for today_or_before in ("2026/11/27", "2026/11/26", "2025/04/01"):
        assert check(code, form_data.BUILDERS[code](application_date=today_or_before)) == []
    found = check(code, form_data.BUILDERS[code](application_date="2026/11/28"))
    assert rules(found) == [(f"{code}.application_date.future", "error", "application_date")]
    assert "未来" in found[0].message and "2026/11/27" in found[0].message


def test_today_in_japan_is_utc_plus_nine():
    import datetime as dt

    from plugins.forms import common

    assert common.JST.utcoffset(None) == dt.timedelta(hours=9)


@pytest.mark.parametrize("code", [c for c in CODES if c != "03-06"])
def test_a_request_type_the_form_does_not_allow(check, code):
    found = check(code, form_data.BUILDERS[code](request_type="接続申請"))
    assert rules(found) == [(f"{code}.request_type", "error", "request_type")]


@pytest.mark.parametrize("code", [c for c in CODES if c != "03-06"])
def test_the_header_request_type_follows_the_kind_of_application(check, code):
    """登録申請 in a 接続申請, 変更申請 in a 変更申請; the other is an error naming the
    one expected."""
    found = check(code, form_data.BUILDERS[code](request_type="変更申請"))
    assert rules(found) == [(f"{code}.request_type.kind_mismatch", "error", "request_type")]
    assert "「登録申請」" in found[0].message
    found = check(code, form_data.BUILDERS[code](request_type="登録申請"), kind="change")
    assert (f"{code}.request_type.kind_mismatch", "error", "request_type") in rules(found)
    assert "「変更申請」" in found[-1].message or any("「変更申請」" in f.message for f in found)


def test_03_06_allows_only_connection_and_resumption(check):
    assert check("03-06", form_data.form_03_06(request_type="再開申請")) == []
    found = check("03-06", form_data.form_03_06(request_type="登録申請"))
    assert rules(found) == [("03-06.request_type", "error", "request_type")]
    assert "接続申請 / 再開申請" in found[0].message


@pytest.mark.parametrize("code", CODES)
def test_the_form_of_another_organisation(check, code):
    found = check(code, form_data.BUILDERS[code](org="011002"))
    assert ("%s.org_mismatch" % code, "error", "org") in rules(found)


def test_a_connection_requires_every_form_but_03_09(pm):
    from tests.plugins.conftest import CHIYODA
    assert validation.required_codes(pm, "connection", CHIYODA) == [
        "02-01", "02-02", "02-06", "03-06", "03-07", "03-08"]
    assert validation.required_codes(pm, "change", CHIYODA) == []


def test_every_form_has_a_layout_and_japanese_labels(pm):
    from shared.pluginmanager import form_specs

    for code, spec in form_specs(pm).items():
        assert spec.layout is not None and spec.layout.code == code
        for name, field in spec.schema().fields.items():
            assert field.metadata.get("label"), f"{code}.{name} has no label"
