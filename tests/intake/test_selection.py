"""PUT /api/intake/applications/ID/selection and the effective rows other code reads
(services.intake.selection.effective_rows)."""
from __future__ import annotations

from services.intake.catalog import CONDITIONS_CSV, load_catalog
from services.intake.models import Application, Selection
from services.intake.selection import effective_rows
from tests import factories


def catalog(s, org="131016", login="demo-applicant") -> dict:
    return s.client.get(f"/api/intake/catalog?org={org}", headers=s.headers(login)).get_json()


def rows(s, app_id: int) -> dict:
    with s.ctx("intake").transaction() as session:
        return effective_rows(session, session.get(Application, app_id))


def put(s, app_id, body, login="demo-applicant"):
    return s.client.put(f"/api/intake/applications/{app_id}/selection", json=body,
                        headers=s.headers(login))


def test_without_a_saved_selection_every_automatic_row_counts_and_nothing_else(idle_suite):
    s = idle_suite
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    cat = catalog(s)
    got = rows(s, app_id)
    assert [(r["item_no"], r["affair"]) for r in got["query_affairs"]] == [
        (r["item_no"], r["affair"]) for r in cat["query_affairs"]["automatic"]]
    assert {r["choice"] for r in got["query_affairs"]} == {"照会する"}
    assert all(r["delegators"] == [] for r in got["query_affairs"])
    assert [r["info_no"] for r in got["provided_info"]] == [
        r["info_no"] for r in cat["provided_info"]["automatic"]]
    assert {r["choice"] for r in got["provided_info"]} == {"提供する"}
    assert all(r["counterpart"] is None for r in got["provided_info"])
    res = s.client.get(f"/api/intake/applications/{app_id}/selection",
                       headers=s.headers("demo-applicant"))
    assert res.status_code == 200 and res.get_json()["saved"] is False
    assert res.get_json()["effective"] == got


def test_a_saved_selection_declines_adds_delegated_and_delegating_rows(idle_suite):
    s = idle_suite
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    cat = catalog(s)
    assert {"二十七", "五十二"} <= {r["item_no"] for r in cat["query_affairs"]["needs_choice"]}
    body = {
        "query_affairs": [
            {"item_no": "九", "choice": "情報照会を行わない"},
            {"item_no": "二十七", "choice": "照会する"},              # 公営住宅の事業主体
            {"item_no": "六", "choice": "受任事務", "delegators": ["130001"]},  # 東京都の事務
        ],
        "provided_info": [
            {"info_no": "EX0001", "choice": "委任した", "counterpart": "U130001-901"},
            {"info_no": "EX0002", "choice": "情報提供を行わない"},
            {"info_no": "EX0005", "choice": "受任により情報提供を行う", "counterpart": "U130001-901"},
        ],
    }
    res = put(s, app_id, body)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["saved"] is True
    got = rows(s, app_id)
    by_item = {r["item_no"]: r for r in got["query_affairs"]}
    assert "九" not in by_item
    assert by_item["二十七"]["choice"] == "照会する"
    assert by_item["六"] == {"item_no": "六", "affair": by_item["六"]["affair"],
                            "choice": "受任事務", "delegators": ["130001"]}
    assert by_item["百"]["choice"] == "照会する"                  # automatic, not mentioned
    assert "五十二" not in by_item                                # needs choice, not listed
    by_info = {r["info_no"]: r for r in got["provided_info"]}
    assert by_info["EX0001"]["choice"] == "委任した"
    assert by_info["EX0001"]["counterpart"] == "U130001-901"
    assert "EX0002" not in by_info
    assert by_info["EX0005"]["counterpart"] == "U130001-901"
    assert by_info["EX0003"]["choice"] == "提供する"
    order = [r["item_no"] for r in catalog(s)["query_affairs"]["automatic"]]
    positions = [r["item_no"] for r in got["query_affairs"] if r["item_no"] in order]
    assert positions == [i for i in order if i in positions]      # 別表 order
    history = s.get_app(app_id)["history"]
    assert history[-1]["event"] == "selection_saved"

    # saving again replaces the selection
    assert put(s, app_id, {"query_affairs": []}).status_code == 200
    assert "九" in {r["item_no"] for r in rows(s, app_id)["query_affairs"]}


BAD = [
    ({"query_affairs": [{"item_no": "九百", "choice": "照会する"}]}, "九百"),
    ({"query_affairs": [{"item_no": "六", "choice": "照会する"}]}, "項番 六"),          # 都道府県知事
    ({"query_affairs": [{"item_no": "一", "choice": "照会する"}]}, "項番 一"),          # 厚生労働大臣
    ({"query_affairs": [{"item_no": "九", "choice": "照会したい"}]}, "choice"),
    ({"query_affairs": [{"item_no": "九", "choice": "照会する"},
                        {"item_no": "九", "choice": "照会する"}]}, "重複"),
    ({"query_affairs": [{"item_no": "六", "choice": "受任事務"}]}, "delegators"),
    ({"query_affairs": [{"item_no": "六", "choice": "受任事務",
                         "delegators": ["999999"]}]}, "999999"),
    ({"query_affairs": [{"item_no": "六", "choice": "受任事務",
                         "delegators": ["131024"]}]}, "項番 六 の事務を行う機関"),      # 中央区: not its affair
    ({"query_affairs": [{"item_no": "六", "choice": "受任事務",
                         "delegators": ["130001", "130001"]}]}, "重複"),
    ({"query_affairs": [{"item_no": "九", "choice": "照会する",
                         "delegators": ["131024"]}]}, "delegators"),
    ({"provided_info": [{"info_no": "EX9999", "choice": "提供する"}]}, "EX9999"),
    ({"provided_info": [{"info_no": "EX0005", "choice": "提供する"}]}, "EX0005"),   # 広域連合's info
    ({"provided_info": [{"info_no": "EX0001", "choice": "委任した"}]}, "counterpart"),
    ({"provided_info": [{"info_no": "EX0001", "choice": "委任した",
                         "counterpart": "ZZZ-1"}]}, "ZZZ-1"),
    ({"provided_info": [{"info_no": "EX0001", "choice": "提供する",
                         "counterpart": "131024"}]}, "counterpart"),
    ({"provided_info": [{"info_no": "EX0001", "choice": "提供",}]}, "choice"),
    ({"query_affairs": {"item_no": "九"}}, "query_affairs"),
    ({"selection": []}, "selection"),
]


def test_bad_selections_are_refused_naming_what_and_nothing_is_saved(idle_suite):
    s = idle_suite
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    good = {"query_affairs": [{"item_no": "九", "choice": "情報照会を行わない"}]}
    assert put(s, app_id, good).status_code == 200
    before = rows(s, app_id)
    for body, expected in BAD:
        res = put(s, app_id, body)
        assert res.status_code == 422, (body, res.get_json())
        err = res.get_json()["error"]
        assert err["code"] == "invalid_selection"
        assert expected in err["message"], (body, err)
        assert err["details"], body
    # one error among good rows: nothing of the request is stored
    mixed = {"query_affairs": [{"item_no": "百", "choice": "情報照会を行わない"},
                               {"item_no": "六", "choice": "照会する"}]}
    assert put(s, app_id, mixed).status_code == 422
    assert rows(s, app_id) == before
    with s.ctx("intake").transaction() as session:
        saved = session.query(Selection).filter_by(application_id=app_id).one()
        assert saved.query_affairs == [{"item_no": "九", "choice": "情報照会を行わない",
                                        "delegators": []}]
    assert s.client.put(f"/api/intake/applications/{app_id}/selection", data="{",
                        headers=dict(s.headers("demo-applicant"),
                                     **{"Content-Type": "application/json"})).status_code == 400


def test_selection_only_on_the_applicants_own_draft_or_returned_application(idle_suite):
    s = idle_suite
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    body = {"query_affairs": []}
    assert put(s, app_id, body, login="demo-boe").status_code == 404          # other org
    assert put(s, app_id, body, login="demo-operator").status_code == 403
    assert put(s, app_id + 1000, body).status_code == 404
    with s.ctx("intake").transaction() as session:
        session.get(Application, app_id).status = "primary_review"
    res = put(s, app_id, body)
    assert res.status_code == 409
    with s.ctx("intake").transaction() as session:
        session.get(Application, app_id).status = "returned"
    assert put(s, app_id, body).status_code == 200


def test_an_application_keeps_the_catalog_version_it_was_made_against(idle_suite, tmp_path):
    s = idle_suite
    h = s.headers("demo-applicant")
    old_app = factories.create_application(s.client, h)
    # a new version in which 項番 九 is no longer the municipalities' (a changed mapping)
    changed = tmp_path / "beppyo_conditions.csv"
    changed.write_text(CONDITIONS_CSV.read_text(encoding="utf-8").replace(
        "\n九,市町村長,市町村長,", "\n九,市町村長,都道府県知事,", 1), encoding="utf-8")
    with s.ctx("intake").transaction() as session:
        new_version = load_catalog(session, conditions=changed)["version"]
    s.add_user("chuo-applicant", "131024", "applicant")   # another 特別区, same catalog rows
    h2 = s.headers("chuo-applicant")
    new_app = factories.create_application(s.client, h2)
    assert s.get_app(new_app, "chuo-applicant")["catalog_version"] == new_version
    assert s.get_app(old_app)["catalog_version"] != new_version
    assert "九" in {r["item_no"] for r in rows(s, old_app)["query_affairs"]}
    assert "九" not in {r["item_no"] for r in rows(s, new_app)["query_affairs"]}
    body = {"query_affairs": [{"item_no": "九", "choice": "照会する"}]}
    assert put(s, old_app, body).status_code == 200
    assert put(s, new_app, body, login="chuo-applicant").status_code == 422
    assert catalog(s)["catalog_version"] == new_version


def test_a_union_counts_its_members_affairs_only_when_it_selects_them(idle_suite):
    s = idle_suite
    login = s.add_user("kouiki-applicant", "U130001-901", "applicant")
    h = s.headers(login)
    app_id = factories.create_application(s.client, h)
    got = rows(s, app_id)
    assert [r["item_no"] for r in got["query_affairs"]] == ["八十五"]
    assert [r["info_no"] for r in got["provided_info"]] == ["EX0005"]
    body = {"query_affairs": [
        {"item_no": "六", "choice": "受任事務", "delegators": ["130001", "131016"]},  # 県 → 区 → 連合
        {"item_no": "百", "choice": "受任事務", "delegators": ["131016", "131024"]}]}
    assert put(s, app_id, body, login=login).status_code == 200, put(s, app_id, body, login=login).get_json()
    got = rows(s, app_id)
    assert [(r["item_no"], r["choice"], r["delegators"]) for r in got["query_affairs"]] == [
        ("六", "受任事務", ["130001", "131016"]), ("八十五", "照会する", []),
        ("百", "受任事務", ["131016", "131024"])]


def test_a_city_that_runs_a_health_center_declares_the_infectious_disease_row_by_default(idle_suite):
    """百五 follows from the list of 保健所設置市: in 八王子市's default rows, and not
    selectable by 立川市, which runs no 保健所."""
    s = idle_suite
    s.add_user("hachioji-applicant", "132012", "applicant")
    s.add_user("tachikawa-applicant", "132021", "applicant")
    hachioji = factories.create_application(s.client, s.headers("hachioji-applicant"))
    assert "百五" in {r["item_no"] for r in rows(s, hachioji)["query_affairs"]}
    tachikawa = factories.create_application(s.client, s.headers("tachikawa-applicant"))
    assert "百五" not in {r["item_no"] for r in rows(s, tachikawa)["query_affairs"]}
    res = put(s, tachikawa, {"query_affairs": [{"item_no": "百五", "choice": "照会する"}]},
              login="tachikawa-applicant")
    assert res.status_code == 422
    assert "行う事務ではありません" in res.get_json()["error"]["message"]
