"""様式作成: the forms of an application as Excel workbooks, pre-filled from the
organisation registry, the saved selection and the forms already saved; annotated with
their findings when they have any.

The layouts are the form plugins' (FormSpec.layout); the engine is shared.workbook.
"""
from __future__ import annotations

import copy
import io
import zipfile
from typing import Any, Mapping

import pluggy
from sqlalchemy.orm import Session

from shared import rowops, workbook
from shared.forms import Finding, FormSpec
from shared.pluginmanager import form_specs
from shared.web import ApiError
from services.intake import reviewed
from services.intake.models import Application, FormEntry, Organisation

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
QUERY_CHOICES = ("照会する", "受任事務")
PROVIDE_CHOICES = ("提供する", "受任により情報提供を行う")
EMPTY_BASIS = {"article": "", "rule_title": ""}
EMPTY_PIA = {"status": "", "reason": "", "reports": []}
# forms whose rows come from the 申請前情報選択
SELECTION_FORMS = ("03-07", "03-08", "03-09")


def header_values(session: Session, org: Organisation) -> dict[str, str]:
    """The display-only cells of 機関情報 (by shared.workbook.Field.source)."""
    prefecture = session.get(Organisation, org.prefecture_code) if org.prefecture_code else None
    return header_of(org.as_ref(), prefecture.name if prefecture else "")


def header_of(org: Mapping[str, Any], prefecture_name: str) -> dict[str, str]:
    """The display-only cells of 機関情報 for ``org`` (an OrgRef) in the prefecture named
    ``prefecture_name``."""
    is_prefecture_exec = org["kind"] == "都道府県" and org["branch"] == "executive"
    return {"org_category": "地方公共団体",
            "prefecture": prefecture_name,
            "org_name": org["name"],
            "org_class": "取りまとめ都道府県" if is_prefecture_exec else "情報照会者等"}


def workbook_header(session: Session, app: Application, org: Organisation) -> dict[str, str]:
    """Every display-only cell of the application's workbooks: 機関情報 and, once a
    review stage has decided, the reviewers' block (services.intake.reviewed)."""
    return {**header_values(session, org), **reviewed.block_values(session, app)}


def selection_rows(session: Session, app: Application) -> dict | None:
    """The application's effective selection, or None where it cannot be had (no
    selection module or no catalog loaded): rows then come from the saved forms."""
    try:
        from services.intake import selection
    except ImportError:
        return None
    try:
        return selection.effective_rows(session, app)
    except ApiError:
        return None


def _merge(rows: list[dict], saved: list[dict], key: str) -> list[dict]:
    """The selection's rows, each completed by the saved row with the same key."""
    by_key = {r.get(key): r for r in saved if isinstance(r, dict)}
    out = []
    for row in rows:
        kept = copy.deepcopy(by_key.get(row[key], {}))
        if kept.get("request_type") == rowops.KEEP:
            # a registered row stays as registered (marking it 変更 changes it)
            for name, value in row.items():
                kept.setdefault(name, value)
        else:
            kept.update(row)
        out.append(kept)
    return out


def rows_from_selection(code: str, data: dict, sel: dict, request_type: str) -> None:
    """Put the selection's rows into the 03-07 or 03-08 ``data`` (in place), keeping what
    the applicant already answered for the same rows."""
    affairs, infos = sel.get("query_affairs") or [], sel.get("provided_info") or []
    if code == "03-07":
        data["query_affairs"] = _merge(
            [{"item_no": r["item_no"], "affair": r.get("affair", "")} for r in affairs
             if r.get("choice") in QUERY_CHOICES], data.get("query_affairs") or [], "item_no")
        data["provided_info"] = _merge(
            [{"info_no": r["info_no"], "info_name": r.get("info_name", "")} for r in infos
             if r.get("choice") in PROVIDE_CHOICES], data.get("provided_info") or [], "info_no")
        for row in data["query_affairs"] + data["provided_info"]:
            row.setdefault("request_type", request_type)
            row.setdefault("pia", copy.deepcopy(EMPTY_PIA))
    elif code == "03-08":
        data["query_delegations"] = _merge(
            [{"item_no": r["item_no"], "affair": r.get("affair", ""),
              "delegators": list(r.get("delegators") or [])}
             for r in affairs if r.get("choice") == "受任事務"],
            data.get("query_delegations") or [], "item_no")
        for row in data["query_delegations"]:
            row.setdefault("procedure", "")
            row.setdefault("basis", dict(EMPTY_BASIS))
            row.setdefault("delegator_confirmed", False)
            row.setdefault("chain", [])
        data["provision_delegations"] = _merge(
            [{"info_no": r["info_no"], "info_name": r.get("info_name", ""),
              "delegatee": r.get("counterpart") or ""}
             for r in infos if r.get("choice") == "委任した"],
            data.get("provision_delegations") or [], "info_no")
        data["provision_acceptances"] = _merge(
            [{"info_no": r["info_no"], "info_name": r.get("info_name", ""),
              "delegator": r.get("counterpart") or ""}
             for r in infos if r.get("choice") == "受任により情報提供を行う"],
            data.get("provision_acceptances") or [], "info_no")
        for row in data["provision_acceptances"]:
            row.setdefault("basis", dict(EMPTY_BASIS))
    elif code == "03-09" and sel.get("independent_affairs"):
        # the 独自利用事務 entered on the selection screen, as notified to 個人情報保護委員会
        data["independent_affairs"] = _merge(
            [{"case_no": r["case_no"], "affair": r["affair"]}
             for r in sel["independent_affairs"]],
            data.get("independent_affairs") or [], "case_no")
        for row in data["independent_affairs"]:
            row.setdefault("ppc_notification_no", "")
            row.setdefault("ordinance", "")
            row.setdefault("request_type", request_type)


def _request_type(spec: FormSpec, app: Application) -> str:
    if spec.code == "03-06":
        return "接続申請"
    return "変更申請" if app.kind == "change" else "登録申請"


def findings_of(app: Application, entry: FormEntry | None, code: str) -> list[Finding]:
    found = list(entry.findings if entry is not None else [])
    found += [f for f in (app.findings or []) if str(f.get("location", "")).startswith(code + ".")]
    return [Finding(f["rule"], f["severity"], f["location"], f["message"]) for f in found]


ROW_KEYS = {"query_affairs": "item_no", "provided_info": "info_no",
            "query_delegations": "item_no", "provision_delegations": "info_no",
            "provision_acceptances": "info_no", "independent_affairs": "case_no"}


def _with_missing_rows(code: str, data: dict, sel: dict, app: Application) -> dict:
    """The validated data with the selection's rows it lacks appended (blank answers),
    so the applicant can fill them in; the rows it has keep their places (the findings
    name them by index)."""
    merged = copy.deepcopy(data)
    rows_from_selection(code, merged, sel, rowops.ADD)
    out = copy.deepcopy(data)
    for key, no in ROW_KEYS.items():
        if key not in merged or not isinstance(out.get(key), list):
            continue
        have = {r.get(no) for r in out[key] if isinstance(r, dict)}
        out[key] += [r for r in merged[key] if r.get(no) not in have]
    return out


def form_part(session: Session, spec: FormSpec, app: Application, org: Organisation,
              header: dict, sel: dict | None) -> workbook.FormPart:
    """What to write for one form: the saved data as it was validated, annotated, when
    the form has findings; otherwise a pre-filled form (saved data, else a blank one
    with the layout's defaults) with the selection's rows."""
    entry = next((f for f in app.forms if f.code == spec.code), None)
    findings = findings_of(app, entry, spec.code)
    if entry is not None and findings:
        data = entry.data
        if sel is not None and spec.code in SELECTION_FORMS:
            data = _with_missing_rows(spec.code, data, sel, app)
        return workbook.FormPart(spec.layout, data, header, findings,
                                 cell_choices=procedure_choices(spec.code, data, sel))
    request_type = _request_type(spec, app)
    registered_form = _registered_form(session, app, spec.code)
    if entry is not None:
        data = copy.deepcopy(entry.data)
    else:
        data = {"org": org.id, "application_date": "", "request_type": request_type,
                "writer": {"department": "", "title": "", "name": ""}}
        if registered_form is not None:
            start = rowops.as_registered_rows(registered_form, spec.row_keys)
            start.pop("application_date", None)
            if spec.code != "03-06":
                start.pop("request_type", None)
            data.update(start)
        elif spec.layout.prefill is not None:
            data.update(spec.layout.prefill(org.as_ref()))
    data["org"] = org.id
    if sel is not None and spec.code in SELECTION_FORMS:
        rows_from_selection(spec.code, data, sel, rowops.ADD)
    if registered_form is not None:
        _registered_rows_left_out(data, registered_form, spec.row_keys)
    return workbook.FormPart(spec.layout, data, header, (),
                             cell_choices=procedure_choices(spec.code, data, sel))


def procedure_choices(code: str, data: dict, sel: dict | None) -> dict[str, tuple[str, ...]]:
    """様03-08 (1): the 手続 cell of each row offers the procedures the catalog knows for
    its 項番 (a pull-down that warns on other values); free text elsewhere."""
    if code != "03-08" or not sel:
        return {}
    known = {r["item_no"]: tuple(r.get("procedures") or ())
             for r in sel.get("query_affairs") or []}
    return {f"query_delegations[{i}].procedure": known[row.get("item_no")]
            for i, row in enumerate(data.get("query_delegations") or [])
            if isinstance(row, dict) and known.get(row.get("item_no"))}


def _registered_form(session: Session, app: Application, code: str) -> dict | None:
    """The organisation's registered form ``code`` when ``app`` is a 変更申請."""
    if app.kind != "change":
        return None
    from services.intake import registered

    return registered.registered_forms(session, app.org_id).get(code)


def _registered_rows_left_out(data: dict, registered_form: dict, row_keys: dict) -> None:
    """Registered rows the form no longer has (deselected on the selection screen) are
    kept as 削除 rows, so the workbook and the page show what the change removes."""
    for field, columns in row_keys.items():
        if not isinstance(data.get(field), list):
            continue
        present = {rowops.key_of(r, columns) for r in data[field] if isinstance(r, dict)}
        data[field] += [{**row, "request_type": rowops.DELETE}
                        for row in registered_form.get(field) or []
                        if rowops.key_of(row, columns) not in present]


def initial_data(session: Session, pm: pluggy.PluginManager, app: Application,
                 code: str) -> dict:
    """The saved data of form ``code``, else the pre-filled form as the workbook has it."""
    specs = form_specs(pm)
    if code not in specs:
        raise ApiError(404, "unknown_form", f"様式 {code} はありません（{', '.join(specs)}）。")
    entry = next((f for f in app.forms if f.code == code), None)
    if entry is not None:
        return entry.data
    spec = specs[code]
    if spec.layout is None:
        return {"org": app.org_id}
    org = session.get(Organisation, app.org_id)
    return form_part(session, spec, app, org, workbook_header(session, app, org),
                     selection_rows(session, app)).data


def _spec(pm: pluggy.PluginManager, code: str) -> FormSpec:
    specs = form_specs(pm)
    spec = specs.get(code)
    if spec is None:
        raise ApiError(404, "unknown_form", f"様式 {code} はありません（{', '.join(specs)}）。")
    if spec.layout is None:
        raise ApiError(404, "no_workbook", f"様式 {code} には Excel の様式がありません（JSON で提出してください）。")
    return spec


def form_workbook(session: Session, pm: pluggy.PluginManager, app: Application,
                  code: str) -> tuple[bytes, str]:
    """(.xlsx bytes, file name) of one form of ``app``."""
    spec = _spec(pm, code)
    org = session.get(Organisation, app.org_id)
    part = form_part(session, spec, app, org, workbook_header(session, app, org),
                     selection_rows(session, app) if code in SELECTION_FORMS else None)
    return workbook.write_workbook([part]), file_name(app, code)


def forms_zip(session: Session, pm: pluggy.PluginManager, app: Application
              ) -> tuple[bytes, str]:
    """(.zip bytes, file name) with every form of ``app`` that has a workbook layout."""
    org = session.get(Organisation, app.org_id)
    header = workbook_header(session, app, org)
    sel = selection_rows(session, app)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for code, spec in form_specs(pm).items():
            if spec.layout is None:
                continue
            part = form_part(session, spec, app, org, header, sel)
            zf.writestr(file_name(app, code), workbook.write_workbook([part]))
    return buf.getvalue(), f"{app.number or app.id}_様式一式.zip"


def chosen_forms_zip(session: Session, pm: pluggy.PluginManager, app: Application,
                     codes: list[str]) -> tuple[bytes, str]:
    """(.zip bytes, file name) with the workbooks of the forms ``codes`` names (each
    once, in that order): what 「保存して様式を作成」 of the selection page downloads."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for code in dict.fromkeys(codes):
            data, name = form_workbook(session, pm, app, code)
            zf.writestr(name, data)
    return buf.getvalue(), f"{app.number or app.id}_様式.zip"


def file_name(app: Application, code: str) -> str:
    return f"{app.number or app.id}_様{code}.xlsx"


def layouts(pm: pluggy.PluginManager) -> dict[str, Any]:
    """Every form's layout by code (what a workbook reader identifies forms by)."""
    return {code: spec.layout for code, spec in form_specs(pm).items()
            if spec.layout is not None}
