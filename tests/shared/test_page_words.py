"""What the pages show instead of the code's words: a finding's place, a stored field's
name, an audit record's target and detail, all in Japanese."""
from __future__ import annotations

import pytest

from shared.audit_web import detail_rows, target_label
from shared.pages import field_label, finding_location
from tests.conftest import Suite


@pytest.fixture(scope="module")
def idle_suite(tmp_path_factory):
    """One suite without a worker for the module: these read the installed forms only."""
    s = Suite(tmp_path_factory.mktemp("words") / "var", start_worker=False)
    yield s
    s.close()


def test_a_findings_place_is_japanese_even_when_relative_to_its_form(idle_suite):
    with idle_suite.app.test_request_context():
        assert finding_location("query_delegations.0.procedure", "03-08").startswith(
            "様03-08 ")
        assert "1 行目" in finding_location("03-08.query_delegations.0.procedure")
        assert finding_location("query_affairs", "03-07").startswith("様03-07")
        # a place the print view labelled already is shown as it is
        assert finding_location("様03-07 (1) 情報照会を行う事務", "03-07") == \
            "様03-07 (1) 情報照会を行う事務"
        assert finding_location(None) == "申請全体"


def test_stored_fields_are_named_by_the_forms_labels(idle_suite):
    with idle_suite.app.test_request_context():
        for key in ("system_chief", "system_manager", "staff"):
            label = field_label(key)
            assert label != key and not label.isascii(), key
        assert field_label("no_such_field") == "no_such_field"


def test_an_audit_record_reads_in_japanese(idle_suite):
    assert target_label("application:42") == "申請ID 42"
    assert target_label("publication") == "公開方法"
    with idle_suite.app.test_request_context():
        rows = dict(detail_rows({"kind": "connection", "stage": "primary", "round": 1,
                                 "role": "forwarder", "catalog": {"status": "loaded"},
                                 "number": "2026-000001", "acknowledged_matching": True}))
    assert rows == {"種類": "接続申請", "段階": "一次審査", "提出回数": "1",
                    "役割": "経由機関", "参照データ・状態": "読込済",
                    "申請番号": "2026-000001", "突合未了を確認済み": "はい"}
    assert detail_rows(None) == [] and detail_rows({}) == []
