"""Publication modes: immediate (each approval is a version) and batched (approvals are
prepared, 整備, until an operator publishes them as one version, 配信); what a
registration puts into the master."""
from __future__ import annotations

import json

import pytest

from services.master import registry
from services.master.content import MOD, row_hash
from services.master.models import Registration, RestrictedContact
from tests.conftest import Suite, wait_for
from tests.master import approved
from tests.master.approved import api


def checksum_of(tables: dict[str, list[dict]]) -> str:
    total = sum(int(row_hash(t, r["key"], r["data"]), 16)
                for t, rows in tables.items() for r in rows) % MOD
    return f"{total:064x}"


@pytest.fixture(scope="module")
def immediate(tmp_path_factory):
    """Immediate mode: 千代田区 (version 1), 中央区 (version 2), then a 変更申請 of
    千代田区 with only 様03-07 (version 3)."""
    suite = Suite(tmp_path_factory.mktemp("immediate") / "var")
    try:
        before = api(suite, "get", "/api/master/publication").get_json()
        first = approved.payload("131016", catalog_version="2025-09-24")
        approved.register(suite, first, 1)
        approved.register(suite, approved.payload("131024"), 2)
        # the change deletes 項番1, keeps 項番2 and adds 項番3; it mentions no 提供 row
        rows = approved.form_03_07("131016", items=(1, 2, 3), infos=())
        for row, kind in zip(rows["query_affairs"], ("削除", "変更なし", "登録")):
            row["request_type"] = kind
        rows["request_type"] = "変更申請"
        change = approved.payload("131016", {"03-07": rows}, kind="change")
        approved.register(suite, change, 3)
        yield {"suite": suite, "before": before, "first": first,
               "versions": api(suite, "get", "/api/master/versions").get_json()["items"],
               "v1": api(suite, "get", "/api/master/versions/1").get_json()["tables"],
               "v3": api(suite, "get", "/api/master/versions/3").get_json()["tables"],
               "diff": api(suite, "get", "/api/master/versions/3/diff?from=2").get_json()}
    finally:
        suite.close()


def test_immediate_is_the_default_and_each_approval_is_a_version(immediate):
    assert immediate["before"] == {"mode": "immediate", "version": 0, "pending": []}
    first = immediate["first"]
    items = immediate["versions"]
    assert [(v["number"], [s["org_id"] for s in v["sources"]]) for v in items] == [
        (3, ["131016"]), (2, ["131024"]), (1, ["131016"])]
    assert items[2]["sources"] == [{"application_id": first["application_id"],
                                    "number": first["number"], "round": 1,
                                    "org_id": "131016"}]


def test_a_registration_holds_every_approved_table_with_the_catalog_version(immediate):
    tables = immediate["v1"]
    assert sorted(tables) == ["connections", "contact_chiefs", "contacts",
                              "independent_affairs", "organisations", "provided_info",
                              "provision_acceptances", "query_affairs", "query_delegations",
                              "responsibility"]
    assert [r["key"] for r in tables["query_affairs"]] == ["131016|1", "131016|2"]
    assert {r["data"]["catalog_version"] for r in tables["query_affairs"]} == {"2025-09-24"}
    assert tables["provided_info"][0]["data"]["catalog_version"] == "2025-09-24"
    assert tables["query_delegations"][0]["data"]["delegators"] == ["131016"]
    assert tables["independent_affairs"][0]["data"]["ppc_notification_no"] == "PPC-0001"


def test_the_master_keeps_what_was_approved_of_03_06_with_its_start_date(immediate):
    """所在地, ASP use, 有効終了日 as approved; 有効開始日 is set at registration (JST) and
    kept by later registrations of the organisation."""
    import datetime as dt
    import re

    suite = immediate["suite"]
    row = next(r for r in immediate["v1"]["connections"] if r["key"] == "131016")["data"]
    assert row["address"] == "東京都千代田区九段南1-2-1"
    assert row["uses_interface_asp"] is True and row["valid_to_undetermined"] is True
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}", row["valid_from"])
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date()
    assert abs((dt.date(*map(int, row["valid_from"].split("/"))) - today).days) <= 1
    later = approved.payload("131016", {"03-06": dict(
        approved.forms("131016")["03-06"], address="東京都千代田区九段南1-2-2")}, kind="change")
    approved.register(suite, later, 4)
    v4 = api(suite, "get", "/api/master/versions/4").get_json()["tables"]["connections"]
    moved = next(r for r in v4 if r["key"] == "131016")["data"]
    assert moved["address"] == "東京都千代田区九段南1-2-2"
    assert moved["valid_from"] == row["valid_from"]


def test_02_06_self_checks_are_for_mic_and_operators_only(immediate):
    suite = immediate["suite"]
    for login in ("demo-mic", "demo-operator"):
        res = api(suite, "get", "/api/master/self-checks/131016", login)
        assert res.status_code == 200, res.get_json()
        body = res.get_json()
        assert body["reporter"]["name"] == "山田 一郎" and len(body["checks"]) == 14
    for login in ("demo-applicant", "demo-pref"):
        assert api(suite, "get", "/api/master/self-checks/131016", login).status_code == 403
    assert api(suite, "get", "/api/master/self-checks/999999", "demo-mic").status_code == 404
    # never in a version
    assert "self_checks" not in immediate["v1"]
    assert "安全管理" not in json.dumps(immediate["v1"], ensure_ascii=False)


def test_a_change_application_changes_only_the_rows_it_marks(immediate):
    """Row by row: 削除 removes, 登録 adds, 変更なし and unmentioned rows (the provided
    information, every other table) stay exactly as registered."""
    diff = immediate["diff"]["tables"]
    assert sorted(diff) == ["query_affairs"]
    assert [r["key"] for r in diff["query_affairs"]["added"]] == ["131016|3"]
    assert [r["key"] for r in diff["query_affairs"]["removed"]] == ["131016|1"]
    assert diff["query_affairs"]["changed"] == []
    v1 = {t: [r for r in rows if r["data"].get("org_id", r["key"]) == "131016"]
          for t, rows in immediate["v1"].items()}
    v3 = {t: [r for r in rows if r["data"].get("org_id", r["key"]) == "131016"]
          for t, rows in immediate["v3"].items()}
    assert {t: rows for t, rows in v3.items() if t != "query_affairs"} == {
        t: rows for t, rows in v1.items() if t != "query_affairs"}


def test_batched_mode_prepares_approvals_until_an_operator_publishes_them(suite):
    res = api(suite, "put", "/api/master/publication", json={"mode": "batched"})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["mode"] == "batched"
    a, b = approved.payload("131016"), approved.payload("131024")
    approved.send(suite, a)
    approved.send(suite, b)
    wait_for(lambda: approved.pending_count(suite) == 2, what="two prepared registrations")
    state = api(suite, "get", "/api/master/publication").get_json()
    assert state["version"] == 0
    assert [(p["application_id"], p["org_id"]) for p in state["pending"]] == [
        (a["application_id"], "131016"), (b["application_id"], "131024")]
    assert api(suite, "get", "/api/master/versions").get_json()["items"] == []

    res = api(suite, "post", "/api/master/publications")
    assert res.status_code == 201, res.get_json()
    version = res.get_json()
    assert version["number"] == 1
    assert sorted(s["application_id"] for s in version["sources"]) == sorted(
        [a["application_id"], b["application_id"]])
    body = api(suite, "get", "/api/master/versions/1").get_json()
    assert [r["key"] for r in body["tables"]["organisations"]] == ["131016", "131024"]
    assert body["checksum"] == checksum_of(body["tables"])
    assert api(suite, "get", "/api/master/publication").get_json()["pending"] == []
    with suite.ctx("master").db.transaction() as session:
        assert session.query(Registration).filter_by(version=1).count() == 2
        assert session.query(RestrictedContact).count() == 2


def test_a_batch_with_two_rounds_of_one_organisation_keeps_the_later_content(idle_suite):
    """Rows written and superseded inside one batch never appear in any version."""
    ctx = idle_suite.ctx("master")
    with ctx.transaction() as session:
        registry.set_mode(session, "batched")
    first = approved.payload("131016")
    changed = approved.forms("131016", full=False)
    changed["02-01"]["system_manager"] = {"title": "デジタル推進課長", "name": "新 任"}
    second = approved.payload("131016", changed, app_id=first["application_id"] + 500000,
                              kind="change")
    with ctx.transaction() as session:
        assert registry.register(ctx, session, first) is None
        assert registry.register(ctx, session, second) is None
        assert registry.register(ctx, session, first) is None  # a repeat: ignored
        assert len(registry.pending(session)) == 2
    with ctx.transaction() as session:
        version = registry.publish_prepared(ctx, session)
    with ctx.transaction() as session:
        tables = registry.content(session, version.number)
        diff = registry.diff(session, 0, version.number)
    assert [r["data"]["system_manager"]["name"] for r in tables["responsibility"]] == ["新 任"]
    assert {t: [r["key"] for r in c["added"]] for t, c in diff.items()} == {
        t: [r["key"] for r in rows] for t, rows in tables.items()}
    assert version.checksum == checksum_of(tables)
    assert version.summary["responsibility"] == {"added": 1, "removed": 0, "changed": 0}


def test_leaving_batched_mode_with_prepared_registrations_is_refused(idle_suite):
    ctx = idle_suite.ctx("master")
    assert api(idle_suite, "put", "/api/master/publication",
               json={"mode": "batched"}).status_code == 200
    with ctx.transaction() as session:
        registry.register(ctx, session, approved.payload("131016"))
    res = api(idle_suite, "put", "/api/master/publication", json={"mode": "immediate"})
    assert res.status_code == 409
    assert "先に配信" in res.get_json()["error"]["message"]
    assert api(idle_suite, "get", "/api/master/publication").get_json()["mode"] == "batched"
    assert api(idle_suite, "post", "/api/master/publications").status_code == 201
    res = api(idle_suite, "put", "/api/master/publication", json={"mode": "immediate"})
    assert res.status_code == 200
    assert res.get_json() == {"mode": "immediate", "version": 1, "pending": []}


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """A suite for requests that must change nothing."""
    suite = Suite(tmp_path_factory.mktemp("idle") / "var", start_worker=False)
    yield suite
    suite.close()


def test_publishing_with_nothing_prepared_is_409(idle):
    res = api(idle, "post", "/api/master/publications")
    assert res.status_code == 409
    assert res.get_json()["error"] == {"code": "nothing_prepared",
                                       "message": "配信する整備済みの登録がありません。"}


@pytest.mark.parametrize("body", [{"mode": "weekly"}, {}, {"mode": "batched", "x": 1}])
def test_a_bad_publication_mode_is_422_and_changes_nothing(idle, body):
    res = api(idle, "put", "/api/master/publication", json=body)
    assert res.status_code == 422, res.get_json()
    assert res.get_json()["error"]["message"] == "入力内容に誤りがあります。"
    assert api(idle, "get", "/api/master/publication").get_json()["mode"] == "immediate"


@pytest.mark.parametrize("login", ["demo-mic", "demo-applicant", "demo-pref"])
def test_publication_is_for_operators(idle, login):
    for method, path, kw in (("get", "/api/master/publication", {}),
                             ("put", "/api/master/publication", {"json": {"mode": "batched"}}),
                             ("post", "/api/master/publications", {})):
        res = api(idle, method, path, login, **kw)
        assert res.status_code == 403, (method, path)
    assert api(idle, "get", "/api/master/publication").get_json()["mode"] == "immediate"
