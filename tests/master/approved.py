"""Approved content for master tests, sent to the master as review sends it.

The master only ever learns of an approval through an ``application.approved`` message;
these helpers emit that message from the review service's outbox (exactly the path
review's decisions take), so the master tests need not drive two reviews each time.
"""
from __future__ import annotations

import copy

from services.master.models import MasterVersion, PendingRegistration
from tests import factories
from tests.conftest import Suite, wait_for

ORGS = {
    "131016": {"id": "131016", "name": "東京都千代田区", "kind": "特別区", "branch": "executive",
               "prefecture_code": "130001", "parent_id": None},
    "131024": {"id": "131024", "name": "東京都中央区", "kind": "特別区", "branch": "executive",
               "prefecture_code": "130001", "parent_id": None},
    "131016-BOE": {"id": "131016-BOE", "name": "東京都千代田区教育委員会", "kind": "特別区",
                   "branch": "board_of_education", "prefecture_code": "130001",
                   "parent_id": "131016"},
}

EMERGENCY = {
    "131016": {"priority": 1, "name": "山田 一郎", "phone": "090-1111-0001",
               "email": "kinkyu-chiyoda@example.jp"},
    "131024": {"priority": 1, "name": "中央 花子", "phone": "090-2222-0002",
               "email": "kinkyu-chuo@example.jp"},
    "131016-BOE": {"priority": 1, "name": "教育 次郎", "phone": "080-3333-0003",
                   "email": "kinkyu-boe@example.jp"},
}
#: what must never leave the master (the names also serve elsewhere, so they are not here)
EMERGENCY_SECRETS = [v for c in EMERGENCY.values() for v in (c["phone"], c["email"])]

PIA_DONE = {"status": "実施済", "reason": "",
            "reports": [{"number": "0001", "name": "住民基本台帳事務 全項目評価書",
                         "published": True}]}


def form_03_07(org: str, items=(1, 2), infos=(1,)) -> dict:
    return {"org": org, "application_date": "2026/11/26", "request_type": "登録申請",
            "writer": dict(factories.WRITER),
            "query_affairs": [{"item_no": i, "affair": f"別表 項番{i} の事務",
                               "request_type": "登録", "pia": copy.deepcopy(PIA_DONE)}
                              for i in items],
            "provided_info": [{"info_no": f"P{i:03d}", "info_name": f"特定個人情報 {i}",
                               "request_type": "登録", "pia": copy.deepcopy(PIA_DONE)}
                              for i in infos]}


def form_03_08(org: str, delegator: str = "131016") -> dict:
    return {"org": org, "application_date": "2026/11/26", "request_type": "登録申請",
            "writer": dict(factories.WRITER),
            "query_delegations": [{
                "item_no": 2, "affair": "別表 項番2 の事務", "procedure": "照会",
                "basis": {"article": "地方自治法第180条の2", "rule_title": "事務委任規則"},
                "delegators": [delegator], "delegator_confirmed": True,
                "chain": [{"from": delegator, "to": org, "article": "地方自治法第180条の2",
                           "rule_title": "事務委任規則"}]}],
            "provision_delegations": [],
            "provision_acceptances": [{"info_no": "P001", "info_name": "特定個人情報 1",
                                       "delegator": delegator,
                                       "basis": {"article": "地方自治法第180条の2",
                                                 "rule_title": "事務委任規則"}}]}


def form_03_09(org: str) -> dict:
    return {"org": org, "application_date": "2026/11/26", "request_type": "登録申請",
            "writer": dict(factories.WRITER),
            "independent_affairs": [{"case_no": "1", "affair": "独自利用事務 例（テスト用）",
                                     "ppc_notification_no": "PPC-0001",
                                     "ordinance": "千代田区個人番号利用条例"}]}


def forms(org: str = "131016", *, full: bool = True, **overrides) -> dict[str, dict]:
    out = {"02-01": factories.form_02_01(org),
           "02-02": factories.form_02_02(org, emergency_contacts=[dict(EMERGENCY[org])],
                                         normal_contacts=[{
                                             "priority": 1, "department": "情報政策課",
                                             "name": "", "phone": f"03-0000-{org[:4]}",
                                             "email": f"joho-{org.lower()}@example.lg.jp"}])}
    if full:
        from tests.form_data import form_02_06, form_03_06

        out.update({"02-06": form_02_06(org), "03-06": form_03_06(org),
                    "03-07": form_03_07(org), "03-08": form_03_08(org), "03-09": form_03_09(org)})
    out.update(overrides)
    return out


_ids = iter(range(9000, 1_000_000))


def payload(org: str = "131016", form_data: dict | None = None, *, app_id: int | None = None,
            round_: int = 1, kind: str = "connection",
            catalog_version: str | None = "2025-09-24") -> dict:
    app_id = next(_ids) if app_id is None else app_id
    return {"application_id": app_id, "number": f"R8-{app_id:06d}", "kind": kind,
            "round": round_, "org": dict(ORGS[org]), "catalog_version": catalog_version,
            "approved_at": "2026-11-26T10:00:00+00:00",
            "forms": form_data if form_data is not None else forms(org)}


def send(suite: Suite, body: dict) -> None:
    """Emit ``application.approved`` from review's outbox, as review does."""
    review = suite.ctx("review")
    with review.transaction() as session:
        review.emit(session, "master", "application.approved", body)


def newest_version(suite: Suite) -> int:
    with suite.ctx("master").db.transaction() as session:
        return session.query(MasterVersion).count()


def pending_count(suite: Suite) -> int:
    with suite.ctx("master").db.transaction() as session:
        return session.query(PendingRegistration).count()


def register(suite: Suite, body: dict, number: int) -> None:
    """Send an approval and wait until the master has version ``number``."""
    send(suite, body)
    wait_for(lambda: newest_version(suite) >= number, what=f"master version {number}")


def api(suite: Suite, method: str, path: str, login: str = "demo-operator", **kw):
    return getattr(suite.client, method)(path, headers=suite.headers(login), **kw)
