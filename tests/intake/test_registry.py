"""The organisation registry (機関マスタ): the code table, operator edits with audit,
一部事務組合・広域連合 with their members, idempotent reloads."""
from __future__ import annotations

from collections import Counter

import pytest

from sqlalchemy import func, select

from services.intake.catalog import load_refdata
from services.intake.models import Organisation, OrganisationAudit
from services.intake.registry import NORTHERN_TERRITORIES, read_rows
from tests import factories


def test_every_prefecture_and_municipality_has_an_executive_and_a_board_of_education():
    rows = list(read_rows())
    local = [r for r in rows if r.branch != "national"]
    assert len(local) == 2 * (47 + 1741 + 6)
    kinds = Counter(r.kind for r in local if r.branch == "executive")
    assert kinds["都道府県"] == 47 and kinds["政令指定都市"] == 20 and kinds["特別区"] == 23
    assert kinds["市"] + kinds["町"] + kinds["村"] == 1741 + 6 - 20 - 23
    by_id = {r.id: r for r in rows}
    assert by_id["131016"].kind == "特別区" and by_id["131016"].prefecture_code == "130001"
    assert by_id["131016-BOE"].branch == "board_of_education"
    assert by_id["131016-BOE"].parent_id == "131016"
    assert by_id["011002"].kind == "政令指定都市" and by_id["010006"].kind == "都道府県"
    assert by_id["133086"].kind == "町" and by_id["133078"].kind == "村"


def test_the_six_northern_territory_villages_are_listed_but_cannot_apply():
    rows = {r.id: r for r in read_rows()}
    for code in NORTHERN_TERRITORIES:
        assert rows[code].kind == "村" and not rows[code].can_apply
        assert not rows[f"{code}-BOE"].can_apply
    assert sum(1 for r in rows.values() if r.branch != "national" and not r.can_apply) == 12


def test_operator_sets_attributes_with_audit_and_a_reload_keeps_them(idle_suite):
    s = idle_suite
    op = s.headers("demo-operator")
    res = s.client.patch("/api/intake/organisations/133086", headers=op,
                         json={"attributes": {"welfare_office": True, "public_housing": False}})
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["attributes"] == {"welfare_office": True, "public_housing": False}
    assert body["effective_attributes"]["welfare_office"] is True
    audit = s.client.get("/api/intake/organisations/133086/audit", headers=op).get_json()["items"]
    assert len(audit) == 1 and audit[0]["actor"]["login"] == "demo-operator"
    assert audit[0]["before"]["attributes"] == {}
    assert audit[0]["after"]["attributes"] == {"welfare_office": True, "public_housing": False}

    with s.ctx("intake").transaction() as session:
        again = load_refdata(session)
    assert again["organisations"]["inserted"] == 0 and again["catalog"]["status"] == "unchanged"
    got = s.client.get("/api/intake/organisations/133086", headers=op).get_json()
    assert got["attributes"] == {"welfare_office": True, "public_housing": False}
    # null removes the operator's value
    res = s.client.patch("/api/intake/organisations/133086", headers=op,
                         json={"attributes": {"public_housing": None}})
    assert res.get_json()["attributes"] == {"welfare_office": True}


def test_attribute_edits_are_validated_and_nothing_changes_on_error(idle_suite):
    s = idle_suite
    op = s.headers("demo-operator")
    cases = [
        ({"attributes": {"hospital": True}}, "attributes.hospital"),
        ({"attributes": {"welfare_office": "はい"}}, "attributes.welfare_office"),
        # every 市 manages a welfare office by law (社会福祉法第14条)
        ({"attributes": {"welfare_office": False}}, "社会福祉法第14条"),
        ({"name": "別の名前"}, "name"),
        ({"colour": "red"}, "colour"),
    ]
    for body, expected in cases:
        res = s.client.patch("/api/intake/organisations/012025", headers=op, json=body)
        assert res.status_code == 422, body
        assert expected in str(res.get_json()["error"]), (body, res.get_json())
    res = s.client.patch("/api/intake/organisations/012025", headers=op,
                         json={"attributes": {"health_center": True, "bogus": 1}})
    assert res.status_code == 422
    with s.ctx("intake").transaction() as session:
        assert session.get(Organisation, "012025").attributes == {}
        assert session.scalar(select(func.count()).select_from(OrganisationAudit)
                              .where(OrganisationAudit.org_id == "012025")) == 0
    assert s.client.patch("/api/intake/organisations/999999", headers=op,
                          json={"attributes": {}}).status_code == 404


def test_only_operators_edit_the_registry(idle_suite):
    s = idle_suite
    for login in ("demo-applicant", "demo-pref", "demo-mic"):
        res = s.client.patch("/api/intake/organisations/131016", headers=s.headers(login),
                             json={"attributes": {"public_housing": True}})
        assert res.status_code == 403
        assert s.client.post("/api/intake/organisations", headers=s.headers(login),
                             json={}).status_code == 403
    listed = s.client.get("/api/intake/organisations?prefecture=130001&kind=特別区",
                          headers=s.headers("demo-applicant")).get_json()
    assert listed["total"] == 46                    # 23 wards, each with its 教育委員会
    listed = s.client.get("/api/intake/organisations?prefecture=130001&kind=特別区"
                          "&branch=executive", headers=s.headers("demo-applicant")).get_json()
    assert listed["total"] == 23 and listed["items"][0]["id"] == "131016"


UNION = {"id": "U130001-001", "name": "テスト衛生組合", "kind": "一部事務組合",
         "prefecture_code": "130001", "members": ["131016", "131024"]}


def test_operator_registers_a_union_with_members_and_it_gets_its_members_affairs_by_choice(
        idle_suite):
    s = idle_suite
    op = s.headers("demo-operator")
    res = s.client.post("/api/intake/organisations", headers=op, json=UNION)
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["members"] == ["131016", "131024"] and body["branch"] == "union"
    assert body["prefecture_code"] == "130001" and body["can_apply"]
    audit = s.client.get("/api/intake/organisations/U130001-001/audit", headers=op).get_json()
    assert audit["items"][0]["action"] == "registered"

    cat = s.client.get("/api/intake/catalog?org=U130001-001", headers=op).get_json()
    assert cat["query_affairs"]["automatic"] == []
    choice = {r["item_no"] for r in cat["query_affairs"]["needs_choice"]}
    assert {"九", "百"} <= choice and "六" not in choice and "一" not in choice

    res = s.client.patch("/api/intake/organisations/U130001-001", headers=op,
                         json={"members": ["131016"], "name": "テスト衛生組合（改称）"})
    assert res.status_code == 200 and res.get_json()["members"] == ["131016"]
    assert len(s.client.get("/api/intake/organisations/U130001-001/audit",
                            headers=op).get_json()["items"]) == 2

    # the example of the demo data is labelled as one; a 後期高齢者医療広域連合 gets 八十五
    example = s.client.get("/api/intake/catalog?org=U130001-901", headers=op).get_json()
    assert "例" in example["org"]["name"]
    assert [r["item_no"] for r in example["query_affairs"]["automatic"]] == ["八十五"]


def test_union_registration_is_validated_and_names_what_is_wrong(idle_suite):
    s = idle_suite
    op = s.headers("demo-operator")
    cases = [
        (dict(UNION, id="130001-001"), "id"),                      # must start with a letter
        (dict(UNION, id="131016"), "id"),
        (dict(UNION, kind="市"), "kind"),
        (dict(UNION, prefecture_code="131016"), "prefecture_code"),
        (dict(UNION, members=[]), "members"),
        (dict(UNION, members=["131016", "999999"]), "999999"),
        (dict(UNION, members=["MIC"]), "members[0]"),
        (dict(UNION, name=" "), "name"),
    ]
    for body, expected in cases:
        res = s.client.post("/api/intake/organisations", headers=op, json=body)
        assert res.status_code == 422, body
        assert expected in str(res.get_json()["error"]), (body, res.get_json())
    assert s.client.get("/api/intake/organisations/U130001-001", headers=op).status_code == 404
    assert s.client.post("/api/intake/organisations", headers=op, json=UNION).status_code == 201
    dup = s.client.post("/api/intake/organisations", headers=op, json=UNION)
    assert dup.status_code == 422 and "既に登録" in dup.get_json()["error"]["message"]


def test_a_union_applies_once_an_account_exists(idle_suite):
    s = idle_suite
    s.client.post("/api/intake/organisations", headers=s.headers("demo-operator"), json=UNION)
    login = s.add_user("union-applicant", "U130001-001", "applicant")
    app_id = factories.create_application(s.client, s.headers(login))
    assert s.get_app(app_id, login)["catalog_version"]


def test_cli_union_add_registers_a_union(tmp_path):
    from tests.test_cli import run

    run(tmp_path, "db", "upgrade")
    first = run(tmp_path, "refdata", "load")
    assert "'status': 'loaded'" in first.stdout and "EXAMPLE" in first.stderr
    version = first.stdout.split("'version': '")[1].split("'")[0]
    out = run(tmp_path, "refdata", "union-add", "--id", "U270008-001", "--name", "テスト広域連合",
              "--kind", "広域連合", "--prefecture", "270008", "--member", "271004",
              "--member", "271403")
    assert "registered U270008-001" in out.stdout
    bad = run(tmp_path, "refdata", "union-add", "--id", "U270008-002", "--name", "x",
              "--kind", "広域連合", "--prefecture", "270008", "--member", "999999", check=False)
    assert bad.returncode != 0 and "999999" in bad.stderr
    again = run(tmp_path, "refdata", "load").stdout       # keeps the union and the version
    assert f"'version': '{version}', 'status': 'unchanged'" in again
    assert "'inserted': 0" in again
    dup = run(tmp_path, "refdata", "union-add", "--id", "U270008-001", "--name", "x",
              "--kind", "広域連合", "--prefecture", "270008", "--member", "271004", check=False)
    assert dup.returncode != 0 and "既に登録" in dup.stderr


# --- 保健所を設置する市 and 特別区 (reference data) -------------------------------------

def test_the_health_center_list_is_the_110_cities_and_wards_of_the_law():
    from services.intake.registry import HEALTH_CENTER_CSV, read_health_centers

    rows = list(read_rows())
    codes = read_health_centers(rows)
    kinds = Counter(r.kind for r in rows if r.id in codes and r.branch == "executive")
    assert len(codes) == 110
    assert kinds == {"政令指定都市": 20, "特別区": 23, "市": 67}   # 62 中核市 + 5 第3号の市
    # every 指定都市 and 特別区 of the code table is on it
    assert {r.id for r in rows if r.branch == "executive" and r.kind in ("政令指定都市", "特別区")} <= codes
    assert {"132012", "012033", "132098", "142051", "142077", "242021"} <= codes  # 八王子, 小樽, 町田, 藤沢, 茅ヶ崎, 四日市
    assert "402028" not in codes                                             # 大牟田市 (no longer)
    assert HEALTH_CENTER_CSV.parent.name == "refdata"
    sources = (HEALTH_CENTER_CSV.parent / "SOURCES.md").read_text(encoding="utf-8")
    assert HEALTH_CENTER_CSV.name in sources and "地域保健法施行令" in sources


@pytest.mark.parametrize("line, problem", [
    ("999999,東京都,架空市,中核市,x", "not in the code table"),
    ("132012,東京都,立川市,中核市,x", "八王子市"),
    ("132012,東京都,八王子市,特別区,x", "does not fit"),
    ("131016,東京都,千代田区,中核市,x", "does not fit")])
def test_a_health_center_list_that_does_not_fit_the_code_table_is_refused(tmp_path, line, problem):
    from services.intake.registry import RefdataError, read_health_centers

    bad = tmp_path / "hokenjo.csv"
    bad.write_text("団体コード,都道府県名,市区名,区分,根拠\n" + line + "\n", encoding="utf-8")
    with pytest.raises(RefdataError, match=problem):
        read_health_centers(list(read_rows()), bad)


def test_loading_sets_health_center_from_the_list_and_an_operator_may_correct_it(idle_suite):
    s = idle_suite
    op = s.headers("demo-operator")

    def org(code):
        return s.client.get(f"/api/intake/organisations/{code}", headers=op).get_json()

    hachioji, tachikawa, chiyoda = org("132012"), org("132021"), org("131016")
    assert hachioji["reference_attributes"] == {"health_center": True}          # 中核市
    assert hachioji["effective_attributes"]["health_center"] is True
    assert hachioji["attributes"] == {}
    assert tachikawa["reference_attributes"] == {"health_center": False}        # not on the list
    assert tachikawa["effective_attributes"]["health_center"] is False
    assert chiyoda["effective_attributes"]["health_center"] is True              # 特別区
    assert org("133086")["reference_attributes"] == {}                          # a town: by law
    assert org("132012-BOE")["reference_attributes"] == {}
    # a city designated after the list was made: the operator says so, and a reload keeps it
    res = s.client.patch("/api/intake/organisations/132021", headers=op,
                         json={"attributes": {"health_center": True}})
    assert res.status_code == 200 and res.get_json()["effective_attributes"]["health_center"] is True
    with s.ctx("intake").transaction() as session:
        again = load_refdata(session)
    assert again["organisations"] == {"inserted": 0, "updated": 0,
                                      "unchanged": again["organisations"]["unchanged"]}
    assert org("132021")["effective_attributes"]["health_center"] is True
    assert org("132021")["reference_attributes"] == {"health_center": False}


def test_a_registry_loaded_before_the_list_gets_it_on_the_next_load(idle_suite):
    s = idle_suite
    with s.ctx("intake").transaction() as session:
        for o in session.scalars(select(Organisation)):
            o.reference_attributes = {}
    with s.ctx("intake").transaction() as session:
        again = load_refdata(session)
        assert again["organisations"]["updated"] == sum(
            1 for r in read_rows() if r.branch == "executive" and r.kind in ("政令指定都市", "特別区", "市"))
        assert session.get(Organisation, "132012").reference_attributes == {"health_center": True}
