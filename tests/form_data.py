"""Form payloads for the forms beyond 02-01 and 02-02 (which stay in factories.py), in the
canonical shape a workbook reads back to: blank text is "", blank dates None, lists in
layout order."""
from __future__ import annotations

import copy
import functools

from tests.factories import WRITER, form_02_01, form_02_02  # noqa: F401  (re-exported)


@functools.lru_cache(maxsize=None)
def beppyo_affair(item_no: str) -> str:
    """The 事務 of a 番号法 別表 row, exactly as the shipped catalog has it."""
    import csv

    from services.intake.catalog import BEPPYO_CSV

    with BEPPYO_CSV.open(encoding="utf-8-sig") as f:
        return next(r["事務（下欄）"] for r in csv.DictReader(f) if r["項番"] == item_no)


CHECK_ITEMS = [
    (1, "責任体制の整備"), (1, "報告体制の整備"), (1, "インシデントへの対応"),
    (2, "業者の選定基準の規定"), (2, "情報セキュリティ対策の履行状況の確認"),
    (3, "文書の適正な取り扱い"), (3, "保守作業の確認"), (3, "情報セキュリティ対策の見直し"),
    (4, "主体認証"), (4, "アクセス制御"), (4, "不正プログラム対策"),
    (5, "通信回線に係る対策"), (5, "フリーメールの禁止"), (5, "時刻同期"),
]


def _common(org: str, request_type: str = "登録申請") -> dict:
    return {"org": org, "application_date": "2026/11/26", "request_type": request_type,
            "writer": dict(WRITER)}


def _apply(data: dict, changes: dict) -> dict:
    data.update(copy.deepcopy(changes))
    return data


def form_02_06(org: str = "131016", **changes) -> dict:
    data = {**_common(org), "reporter": {"title": "情報政策担当部長", "name": "山田 一郎"},
            "checks": [{"category": c, "item": item, "result": "実施", "note": ""}
                       for c, item in CHECK_ITEMS]}
    return _apply(data, changes)


def form_03_06(org: str = "131016", **changes) -> dict:
    data = {**_common(org, "接続申請"), "address": "東京都千代田区九段南1-2-1",
            "attached_forms": ["02-01", "02-02", "02-06", "03-07", "03-08"],
            "uses_interface_asp": True, "valid_from": None, "valid_to_undetermined": True,
            "valid_to": None}
    return _apply(data, changes)


def pia_done(number: str = "12", name: str = "住民基本台帳に関する事務 全項目評価書",
             published: bool = True, **report) -> dict:
    return {"status": "実施済", "reason": "",
            "reports": [{"number": number, "name": name, "published": published, **report}]}


def form_03_07(org: str = "131016", **changes) -> dict:
    data = {**_common(org),
            "query_affairs": [{"item_no": "九", "affair": beppyo_affair("九"),
                               "request_type": "登録", "pia": pia_done()}],
            "provided_info": [{"info_no": "001", "info_name": "住民票関係情報",
                               "request_type": "登録",
                               "pia": {"status": "1000人未満", "reason": "", "reports": []}}]}
    return _apply(data, changes)


# The 添付資料ID the 様03-08 builders name for their bases' 条例・規則・規約: the first
# attachment of an application (attach it with factories.attach_evidence).
EVIDENCE = "A001"


def query_delegation(**changes) -> dict:
    data = {"item_no": "九", "affair": beppyo_affair("九"),
            "procedure": "認定請求", "basis": {"article": "地方自治法第252条の14",
                                         "rule_title": "児童手当事務の委託に関する規約",
                                         "attachment_id": EVIDENCE},
            "delegators": ["132012"], "delegator_confirmed": True, "chain": [],
            "request_type": "登録"}
    return _apply(data, changes)


def form_03_08(org: str = "131016", **changes) -> dict:
    data = {**_common(org), "query_delegations": [], "provision_delegations": [],
            "provision_acceptances": []}
    return _apply(data, changes)


def form_03_08_full(org: str = "131016", **changes) -> dict:
    """A 03-08 with a row in each of (1), (2) and (3), and a two-level chain in (1)."""
    data = form_03_08(org)
    data["query_delegations"] = [
        query_delegation(),
        query_delegation(item_no="十", affair=beppyo_affair("十"),
                         delegators=["130001", "132012"], chain=[
                             {"from": "130001", "to": "132012", "article": "地方自治法第252条の17の2",
                              "rule_title": "東京都の事務処理の特例に関する条例",
                              "attachment_id": EVIDENCE},
                             {"from": "132012", "to": org, "article": "地方自治法第252条の14",
                              "rule_title": "事務の委託に関する規約",
                              "attachment_id": EVIDENCE}])]
    data["provision_delegations"] = [{"info_no": "002", "info_name": "地方税関係情報",
                                      "delegatee": "132012", "request_type": "登録"}]
    data["provision_acceptances"] = [{"info_no": "003", "info_name": "児童手当関係情報",
                                      "delegator": "132012",
                                      "basis": {"article": "地方自治法第252条の14",
                                                "rule_title": "児童手当事務の委託に関する規約",
                                                "attachment_id": EVIDENCE},
                                      "request_type": "登録"}]
    return _apply(data, changes)


def form_03_09(org: str = "131016", **changes) -> dict:
    data = {**_common(org), "independent_affairs": [
        {"case_no": "0001", "affair": "千代田区子ども医療費助成に関する事務",
         "ppc_notification_no": "PPC-2026-0123", "ordinance": "千代田区子ども医療費の助成に関する条例",
         "request_type": "登録"}]}
    return _apply(data, changes)


BUILDERS = {"02-01": form_02_01, "02-02": form_02_02, "02-06": form_02_06,
            "03-06": form_03_06, "03-07": form_03_07, "03-08": form_03_08,
            "03-09": form_03_09}


# 03-07 rows of the demo catalog's selection (an 教育委員会 declares other rows than a
# 首長部局): the validators check the rows, and their names, against the application's
# real selection.
SELECTED_ROWS = {
    "executive": ("九", beppyo_affair("九"),
                  "EX0001", "【例】地方税関係情報（例示・法令ではない）"),
    "board_of_education": ("四十", beppyo_affair("四十"),
                           "EX0006", "【例】学校保健関係情報（例示・法令ではない）"),
}


def form_03_07_selected(org: str = "131016") -> dict:
    """A 様03-07 whose rows are in the demo organisation's selection."""
    item_no, affair, info_no, info_name = SELECTED_ROWS[
        "board_of_education" if org.endswith("-BOE") else "executive"]
    data = form_03_07(org)
    data["query_affairs"][0].update(item_no=item_no, affair=affair)
    data["provided_info"][0].update(info_no=info_no, info_name=info_name)
    return data


def required_forms(org: str = "131016") -> dict[str, dict]:
    """Every form a 接続申請 requires (all but 様03-09), consistent with each other and
    with the organisation's selection."""
    forms = {code: build(org) for code, build in BUILDERS.items() if code != "03-09"}
    forms["03-07"] = form_03_07_selected(org)
    return forms


def selection_for(form_0308: dict) -> dict:
    """The selection (DESIGN §7) that the rows of a 様03-08 presuppose: its delegated
    affairs as 受任事務 and its provision rows as 委任した / 受任により情報提供を行う."""
    return {
        "query_affairs": [{"item_no": r["item_no"], "choice": "受任事務",
                           "delegators": list(r["delegators"])}
                          for r in form_0308.get("query_delegations", [])],
        "provided_info": (
            [{"info_no": r["info_no"], "choice": "委任した", "counterpart": r["delegatee"]}
             for r in form_0308.get("provision_delegations", [])]
            + [{"info_no": r["info_no"], "choice": "受任により情報提供を行う",
                "counterpart": r["delegator"]}
               for r in form_0308.get("provision_acceptances", [])]),
    }


def put_selection_for(client, headers, app_id: int, form_0308: dict) -> None:
    res = client.put(f"/api/intake/applications/{app_id}/selection",
                     json=selection_for(form_0308), headers=headers)
    assert res.status_code == 200, res.get_json()
