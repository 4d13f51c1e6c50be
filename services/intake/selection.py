"""The applicant's 申請前情報選択 (DESIGN §3, §7 "Selection") and the rows it yields.

Rows of the catalog that follow from the organisation (``automatic``) count as 照会する /
提供する unless the selection says otherwise; rows that need a choice count only when
listed. An application without a saved selection has the default one. Everything is
checked against the catalog version the application was made against.
"""
from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit
from shared.web import ApiError
from services.intake.catalog import OrgCatalog, catalog_for, current_version, parse_condition
from services.intake.models import Application, Organisation, Selection

QUERY_CHOICES = ("照会する", "情報照会を行わない", "受任事務")
PROVIDE_CHOICES = ("提供する", "情報提供を行わない", "受任により情報提供を行う", "委任した")
# Choices that declare no row (left out of the effective rows).
DECLINED = ("情報照会を行わない", "情報提供を行わない")


def version_of(session: Session, app: Application) -> str:
    if app.catalog_version:
        return app.catalog_version
    current = current_version(session)
    if current is None:
        raise ApiError(409, "no_catalog", "法令カタログが読み込まれていません（運用者に連絡してください）。")
    return current.id


def selection_of(session: Session, app: Application) -> Selection | None:
    return session.scalar(select(Selection).where(Selection.application_id == app.id))


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, location: str, message: str) -> None:
        self.items.append({"location": location, "message": message})


def _known_org(session: Session, problems: _Problems, loc: str, org_id: Any,
               applicant: Organisation) -> Organisation | None:
    if not isinstance(org_id, str) or not org_id:
        problems.add(loc, "機関IDを文字列で指定してください。")
        return None
    org = session.get(Organisation, org_id)
    if org is None:
        problems.add(loc, f"機関 {org_id} は機関マスタに登録されていません。")
        return None
    if org.id == applicant.id:
        problems.add(loc, "自機関は相手方に指定できません。")
        return None
    return org


def _allowed_for(cat: OrgCatalog, attr: str, key: str, other: Organisation) -> bool:
    """Whether the catalog row ``key`` may apply to ``other`` (automatic or by choice)."""
    row = (cat.all_affairs if attr == "condition" else cat.all_info)[key]
    return parse_condition(getattr(row, attr)).evaluate(other) is not False


def _rows(problems: _Problems, rows: list, section: str, key: str, label: str,
          fields: set[str], missing: str, known, unknown: str,
          choices) -> Iterator[tuple[str, dict, str, Any]]:
    """The rows of ``section`` worth checking further, as (location, row, key value,
    choice): a row that is not an object, lacks ``key``, repeats one, names one not in
    ``known`` (message: label, value, ``unknown``) or has a ``choice`` not in
    ``choices`` is a problem and skipped; unknown fields are problems too."""
    seen: set[str] = set()
    for i, row in enumerate(rows):
        loc = f"{section}[{i}]"
        if not isinstance(row, dict):
            problems.add(loc, "オブジェクトで指定してください。")
            continue
        for name in sorted(set(row) - fields):
            problems.add(f"{loc}.{name}", "未知の項目です。")
        value, choice = row.get(key), row.get("choice")
        if not isinstance(value, str) or not value:
            problems.add(f"{loc}.{key}", missing)
            continue
        loc = f"{section}[{i}]（{label} {value}）"
        if value in seen:
            problems.add(loc, f"{label} {value} が重複しています。")
            continue
        seen.add(value)
        if value not in known:
            problems.add(loc, f"{label} {value} {unknown}")
            continue
        if choice not in choices:
            problems.add(f"{loc}.choice", f"choice は {'、'.join(choices)} のいずれかです。")
            continue
        yield loc, row, value, choice


def check_selection(session: Session, app: Application, org: Organisation, cat: OrgCatalog,
                    body: Any) -> tuple[list[dict], list[dict]]:
    """Normalised (query_affairs, provided_info) or ApiError 422 naming every problem."""
    problems = _Problems()
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_selection", "選択内容は JSON オブジェクトで送ってください。")
    for key in sorted(set(body) - {"query_affairs", "provided_info", "independent_affairs"}):
        problems.add(key, "未知の項目です（query_affairs、provided_info と independent_affairs のみ指定できます）。")
    affairs_in = body.get("query_affairs", [])
    info_in = body.get("provided_info", [])
    affairs: list[dict] = []
    infos: list[dict] = []
    if not isinstance(affairs_in, list):
        problems.add("query_affairs", "配列で指定してください。")
        affairs_in = []
    if not isinstance(info_in, list):
        problems.add("provided_info", "配列で指定してください。")
        info_in = []

    for loc, row, item_no, choice in _rows(
            problems, affairs_in, "query_affairs", "item_no", "項番",
            {"item_no", "choice", "delegators", "affair"},
            "別表の項番（例: 九、二十三の四）を指定してください。", cat.all_affairs,
            f"は番号法別表（カタログ {cat.version}）にありません。", QUERY_CHOICES):
        delegators = row.get("delegators") or []
        if choice == "受任事務":
            if not isinstance(delegators, list) or not delegators:
                problems.add(f"{loc}.delegators", "受任事務には委任元機関を1つ以上指定してください。")
                continue
            ok, holders = True, 0
            for j, d in enumerate(delegators):
                other = _known_org(session, problems, f"{loc}.delegators[{j}]", d, org)
                if other is None:
                    ok = False
                elif _allowed_for(cat, "condition", item_no, other):
                    holders += 1
            if len(set(map(str, delegators))) != len(delegators):
                problems.add(f"{loc}.delegators", "委任元機関が重複しています。")
                ok = False
            elif ok and not holders:
                # A chain (県A → 市B → 組合C) lists every 委任元; one of them must be an
                # organisation whose affair it is under the 別表.
                problems.add(f"{loc}.delegators",
                             f"委任元機関に項番 {item_no} の事務を行う機関が含まれていません"
                             f"（{cat.all_affairs[item_no].authority}）。")
                ok = False
            if ok:
                affairs.append({"item_no": item_no, "choice": choice,
                                "delegators": list(delegators)})
            continue
        if delegators:
            problems.add(f"{loc}.delegators", "委任元機関は受任事務の場合のみ指定できます。")
            continue
        if item_no not in cat.affairs:
            problems.add(loc, f"項番 {item_no} の事務は {org.name} が行う事務ではありません"
                              f"（{cat.all_affairs[item_no].authority}）。")
            continue
        affairs.append({"item_no": item_no, "choice": choice, "delegators": []})

    for loc, row, info_no, choice in _rows(
            problems, info_in, "provided_info", "info_no", "特定個人情報番号",
            {"info_no", "choice", "counterpart", "info_name"}, "特定個人情報番号を指定してください。",
            cat.all_info, f"はカタログ {cat.version} にありません。", PROVIDE_CHOICES):
        counterpart_id = row.get("counterpart")
        if choice in ("受任により情報提供を行う", "委任した"):
            role = "委任元機関" if choice == "受任により情報提供を行う" else "委任先機関"
            if counterpart_id in (None, ""):
                problems.add(f"{loc}.counterpart", f"{choice}場合は{role}を指定してください。")
                continue
            other = _known_org(session, problems, f"{loc}.counterpart", counterpart_id, org)
            if other is None:
                continue
            if choice == "受任により情報提供を行う":
                if not _allowed_for(cat, "provider", info_no, other):
                    problems.add(f"{loc}.counterpart", f"{other.name} はこの特定個人情報の情報提供者ではありません。")
                    continue
            elif info_no not in cat.info:
                problems.add(loc, f"{org.name} はこの特定個人情報の情報提供者ではありません。")
                continue
            infos.append({"info_no": info_no, "choice": choice, "counterpart": other.id})
            continue
        if counterpart_id not in (None, ""):
            problems.add(f"{loc}.counterpart", "相手方機関は委任・受任の場合のみ指定できます。")
            continue
        if info_no not in cat.info:
            problems.add(loc, f"{org.name} はこの特定個人情報の情報提供者ではありません。")
            continue
        infos.append({"info_no": info_no, "choice": choice, "counterpart": None})

    if problems.items:
        first = problems.items[0]
        raise ApiError(422, "invalid_selection",
                       f"選択内容に誤りがあります: {first['location']}: {first['message']}"
                       + (f"（ほか{len(problems.items) - 1}件）" if len(problems.items) > 1 else ""),
                       details=problems.items)
    return affairs, infos


MAX_INDEPENDENT = 500


def check_independent(body: Any) -> list[dict] | None:
    """The 独自利用事務 of the selection (条例連携, 様03-09's rows): [{case_no, affair}] as
    notified to 個人情報保護委員会, or None when the body does not say (kept as saved)."""
    if not isinstance(body, dict) or "independent_affairs" not in body:
        return None
    rows = body["independent_affairs"]
    if not isinstance(rows, list) or len(rows) > MAX_INDEPENDENT:
        raise ApiError(422, "invalid_selection",
                       f"independent_affairs（独自利用事務）は {MAX_INDEPENDENT} 件以内の配列で指定してください。")
    out, seen, problems = [], set(), _Problems()
    for i, row in enumerate(rows):
        loc = f"independent_affairs[{i}]"
        if not isinstance(row, dict):
            problems.add(loc, "オブジェクトで指定してください。")
            continue
        for key in sorted(set(row) - {"case_no", "affair"}):
            problems.add(f"{loc}.{key}", "未知の項目です（case_no と affair のみ指定できます）。")
        case, affair = row.get("case_no"), row.get("affair")
        if not isinstance(case, str) or not case.strip() or len(case) > 40:
            problems.add(f"{loc}.case_no", "事例番号（40 文字以内）を指定してください。")
            continue
        if not isinstance(affair, str) or not affair.strip() or len(affair) > 400:
            problems.add(f"{loc}.affair", "独自利用事務名（400 文字以内）を指定してください。")
            continue
        if case.strip() in seen:
            problems.add(f"{loc}.case_no", f"事例番号 {case.strip()} が重複しています。")
            continue
        seen.add(case.strip())
        out.append({"case_no": case.strip(), "affair": affair})
    if problems.items:
        first = problems.items[0]
        raise ApiError(422, "invalid_selection",
                       f"選択内容に誤りがあります: {first['location']}: {first['message']}",
                       details=problems.items)
    return out


def save_selection(session: Session, app: Application, actor: dict, body: Any) -> Selection:
    """Check and store the selection of ``app`` (the caller checks ownership and state)."""
    org = session.get(Organisation, app.org_id)
    version = version_of(session, app)
    cat = catalog_for(session, org, version)
    affairs, infos = check_selection(session, app, org, cat, body)
    independent = check_independent(body)
    if not app.catalog_version:
        app.catalog_version = version
    sel = selection_of(session, app)
    if sel is None:
        sel = Selection(application_id=app.id, catalog_version=version, query_affairs=affairs,
                        provided_info=infos, independent_affairs=independent or [],
                        updated_by=actor)
        session.add(sel)
    else:
        sel.catalog_version, sel.query_affairs, sel.provided_info = version, affairs, infos
        if independent is not None:
            sel.independent_affairs = independent
        sel.updated_by = actor
    session.flush()
    audit.record(session, "application.selection_saved", f"application:{app.id}",
                 {"number": app.number, "catalog_version": version,
                  "query_affairs": len(affairs), "provided_info": len(infos)},
                 subject_org=app.org_id)
    return sel


def effective_rows(session: Session, application: Application) -> dict:
    """The rows the application declares, in 別表 / catalog order::

        {"query_affairs": [{"item_no", "affair", "choice", "delegators"}],
         "provided_info": [{"info_no", "info_name", "choice", "counterpart"}]}

    automatic rows count as 照会する / 提供する unless the selection says otherwise;
    needs-choice rows only when listed; rows declined (情報照会を行わない /
    情報提供を行わない) are left out. 受任事務 rows may be affairs of a delegator rather
    than of the applicant itself; ``delegators`` lists every 委任元 of the chain."""
    org = session.get(Organisation, application.org_id)
    cat = catalog_for(session, org, version_of(session, application))
    sel = selection_of(session, application)
    chosen_a = {r["item_no"]: r for r in (sel.query_affairs if sel else [])}
    chosen_i = {r["info_no"]: r for r in (sel.provided_info if sel else [])}

    affairs = []
    for item_no, row in cat.all_affairs.items():
        entry = cat.affairs.get(item_no)
        pick = chosen_a.get(item_no)
        if pick is None:
            if entry is None or not entry.automatic:
                continue
            pick = {"choice": "照会する", "delegators": []}
        if pick["choice"] in DECLINED:
            continue
        found = {"item_no": item_no, "affair": row.affair, "choice": pick["choice"],
                 "delegators": list(pick.get("delegators") or [])}
        if row.procedures:    # the 手続 the catalog knows for the item (様03-08's pull-down)
            found["procedures"] = list(row.procedures)
        affairs.append(found)
    infos = []
    for info_no, row in cat.all_info.items():
        entry = cat.info.get(info_no)
        pick = chosen_i.get(info_no)
        if pick is None:
            if entry is None or not entry.automatic:
                continue
            pick = {"choice": "提供する", "counterpart": None}
        if pick["choice"] in DECLINED:
            continue
        infos.append({"info_no": info_no, "info_name": row.info_name, "choice": pick["choice"],
                      "counterpart": pick.get("counterpart")})
    return {"query_affairs": affairs, "provided_info": infos,
            "independent_affairs": list((sel.independent_affairs if sel else None) or [])}


def describe_selection(session: Session, app: Application) -> dict:
    sel = selection_of(session, app)
    return {"application_id": app.id, "catalog_version": version_of(session, app),
            "saved": sel is not None,
            "selection": ({"query_affairs": sel.query_affairs,
                           "provided_info": sel.provided_info,
                           "independent_affairs": sel.independent_affairs or []}
                          if sel else None),
            "effective": effective_rows(session, app)}
