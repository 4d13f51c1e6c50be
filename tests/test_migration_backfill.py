"""Migrations intake_0017 and matching_0008 fill the new list columns of rows made
before them (account requests, 委任情報確認依頼), so the lists search them too."""
from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from nws.runtime import definitions
from shared.migrate import upgrade


def _definition(name):
    return next(d for d in definitions() if d.name == name)


def test_account_requests_filed_before_get_their_login_and_requester(tmp_path):
    d = _definition("intake")
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    upgrade("intake", d.migrations, url, "intake_0015")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "insert into intake_applications (id, number, org_id, kind, status, round, findings,"
            " created_by, created_at, updated_at) values (1, 'A2026-000001', '012025', 'account',"
            " 'submitted', 1, '[]', '(public)', '2026-01-01', '2026-01-01')"))
        conn.execute(text("insert into intake_account_requests (application_id, receipt_token_hash)"
                          " values (1, 'x')"))
        conn.execute(text(
            "insert into intake_forms (application_id, code, data, revision, status, findings,"
            " source, updated_at) values (1, 'account', :data, 1, 'valid', '[]', 'json', '2026-01-01')"),
            {"data": json.dumps({"login": "hakodate-joho", "name": "函館 一郎"})})
    upgrade("intake", d.migrations, url)
    with engine.connect() as conn:
        row = conn.execute(text("select requested_login, requester_name from"
                                " intake_account_requests")).one()
    engine.dispose()
    assert tuple(row) == ("hakodate-joho", "函館 一郎")


def test_confirmations_made_before_get_their_number_name_and_affair(tmp_path):
    d = _definition("matching")
    url = f"sqlite:///{tmp_path / 'matching.db'}"
    upgrade("matching", d.migrations, url, "matching_0007")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "insert into matching_applications (application_id, org_id, round, status, updated_at,"
            " reports, payload) values (7, 'U131000001', 1, 'active', '2026-01-01', 0, :p)"),
            {"p": json.dumps({"number": "R2026-000007", "org_name": "例 組合"})})
        conn.execute(text(
            "insert into matching_records (id, application_id, round, org_id, kind, item, data,"
            " status, updated_at) values (3, 7, 1, 'U131000001', 'query', '9', :d, 'pending', '2026-01-01')"),
            {"d": json.dumps({"affair": "児童手当の支給に関する事務"})})
        conn.execute(text(
            "insert into matching_confirmations (record_id, application_id, delegatee_org,"
            " delegator_org, item, fingerprint, status, created_at) values (3, 7, 'U131000001',"
            " '131016', '9', 'f', 'pending', '2026-01-01')"))
    upgrade("matching", d.migrations, url)
    with engine.connect() as conn:
        row = conn.execute(text("select number, delegatee_name, affair from"
                                " matching_confirmations")).one()
    engine.dispose()
    assert tuple(row) == ("R2026-000007", "例 組合", "児童手当の支給に関する事務")
