"""What an organisation has registered, as intake knows it: the start of a 変更申請 and
what its rows are checked against.

When the master reports that an application was registered, its forms (as validated)
are folded into the organisation's registered forms row by row (shared.rowops: the same
operations the master applies to its rows) and its selection becomes the registered
selection. A 変更申請 opens with that selection, its forms are pre-filled with the
registered rows marked 変更なし, and its validators see the registered forms.

At most one connection or change application per organisation is open at a time
(:func:`check_can_open`), so registrations of one organisation never interleave.
"""
from __future__ import annotations

import copy
from typing import Any

import pluggy
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import rowops
from shared.pluginmanager import form_specs
from shared.vocabulary import kind_name, status_name
from shared.web import ApiError
from services.intake import validation
from services.intake.models import Application, Organisation, RegisteredContent, Selection

LIFECYCLE_KINDS = ("connection", "change")
CLOSED = ("registered", "withdrawn")


def content_of(session: Session, org_id: str) -> RegisteredContent | None:
    return session.get(RegisteredContent, org_id)


def registered_forms(session: Session, org_id: str) -> dict[str, dict]:
    found = content_of(session, org_id)
    return dict(found.forms) if found is not None else {}


def row_keys(pm: pluggy.PluginManager) -> dict[str, dict]:
    return {code: dict(spec.row_keys) for code, spec in form_specs(pm).items()}


def check_can_open(session: Session, org: Organisation, kind: str) -> None:
    """One open application per organisation: a 接続申請 only while none was filed
    (or every one was withdrawn), a 変更申請 only once registered and while no other
    application is open. The organisation's row is locked so two requests at once
    cannot both pass."""
    if kind not in LIFECYCLE_KINDS:
        return
    session.scalar(select(Organisation.id).where(Organisation.id == org.id).with_for_update())
    others = session.execute(
        select(Application.number, Application.kind, Application.status)
        .where(Application.org_id == org.id, Application.kind.in_(LIFECYCLE_KINDS),
               Application.status != "withdrawn")
        .order_by(Application.id)).all()
    open_ = [o for o in others if o.status not in CLOSED]
    if open_:
        o = open_[0]
        raise ApiError(409, "application_open",
                       f"{org.name} には処理中の{kind_name(o.kind)}（申請番号 {o.number}、{status_name(o.status)}）があります。"
                       f"その申請が登録されるか取り下げられるまで、新しい{kind_name(kind)}は作成できません。",
                       existing=o.number)
    registered = [o for o in others if o.status == "registered"]
    if kind == "connection" and registered:
        raise ApiError(409, "already_registered",
                       f"{org.name} は接続申請（申請番号 {registered[0].number}）が登録済みです。"
                       "登録内容を変えるには変更申請を作成してください。",
                       existing=registered[0].number)
    if kind == "change" and not registered:
        raise ApiError(409, "not_registered",
                       "変更申請は、登録済みの申請がある機関のみ作成できます。先に接続申請を行ってください。")


def start_change(session: Session, app: Application, actor: dict) -> None:
    """A new 変更申請 opens with the registered selection (its forms are pre-filled from
    the registered forms when made, see services/intake/workbooks.py)."""
    found = content_of(session, app.org_id)
    if found is None or not found.selection:
        return
    sel = found.selection
    session.add(Selection(application_id=app.id,
                          catalog_version=app.catalog_version or sel.get("catalog_version") or "",
                          query_affairs=copy.deepcopy(sel.get("query_affairs") or []),
                          provided_info=copy.deepcopy(sel.get("provided_info") or []),
                          independent_affairs=copy.deepcopy(sel.get("independent_affairs") or []),
                          updated_by=actor))


def record_registration(pm: pluggy.PluginManager, session: Session, app: Application,
                        master_version: int | None) -> None:
    """Fold the registered application into its organisation's registered content."""
    specs = form_specs(pm)
    keys = row_keys(pm)
    loaded: dict[str, Any] = {}
    for entry in app.forms:
        data = entry.data
        if entry.code in specs:
            found, _ = validation.load_form(specs[entry.code], data)
            data = found if found is not None else data
        loaded[entry.code] = data
    current = content_of(session, app.org_id)
    first = app.kind != "change"
    forms = rowops.fold_forms(current.forms if current else {}, loaded, keys, first=first)
    sel = session.scalar(select(Selection).where(Selection.application_id == app.id))
    selection = ({"catalog_version": sel.catalog_version, "query_affairs": sel.query_affairs,
                  "provided_info": sel.provided_info,
                  "independent_affairs": sel.independent_affairs or []} if sel is not None
                 else (current.selection if current is not None and not first else None))
    if current is None:
        session.add(RegisteredContent(org_id=app.org_id, forms=forms, selection=selection,
                                      application_id=app.id, master_version=master_version))
    else:
        current.forms, current.selection = forms, selection
        current.application_id, current.master_version = app.id, master_version


def delegations_of(pm: pluggy.PluginManager, session: Session, app: Application,
                   forms: dict[str, dict]) -> tuple[dict, list[int]]:
    """(様03-08 rows for matching, application ids they supersede). A 接続申請 sends its
    own rows; a 変更申請 the organisation's whole rows as they will be once it is
    registered (its 03-08 folded into the registered one, or the registered one when it
    has none), superseding the registered application's records."""
    if app.kind != "change":
        return forms.get("03-08") or {}, []
    current = content_of(session, app.org_id)
    held = (current.forms.get("03-08") if current is not None else None) or {}
    change = forms.get("03-08")
    rows = (rowops.fold_form(held, change, row_keys(pm).get("03-08") or {})
            if change is not None else held)
    return rows, [current.application_id] if current is not None else []


def organisations_named(rows: dict) -> set[str]:
    """The organisation codes 様03-08's rows name: the 委任元 of each 情報照会 row, the
    委任先 and 委任元 of the 情報提供 rows (what the matching pages show by name)."""
    codes: set[str] = set()
    for row in rows.get("query_delegations") or []:
        found = row.get("delegators") if isinstance(row, dict) else None
        codes.update(str(d) for d in (found if isinstance(found, list) else [found]) if d)
    for part, key in (("provision_delegations", "delegatee"),
                      ("provision_acceptances", "delegator")):
        for row in rows.get(part) or []:
            if isinstance(row, dict) and row.get(key):
                codes.add(str(row[key]))
    return codes


def change_summary(pm: pluggy.PluginManager, app: Application) -> list[dict]:
    """What a 変更申請 changes, form by form: the rows it marks 登録 / 変更 / 削除 (rows
    marked 変更なし stay as registered), or that the form is replaced whole."""
    if app.kind != "change":
        return []
    specs = form_specs(pm)
    out = []
    for entry in sorted(app.forms, key=lambda f: f.code):
        spec = specs.get(entry.code)
        keys = dict(spec.row_keys) if spec is not None else {}
        title = spec.title if spec is not None else entry.code
        if not keys:
            out.append({"code": entry.code, "title": title, "whole": True, "rows": []})
            continue
        rows = []
        for field, columns in keys.items():
            label = (spec.labels or {}).get(field, field)
            for row in (entry.data or {}).get(field) or []:
                kind = rowops.row_type(row) if isinstance(row, dict) else None
                if kind in (rowops.ADD, rowops.CHANGE, rowops.DELETE):
                    rows.append({"part": label, "kind": kind,
                                 "key": "・".join(str(row.get(c) or "") for c in columns)})
        out.append({"code": entry.code, "title": title, "whole": False, "rows": rows})
    return out


def describe(session: Session, org_id: str) -> dict:
    """The organisation's registered content as the API shows it to its owner."""
    found = content_of(session, org_id)
    if found is None:
        return {"org": org_id, "registered": False, "forms": {}, "selection": None}
    return {"org": org_id, "registered": True, "application_id": found.application_id,
            "master_version": found.master_version, "forms": found.forms,
            "selection": found.selection}
