"""The legal catalog: the reviewed mapping of the 番号法 別表 to conditions on
organisations (one test per pattern), versioning, and GET /api/intake/catalog."""
from __future__ import annotations

import csv
import shutil

import pytest
from sqlalchemy import select

from services.intake.catalog import (BEPPYO_CSV, CONDITIONS_CSV, EXAMPLE_PROVIDED_INFO_CSV,
                                     CatalogError, load_catalog, parse_condition, read_catalog)
from services.intake.models import Application, CatalogVersion, Organisation
from tests import factories

_, AFFAIRS, INFO, SOURCES = read_catalog()
ROWS = {a["item_no"]: a for a in AFFAIRS}


def org(kind: str, branch: str = "executive", code: str = "999999", **attributes) -> Organisation:
    return Organisation(id=code if branch == "executive" else f"{code}-BOE", name="テスト",
                        kind=kind, branch=branch, lg_code=code, prefecture_code="990001",
                        attributes=attributes, can_apply=True)


def applies(item_no: str, o: Organisation) -> bool | None:
    return parse_condition(ROWS[item_no]["condition"]).evaluate(o)


PREF, DESIGNATED, CITY, WARD = org("都道府県"), org("政令指定都市"), org("市"), org("特別区")
TOWN, VILLAGE = org("町"), org("村")


# --- The mapping as data -----------------------------------------------------------------

def test_every_beppyo_row_has_exactly_one_reviewed_condition():
    with BEPPYO_CSV.open(encoding="utf-8") as f:
        law = list(csv.DictReader(f))
    assert len(law) == 177 and len(AFFAIRS) == 177
    assert [a["item_no"] for a in AFFAIRS] == [r["項番"] for r in law]
    assert all(a["authority"] == r["行政機関等（上欄）"] for a, r in zip(AFFAIRS, law))


def test_rows_for_national_bodies_only_never_apply_to_a_local_government():
    local_words = ("都道府県知事", "市町村長", "市長", "教育委員会", "後期高齢者医療広域連合",
                   "行政機関の長等", "都道府県の長")
    everyone = [PREF, DESIGNATED, CITY, WARD, TOWN, VILLAGE, org("都道府県", "board_of_education"),
                org("町", "board_of_education"), org("後期高齢者医療広域連合", "union"),
                org("一部事務組合", "union")]
    national = [a for a in AFFAIRS if not any(w in a["authority"] for w in local_words)]
    assert {a["authority"] for a in national} >= {"厚生労働大臣", "国税庁長官", "日本私立学校振興・共済事業団"}
    for a in national:
        assert a["condition"] == "none", a["item_no"]
        assert all(applies(a["item_no"], o) is False for o in everyone)
    assert applies("一", PREF) is False and applies("一", CITY) is False  # 厚生労働大臣


def test_social_welfare_councils_and_mutual_aid_associations_are_not_local_governments():
    # 上欄 naming 都道府県/市町村 bodies that are not local governments
    for item_no in ("二十六", "三十七", "五十九", "百十九"):
        assert ROWS[item_no]["condition"] == "none"


def test_a_condition_naming_an_unknown_role_or_attribute_is_refused():
    for bad in ("県知事", "市町村長 & attr:nothing", "none | 市長", "org:12", "市長 &"):
        with pytest.raises(CatalogError):
            parse_condition(bad)


# --- One test per pattern -----------------------------------------------------------------

def test_pattern_shichousonchou_is_every_municipal_executive_only():
    # 九: 市町村長 (番号法第7条: 特別区の区長を含む)
    for o in (DESIGNATED, CITY, WARD, TOWN, VILLAGE):
        assert applies("九", o) is True
    assert applies("九", PREF) is False
    assert applies("九", org("市", "board_of_education")) is False


def test_pattern_todoufukenchiji_is_the_prefecture_executive_only():
    # 六: 都道府県知事
    assert applies("六", PREF) is True
    for o in (DESIGNATED, CITY, WARD, TOWN, org("都道府県", "board_of_education")):
        assert applies("六", o) is False


@pytest.mark.parametrize("item_no", ["十", "二十三", "五十六", "六十五", "六十七", "九十五"])
def test_pattern_todoufukenchijitou_prefecture_cities_wards_and_towns_with_a_welfare_office(item_no):
    for o in (PREF, DESIGNATED, CITY, WARD):
        assert applies(item_no, o) is True
    assert applies(item_no, org("町", welfare_office=True)) is True
    assert applies(item_no, org("村", welfare_office=False)) is False
    assert applies(item_no, TOWN) is None           # the registry does not know: choose
    assert applies(item_no, org("町", "board_of_education")) is False


def test_pattern_a_or_b_applies_to_either():
    # 十四: 都道府県知事又は市町村長; 十九の五: 厚生労働大臣又は都道府県知事
    assert applies("十四", PREF) is True and applies("十四", VILLAGE) is True
    assert applies("十九の五", PREF) is True and applies("十九の五", CITY) is False
    # 九十六: 都道府県知事又は広島市長若しくは長崎市長
    assert applies("九十六", org("政令指定都市", code="341002")) is True
    assert applies("九十六", org("市", code="422011")) is True
    assert applies("九十六", org("市", code="342122")) is False  # 東広島市


def test_pattern_board_of_education():
    pboe, mboe = org("都道府県", "board_of_education"), org("村", "board_of_education")
    assert applies("十九の四", pboe) is True and applies("十九の四", mboe) is False
    assert applies("十九の四", PREF) is False                    # not the governor
    assert applies("四十", pboe) is True and applies("四十", mboe) is True
    assert applies("百二十三", pboe) is True and applies("百二十三", PREF) is True


def test_pattern_koukikoureisha_iryou_kouiki_rengou():
    # 八十五: 市町村長又は…後期高齢者医療広域連合
    assert applies("八十五", org("後期高齢者医療広域連合", "union", "U1")) is True
    assert applies("八十五", org("一部事務組合", "union", "U2")) is False
    assert applies("八十五", TOWN) is True and applies("八十五", PREF) is False


@pytest.mark.parametrize("item_no,key", [("二十七", "public_housing"),
                                         ("五十二", "housing_improvement"),
                                         ("九十三", "specified_rental_housing")])
def test_pattern_jigyoushutai_qualifier_needs_a_choice_unless_the_registry_knows(item_no, key):
    # …事業主体である都道府県知事又は市町村長
    assert applies(item_no, PREF) is None and applies(item_no, VILLAGE) is None
    assert applies(item_no, org("市", **{key: True})) is True
    assert applies(item_no, org("市", **{key: False})) is False
    assert applies(item_no, org("市", "board_of_education")) is False


def test_pattern_hokenjo_wo_setchi_suru_shi():
    # 百五: 都道府県知事又は保健所を設置する市（特別区を含む。）の長
    assert applies("百五", PREF) is True
    assert applies("百五", DESIGNATED) is True and applies("百五", WARD) is True  # by law
    assert applies("百五", CITY) is None                          # 中核市 etc.: choose
    assert applies("百五", org("市", health_center=True)) is True
    assert applies("百五", org("市", health_center=False)) is False
    assert applies("百五", TOWN) is False                         # 町村 never set one up
    # the reference list of 保健所設置市 (loaded into reference_attributes) decides a 市;
    # an operator's value comes first
    listed, unlisted = org("市"), org("市")
    listed.reference_attributes, unlisted.reference_attributes = (
        {"health_center": True}, {"health_center": False})
    assert applies("百五", listed) is True and applies("百五", unlisted) is False
    corrected = org("市", health_center=True)
    corrected.reference_attributes = {"health_center": False}
    assert applies("百五", corrected) is True


# --- Provider side -------------------------------------------------------------------------

def test_the_shipped_provider_file_is_labelled_as_an_example_not_law():
    assert "EXAMPLE" in EXAMPLE_PROVIDED_INFO_CSV.name and "NOT_LAW" in EXAMPLE_PROVIDED_INFO_CSV.name
    first = EXAMPLE_PROVIDED_INFO_CSV.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("#") and "NOT LAW" in first
    assert INFO and all("例" in i["info_name"] for i in INFO)
    assert [s["example"] for s in SOURCES] == [False, False, True, True]


def test_a_provider_file_naming_an_unknown_beppyo_item_is_refused(tmp_path):
    bad = tmp_path / "provided.csv"
    bad.write_text("info_no,info_name,provider,item_nos,note\n"
                   "P1,名前,市町村長,九 九百九十九,\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="九百九十九"):
        read_catalog(provided_info=bad)


def test_a_mapping_reviewed_against_other_law_text_is_refused(tmp_path):
    text = CONDITIONS_CSV.read_text(encoding="utf-8").replace(
        "\n九,市町村長,市町村長", "\n九,都道府県知事,市町村長", 1)
    stale = tmp_path / "beppyo_conditions.csv"
    stale.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="項番 九"):
        read_catalog(conditions=stale)


# --- Versions --------------------------------------------------------------------------

def test_same_content_same_version_changed_content_new_version_applications_keep_theirs(
        idle_suite, tmp_path):
    s = idle_suite
    h = s.headers("demo-applicant")
    with s.ctx("intake").transaction() as session:
        v1 = session.scalar(select(CatalogVersion.id))
        assert load_catalog(session)["status"] == "unchanged"
        assert session.scalar(select(CatalogVersion.id).where(CatalogVersion.id != v1)) is None
    first = factories.create_application(s.client, h)
    assert s.get_app(first)["catalog_version"] == v1

    changed = tmp_path / "beppyo_conditions.csv"
    shutil.copy(CONDITIONS_CSV, changed)
    changed.write_text(changed.read_text(encoding="utf-8").replace(
        "\n九,市町村長,市町村長,", "\n九,市町村長,市町村長,re-reviewed,", 1), encoding="utf-8")
    with s.ctx("intake").transaction() as session:
        out = load_catalog(session, conditions=changed)
    assert out["status"] == "loaded" and out["version"] != v1
    v2 = out["version"]
    second = factories.create_application(s.client, h)
    assert s.get_app(second)["catalog_version"] == v2
    assert s.get_app(first)["catalog_version"] == v1
    with s.ctx("intake").transaction() as session:
        assert load_catalog(session, conditions=changed) == {"version": v2, "status": "unchanged"}
        assert session.get(Application, first).catalog_version == v1
    res = s.client.get("/api/intake/catalog/versions", headers=h)
    assert [(v["version"], v["current"]) for v in res.get_json()["items"]] == [(v1, False), (v2, True)]


# --- GET /api/intake/catalog ---------------------------------------------------------

def test_catalog_answers_as_design_section_7_for_the_applicants_own_org(idle_suite):
    s = idle_suite
    res = s.client.get("/api/intake/catalog?org=131016", headers=s.headers("demo-applicant"))
    assert res.status_code == 200
    body = res.get_json()
    assert set(body) == {"org", "catalog_version", "query_affairs", "provided_info"}
    assert body["org"]["id"] == "131016" and body["org"]["kind"] == "特別区"
    qa, pi = body["query_affairs"], body["provided_info"]
    assert set(qa) == {"automatic", "needs_choice"} and set(pi) == {"automatic", "needs_choice"}
    auto = {r["item_no"] for r in qa["automatic"]}
    assert all(set(r) == {"item_no", "affair"} for r in qa["automatic"])
    assert all(set(r) == {"info_no", "info_name"} for r in pi["automatic"])
    # 市町村長, 都道府県知事等 (a ward manages a welfare office), 保健所設置 (wards by law)
    assert {"九", "二十三", "百", "百五", "八十五"} <= auto
    assert not auto & {"六", "一", "十九の四"}         # governor, minister, BOE rows
    choice = {r["item_no"]: r for r in qa["needs_choice"]}
    assert "二十七" in choice and "公営住宅" in choice["二十七"]["reason"]
    assert not auto & set(choice)
    order = [a["item_no"] for a in AFFAIRS]
    assert [r["item_no"] for r in qa["automatic"]] == [i for i in order if i in auto]


def test_catalog_of_a_board_of_education_and_of_a_town(idle_suite):
    s = idle_suite
    boe = s.client.get("/api/intake/catalog?org=131016-BOE", headers=s.headers("demo-boe")).get_json()
    assert {r["item_no"] for r in boe["query_affairs"]["automatic"]} == {"四十"}
    town = s.client.get("/api/intake/catalog?org=133086", headers=s.headers("demo-operator")).get_json()
    auto = {r["item_no"] for r in town["query_affairs"]["automatic"]}
    choice = {r["item_no"] for r in town["query_affairs"]["needs_choice"]}
    assert "九" in auto and "二十三" in choice and "二十三" not in auto   # 奥多摩町
    assert "百五" not in auto | choice


def test_infectious_disease_row_by_the_list_of_cities_that_run_a_health_center(idle_suite):
    """百五 (感染症の予防及び…: 都道府県知事又は保健所を設置する市（特別区を含む。）の長):
    automatic for a city on the reference list (八王子市, a 中核市), a 特別区 and a
    prefecture; not offered to a city that does not run a 保健所 (立川市) nor to a town;
    a choice only where nothing is known (a city without reference data: see above)."""
    s = idle_suite
    h = s.headers("demo-operator")

    def where(code):
        cat = s.client.get(f"/api/intake/catalog?org={code}", headers=h).get_json()
        auto = {r["item_no"] for r in cat["query_affairs"]["automatic"]}
        choice = {r["item_no"] for r in cat["query_affairs"]["needs_choice"]}
        return "automatic" if "百五" in auto else "choice" if "百五" in choice else None

    assert where("132012") == "automatic"      # 八王子市 (中核市)
    assert where("012033") == "automatic"      # 小樽市 (地域保健法施行令第1条第3号)
    assert where("131130") == "automatic"      # 渋谷区 (特別区)
    assert where("141003") == "automatic"      # 横浜市 (指定都市)
    assert where("130001") == "automatic"      # 東京都
    assert where("132021") is None             # 立川市: no 保健所
    assert where("402028") is None             # 大牟田市: no longer runs one
    assert where("133086") is None             # 奥多摩町
    assert where("132012-BOE") is None         # the 市長's affair, not the 教育委員会's
    # a city the list does not know yet, corrected by an operator
    s.client.patch("/api/intake/organisations/132021", headers=h,
                   json={"attributes": {"health_center": True}})
    assert where("132021") == "automatic"


def test_catalog_access_own_org_for_applicants_any_org_for_reviewers(idle_suite):
    s = idle_suite
    other = s.client.get("/api/intake/catalog?org=131024", headers=s.headers("demo-applicant"))
    assert other.status_code == 403
    own = s.client.get("/api/intake/catalog", headers=s.headers("demo-applicant"))
    assert own.status_code == 200 and own.get_json()["org"]["id"] == "131016"
    for login in ("demo-pref", "demo-mic", "demo-operator"):
        assert s.client.get("/api/intake/catalog?org=011002",
                            headers=s.headers(login)).status_code == 200
    unknown = s.client.get("/api/intake/catalog?org=999999", headers=s.headers("demo-operator"))
    assert unknown.status_code == 422 and "999999" in unknown.get_json()["error"]["message"]
    assert s.client.get("/api/intake/catalog?org=131016").status_code == 401


# --- Procedures (手続) of 別表 items --------------------------------------------------------

def test_the_shipped_procedures_are_an_example_and_attach_to_their_items():
    from services.intake.catalog import EXAMPLE_PROCEDURES_CSV

    assert "EXAMPLE" in EXAMPLE_PROCEDURES_CSV.name and "NOT_LAW" in EXAMPLE_PROCEDURES_CSV.name
    assert EXAMPLE_PROCEDURES_CSV.read_text(encoding="utf-8").startswith("# EXAMPLE ONLY")
    _checksum, affairs, _info, _sources = read_catalog()
    known = {a["item_no"]: a.get("procedures") for a in affairs if a.get("procedures")}
    assert set(known) == {"九", "四十"} and all("【例】" in p for ps in known.values() for p in ps)


@pytest.mark.parametrize("rows, error", [
    ("九百九十九,手続,\n", "九百九十九"),
    ("九,,\n", "手続 is required"),
    ("九,申請,\n九,申請,\n", "appears twice"),
])
def test_a_procedures_file_that_does_not_fit_the_beppyo_is_refused(tmp_path, rows, error):
    bad = tmp_path / "procedures.csv"
    bad.write_text("項番,手続,note\n" + rows, encoding="utf-8")
    with pytest.raises(CatalogError, match=error):
        read_catalog(procedures=bad)


def test_the_03_08_workbook_offers_the_known_procedures_of_each_row(idle_suite):
    import io

    import openpyxl

    from tests import factories, form_data

    s = idle_suite
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    form_data.put_selection_for(s.client, h, app_id, {"query_delegations": [
        {"item_no": "九", "delegators": ["132012"]}]})
    res = s.client.get(f"/api/intake/applications/{app_id}/forms/03-08.xlsx", headers=h)
    wb = openpyxl.load_workbook(io.BytesIO(res.data))
    lists = [dv.formula1 for ws in wb.worksheets for dv in ws.data_validations.dataValidation]
    assert any("障害児通所給付費の支給申請" in (f or "") for f in lists), lists
    found = [dv for ws in wb.worksheets for dv in ws.data_validations.dataValidation
             if "障害児通所給付費の支給申請" in (dv.formula1 or "")]
    assert found[0].errorStyle == "warning"     # other procedures stay possible
