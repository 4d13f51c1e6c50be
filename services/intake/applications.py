"""Applications: creation, forms, submission and the status that review and master
report back. The functions run inside a transaction of the intake service."""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import pluggy
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload, selectinload

from shared import audit
from shared.auth import Principal, sees_routed
from shared.db import utcnow
from shared.forms import ERROR, Finding, FormContext
from shared.messaging import ServiceContext
from shared.pages import file_size
from shared.vocabulary import status_name
from shared.pluginmanager import form_specs
from shared.web import ApiError, not_found
from services.intake import reviewed, validation
from services.intake.models import Application, FormEntry, HistoryEntry, Organisation

log = logging.getLogger(__name__)

EDITABLE = ("draft", "returned")
# Statuses from which the applicant may withdraw: anything before the final decision.
WITHDRAWABLE = ("draft", "returned", "validating", "submitted", "forwarding",
                "primary_review", "secondary_review")
# Order of the statuses that other services report within one round: a late or repeated
# report never moves an application backwards.
RANK = {"validating": 0, "submitted": 1, "forwarding": 2, "primary_review": 3,
        "secondary_review": 4, "returned": 5, "approved": 5, "registered": 6}


def org_of(session: Session, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise ApiError(404, "unknown_org", f"機関 {org_id} は機関マスタに登録されていません。")
    return org


def history(session: Session, app: Application, event: str, *, actor: dict | None = None,
            comment: str | None = None, org_id: str | None = None,
            at: dt.datetime | None = None) -> None:
    session.add(HistoryEntry(application=app, round=app.round, event=event,
                             status=app.status, stage=app.stage, actor=actor, org_id=org_id,
                             comment=comment, at=at or utcnow()))


def record(session: Session, app: Application, action: str, detail: dict | None = None, *,
           actor: Any = None) -> None:
    """An entry of intake's audit log about ``app`` (shared.audit: by the caller of the
    request unless ``actor`` says otherwise, from its address)."""
    audit.record(session, action, f"application:{app.id}",
                 {"number": app.number, **(detail or {})}, actor=actor,
                 subject_org=app.org_id)


KINDS = ("connection", "change")


def create_application(session: Session, principal: Principal, kind: str) -> Application:
    """A new draft of ``kind`` (接続申請 or 変更申請) for the caller's organisation."""
    from services.intake import registered

    if kind not in KINDS:
        raise ApiError(422, "validation_failed", "申請の種類は接続申請または変更申請を選んでください。")
    org = org_of(session, principal.org_id)
    if not org.can_apply:
        raise ApiError(403, "org_cannot_apply", f"{org.name} は申請できない機関です。")
    registered.check_can_open(session, org, kind)
    app = Application(org_id=org.id, kind=kind, status="draft", round=0,
                      created_by=principal.login, findings=[])
    session.add(app)
    session.flush()
    app.number = f"{utcnow():%Y}-{app.id:06d}"
    history(session, app, "created", actor=principal.actor(), org_id=org.id)
    record(session, app, "application.created", {"kind": kind}, actor=principal)
    if kind == "change":
        registered.start_change(session, app, principal.actor())
    return app


def get_owned(session: Session, principal: Principal, app_id: int, *,
              for_update: bool = False, form_data: bool = True) -> Application:
    """The application if the caller's organisation owns it; 404 otherwise (another
    organisation's ids are indistinguishable from ids that do not exist). Without
    ``form_data`` the forms' contents are left unread until asked for (what
    :func:`describe` shows needs only their status and findings)."""
    app = _load(session, app_id, for_update, form_data)
    if app is None or not owns(principal, app):
        raise not_found("申請")
    return app


def _load(session: Session, app_id: int, for_update: bool,
          form_data: bool = True) -> Application | None:
    stmt = select(Application).where(Application.id == app_id)
    if not form_data:
        stmt = stmt.options(selectinload(Application.forms).defer(FormEntry.data))
    return session.scalar(stmt.with_for_update() if for_update else stmt)


# what a list of applications shows: the forms and history (selectin on the entity)
# and the large columns stay unread
LIST_COLUMNS = (Application.id, Application.number, Application.kind, Application.status,
                Application.round, Application.updated_at)


def list_of_org(session: Session, org_id: str, *, account_requests: bool = True) -> list[dict]:
    """The organisation's applications, newest first (the API's list and the applicant's
    dashboard): one indexed query of the columns a list shows. Without
    ``account_requests`` the account requests (kind ``account``) are left out."""
    stmt = select(*LIST_COLUMNS).where(Application.org_id == org_id)
    if not account_requests:
        stmt = stmt.where(Application.kind != "account")
    return [{"id": r.id, "number": r.number, "kind": r.kind, "status": r.status,
             "round": r.round, "updated_at": r.updated_at}
            for r in session.execute(stmt.order_by(Application.id.desc()))]


def owns(principal: Principal, app: Application) -> bool:
    """The caller is an applicant account of the organisation the application is of."""
    return app.org_id == principal.org_id and principal.role == "applicant"


def get_readable(session: Session, principal: Principal, app_id: int) -> Application:
    """The application for reading if the caller is an account of its organisation (any
    role), or sees it under review (the case's forwarder and reviewers this round,
    operators: ``shared.auth.sees_routed`` on the routes review reported); 404
    otherwise, as for ids that do not exist. Changing it stays the applicants'
    (:func:`get_owned`)."""
    app = _load(session, app_id, False)
    if app is None or not (app.org_id == principal.org_id or (
            app.kind != "account" and sees_routed(principal, (app.routes or {}).values()))):
        raise not_found("申請")
    return app


REVIEWER_ROLES = ("forwarder", "primary_reviewer", "secondary_reviewer")
# who may read an application's workbooks (get_readable says which application)
WORKBOOK_READERS = ("applicant", *REVIEWER_ROLES, "operator")


# history events that name a reviewing organisation (routed to it, or decided by it)
REVIEW_EVENTS = ("routed", "rerouted", "forwarding_approved", "forwarding_rejected",
                 "primary_approved", "primary_rejected", "secondary_approved",
                 "secondary_rejected")


def lock_application(session: Session, app_id: int) -> Application | None:
    """The application, its row locked until the transaction ends (SELECT … FOR UPDATE on
    PostgreSQL; SQLite's write transactions are serial anyway), read afresh.

    Every task that changes an application takes it this way: two intake workers applying
    reports about one application at once (say 総務省's 承認 and the master's 登録) would
    otherwise both read the old status and the later commit would write over the earlier
    one — a lost update the load test (bench/load_burst.py) found with two workers.

    Its forms and history are read when first used (:data:`ON_USE`), under the lock: a
    status report, most of what takes this lock, needs neither, and reading every form's
    data and every history entry with each report was the largest share of the intake
    worker's CPU in the burst (bench/README.md, "Load burst")."""
    return session.scalar(select(Application).where(Application.id == app_id)
                          .with_for_update().options(*ON_USE)
                          .execution_options(populate_existing=True))


# Options that leave an application's forms and history unread until they are used (the
# model loads both with it, "selectin", for the pages that show them); adding a history
# entry does not read the history.
ON_USE = (lazyload(Application.forms), lazyload(Application.history))


def submit_refusal(app: Application) -> str | None:
    """Why ``app`` cannot be submitted now (its status), None when it can."""
    if app.status in EDITABLE:
        return None
    return (f"申請は現在「{status_name(app.status)}」のため提出できません"
            "（下書きまたは差戻しの申請のみ提出できます）。")


def withdrawal_refusal(app: Application) -> str | None:
    """Why ``app`` cannot be withdrawn now (its status), None when it can."""
    if app.status in WITHDRAWABLE:
        return None
    return (f"申請は現在「{status_name(app.status)}」のため取り下げできません"
            "（審査の完了前のみ取り下げできます）。")


def id_of_number(session: Session, number: str) -> int:
    """The id of the application numbered ``number`` (申請番号); 422 when there is none."""
    app_id = session.scalar(select(Application.id).where(Application.number == number))
    if app_id is None:
        raise ApiError(422, "unknown_number", f"申請番号「{number}」の申請はありません。")
    return app_id


def numbers_of(session: Session, ids) -> dict[int, str]:
    """Application id -> 申請番号 for ``ids`` (one query)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {a.id: a.number for a in session.execute(
        select(Application.id, Application.number).where(Application.id.in_(wanted)))}


def save_selection(session: Session, principal: Principal, app: Application,
                   body: Any) -> None:
    """Store the applicant's 申請前情報選択 (``selection.save_selection``: 422 with each
    problem) while ``app`` is editable (409), and record it in the history."""
    from services.intake import selection

    require_editable(app)
    selection.save_selection(session, app, principal.actor(), body)
    history(session, app, "selection_saved", actor=principal.actor(), org_id=principal.org_id)


def require_editable(app: Application) -> None:
    if app.status not in EDITABLE:
        raise ApiError(409, "not_editable",
                       f"申請は現在「{status_name(app.status)}」のため変更できません（下書きまたは差戻しの申請のみ変更できます）。")


def put_form(ctx: ServiceContext, pm: pluggy.PluginManager, session: Session,
             principal: Principal, app: Application, code: str, data: Any) -> FormEntry:
    specs = form_specs(pm)
    if code not in specs:
        raise ApiError(404, "unknown_form", f"様式 {code} はありません（{', '.join(specs)}）。")
    require_editable(app)
    if not isinstance(data, dict):
        raise ApiError(422, "validation_failed", "様式のデータは JSON オブジェクトで送ってください。")
    _, schema_errors = validation.load_form(specs[code], data)
    if schema_errors:
        raise ApiError(422, "validation_failed", f"様{code}の入力内容に誤りがあります。",
                       findings=[f.as_dict() for f in schema_errors])
    waiting = validation_waiting(app)
    entry = store_form_data(session, app, code, data, source="json")
    history(session, app, "form_saved", actor=principal.actor(), org_id=principal.org_id,
            comment=f"様{code}")
    record(session, app, "application.form_saved", {"form": code, "revision": entry.revision},
           actor=principal)
    session.flush()
    request_validation(ctx, session, app, [entry], waiting=waiting)
    return entry


def validation_waiting(app: Application) -> bool:
    """Whether a form of ``app`` already waits for validation: then a validation request
    is pending for the application (see :func:`request_validation`)."""
    return any(f.status == "validating" for f in app.forms)


def request_validation(ctx: ServiceContext, session: Session, app: Application,
                       entries: list[FormEntry], *, waiting: bool) -> None:
    """Have ``entries`` (forms of ``app``, locked) validated: each waits for validation,
    and one request (``form.validation_requested`` v2) is sent unless one is pending
    already, which ``waiting`` (:func:`validation_waiting`, read before these forms were
    changed) tells. One request validates every form waiting when it is handled, so a
    clerk saving form after form sends one message, not one per form; a form saved after
    the handler read the forms is caught by :func:`write_form_findings`, which sends the
    next request while any form still waits."""
    for entry in entries:
        entry.status, entry.findings = "validating", []
    if entries and not waiting:
        _send_validation_request(ctx, session, app.id)


def _send_validation_request(ctx: ServiceContext, session: Session, app_id: int) -> None:
    ctx.emit(session, "intake", "form.validation_requested", {"application_id": app_id},
             version=2)


def form_context(session: Session, app: Application) -> FormContext:
    """What validators see besides the form: the other forms, the attachments (by their
    添付資料ID) and the effective selection (None when no catalog is loaded)."""
    from services.intake import registered, selection, uploads

    org = org_of(session, app.org_id)
    try:
        sel = selection.effective_rows(session, app)
    except ApiError:
        sel = None
    return FormContext(application={"id": app.id, "kind": app.kind, "org_id": app.org_id,
                                    "catalog_version": app.catalog_version},
                       org=org.as_ref(), forms={f.code: f.data for f in app.forms},
                       attachments=uploads.attachment_refs(session, app.id), selection=sel,
                       registered=registered.registered_forms(session, app.org_id))


def store_form_data(session: Session, app: Application, code: str, data: dict, *,
                    source: str) -> FormEntry:
    """Save ``data`` as form ``code`` of ``app`` (a new revision), status validating;
    the caller validates it (a form read from a workbook is validated where it is read,
    so that its findings keep their sheet and cell)."""
    entry = next((f for f in app.forms if f.code == code), None)
    if entry is None:
        entry = FormEntry(application=app, code=code, data=data, revision=1)
        session.add(entry)
    else:
        entry.data, entry.revision = data, entry.revision + 1
    entry.status, entry.findings, entry.source = "validating", [], source
    return entry


def set_form_findings(app: Application, code: str, findings: list[Finding]) -> None:
    entry = next(f for f in app.forms if f.code == code)
    entry.findings = [f.as_dict() for f in findings]
    entry.status = "invalid" if validation.has_errors(findings) else "valid"


# Validation runs in three steps (shared.messaging.Staged): read the forms waiting for
# validation and what the validators need in a short transaction, run the plugins with no
# transaction open (a slow plugin holds nothing: other organisations' requests go on),
# then write each form's findings only if the form (its revision) is still what was
# validated. A request (v1 named one form; v2 names none) validates every form of the
# application that waits when it is read.


def _waiting_forms(session: Session, app_id: int) -> list[FormEntry]:
    return list(session.scalars(select(FormEntry).where(
        FormEntry.application_id == app_id, FormEntry.status == "validating")
        .order_by(FormEntry.code)))


def read_form_for_validation(ctx: ServiceContext, session: Session,
                             payload: dict) -> dict | None:
    waiting = _waiting_forms(session, payload["application_id"])
    if not waiting:
        return None  # validated already (by an earlier request)
    return {"application_id": payload["application_id"],
            "forms": [{"code": e.code, "revision": e.revision, "data": e.data}
                      for e in waiting],
            "context": form_context(session, session.scalar(
                select(Application).where(Application.id == payload["application_id"])
                .options(*ON_USE)))}


def run_form_validators(ctx: ServiceContext, snapshot: dict) -> dict[str, list[Finding]]:
    """Each waiting form's findings, by form code."""
    return {form["code"]: _validate_one(ctx, snapshot, form) for form in snapshot["forms"]}


def _validate_one(ctx: ServiceContext, snapshot: dict, form: dict) -> list[Finding]:
    code = form["code"]
    try:
        return validation.validate_form(ctx.plugins, code, form["data"], snapshot["context"])
    except Exception:  # a validator bug must not leave the form validating for ever
        log.exception("validators of %s failed on application %s", code,
                      snapshot["application_id"])
        return [Finding("form.validation_crashed", ERROR, code,
                        f"様{code}の検証中に問題が発生しました。内容を確認して再度保存してください。")]


def write_form_findings(ctx: ServiceContext, session: Session, payload: dict, envelope: dict,
                        snapshot: dict, findings: dict[str, list[Finding]]) -> None:
    # Locked first, as put_form locks it: a new revision cannot land between checking
    # these and writing their findings.
    app_id = payload["application_id"]
    if lock_application(session, app_id) is None:
        return
    validated = {f["code"]: f["revision"] for f in snapshot["forms"]}
    still_waiting = False
    for entry in _waiting_forms(session, app_id):
        if validated.get(entry.code) != entry.revision:
            # saved (again) after the forms were read: its findings would be stale
            log.info("form %s revision %s of application %s is validated by the next "
                     "request", entry.code, entry.revision, app_id)
            still_waiting = True
            continue
        found = findings[entry.code]
        entry.findings = [f.as_dict() for f in found]
        entry.status = "invalid" if validation.has_errors(found) else "valid"
    if still_waiting:   # nobody else sends it: a save while one is pending sends none
        _send_validation_request(ctx, session, app_id)


def submit(ctx: ServiceContext, pm: pluggy.PluginManager, session: Session,
           principal: Principal, app: Application) -> None:
    from services.intake import deadlines

    require_editable(app)
    late = None
    if app.kind in deadlines.PHASE_OF_KIND and not any(
            h.event == "submitted" for h in app.history):
        # until the application first reached review (a submission refused by the
        # pre-submission check does not count), within the phase or allowed after it
        late = deadlines.check_open(session, deadlines.PHASE_OF_KIND[app.kind], app.org_id, app)
    blocking = submission_blockers(session, pm, app)
    if blocking:
        raise ApiError(422, "submission_blocked", "提出できません。指摘事項を修正してください。",
                       findings=blocking)
    app.round += 1
    app.status, app.stage, app.findings, app.routes = "validating", None, [], {}
    history(session, app, "submit_requested", actor=principal.actor(), org_id=principal.org_id,
            comment=submission_summary(session, app))
    if late is not None:
        deadlines.note_late(session, app, late, principal.actor(), principal)
    record(session, app, "application.submitted", {"round": app.round, "kind": app.kind},
           actor=principal)
    session.flush()
    ctx.emit(session, "intake", "application.validation_requested",
             {"application_id": app.id, "round": app.round, "actor": principal.actor()})


def submission_blockers(session: Session, pm: pluggy.PluginManager,
                        app: Application) -> list[dict]:
    """What stops ``app`` from being submitted now (findings of severity error: a
    required form missing, a form still being validated or with errors, an upload being
    read); empty when it may be submitted. :func:`submit` refuses on these, and the
    submission's 確認画面 shows them before the applicant presses 「提出する」."""
    from services.intake import uploads

    blocking: list[dict] = []
    present = {f.code: f for f in app.forms}
    if app.kind == "change" and not present:
        blocking.append(Finding("application.change_empty", ERROR, "forms",
                                "変更申請には、変更する様式を 1 つ以上含めてください。").as_dict())
    org = org_of(session, app.org_id)
    faults: list[Finding] = []
    for code in validation.required_codes(pm, app.kind, org.as_ref(), faults):
        if code not in present:
            blocking.append(Finding("application.form_missing", ERROR, code,
                                    f"様{code}が提出されていません。").as_dict())
    blocking.extend(f.as_dict() for f in faults)
    if uploads.pending(session, app.id):
        blocking.append(Finding("application.upload_processing", ERROR, "uploads",
                                "アップロードしたファイルを処理中です。しばらくしてから提出してください。").as_dict())
    for code, entry in present.items():
        if entry.status == "validating":
            blocking.append(Finding("application.form_validating", ERROR, code,
                                    f"様{code}は検証中です。しばらくしてから提出してください。").as_dict())
        blocking.extend(f for f in entry.findings if f["severity"] == ERROR)
    return blocking


def submission_summary(session: Session, app: Application) -> str:
    """What a submission sends, in one Japanese line kept in its history entry (the
    receipt shows it): each form with its revision, and the attachments."""
    from services.intake import uploads

    forms = "、".join(f"様{f.code}（第{f.revision}版）" for f in sorted(app.forms, key=lambda f: f.code))
    count, size = uploads.usage(session, app.id)
    text = f"様式 {len(app.forms)} 件: {forms or 'なし'}"
    total = file_size(size)
    return text + (f" ／ 添付資料 {count} 件（合計 {total}）" if count else " ／ 添付資料なし")


OUTCOME_NAMES = {"validating": "提出前の検証中", "accepted": "受付済（審査へ回りました）",
                 "refused": "提出前の検証で誤りが見つかり、受け付けられませんでした",
                 "withdrawn": "取下げ"}


def submission_receipts(app: Application) -> list[dict]:
    """Every submission of ``app`` (its 「提出」 history entries), oldest first, numbered
    from 1 (``no``: the receipt's number; a refused submission keeps its own), with how
    it ended: ``validating`` (the pre-submission check is running), ``accepted`` (it
    reached review), ``refused`` (the whole-application check found errors; the
    application went back to the applicant) or ``withdrawn``."""
    rows = sorted(app.history, key=lambda h: (h.at, h.id or 0))
    out = []
    for i, h in enumerate(rows):
        if h.event != "submit_requested":
            continue
        outcome, ended_at = "validating", None
        for later in rows[i + 1:]:
            if later.event == "submit_requested":
                break
            end = {"submitted": "accepted", "validation_failed": "refused",
                   "withdrawn": "withdrawn"}.get(later.event)
            if end is not None:   # (a refusal is recorded with the round put back)
                outcome, ended_at = end, later.at
                break
        out.append({"no": len(out) + 1, "id": h.id, "round": h.round, "at": h.at, "actor": h.actor or {},
                    "contents": h.comment or "", "outcome": outcome,
                    "outcome_name": OUTCOME_NAMES[outcome], "ended_at": ended_at})
    return out


def receipt(app: Application, no: int) -> dict:
    """The ``no``-th submission of :func:`submission_receipts` (1 the first; 404 for a
    number that has none)."""
    found = next((r for r in submission_receipts(app) if r["no"] == no), None)
    if found is None:
        raise not_found("受付票")
    return found


def refused_findings(app: Application) -> list[dict] | None:
    """When the application's last submission was refused by the whole-application
    check (and nothing was submitted since), the blocking findings of that check, each
    with its ``form`` code (None: about the application as a whole) and ``field`` path
    (dotted, None when the finding names a whole form); else None."""
    done = submission_receipts(app)
    if app.status not in EDITABLE or not done or done[-1]["outcome"] != "refused":
        return None
    out = [{**f, **locate(f["location"])} for f in app.findings or []
           if f.get("severity") == ERROR]
    for entry in sorted(app.forms, key=lambda f: f.code):
        out.extend({**f, "form": entry.code, "field": field_path(f["location"])}
                   for f in entry.findings or [] if f.get("severity") == ERROR)
    return out


def field_path(location: str | None) -> str | None:
    """A finding's location as the dotted path a form page's input is named by
    (``query_affairs[0].pia`` → ``query_affairs.0.pia``)."""
    text = (location or "").strip()
    if not text:
        return None
    return text.replace("[", ".").replace("]", "").strip(".") or None


def locate(location: str | None) -> dict:
    """{"form", "field"} of a whole-application finding: ``02-06.reporter`` → form
    02-06, field reporter; ``03-06`` → form 03-06; ``application`` → neither."""
    m = re.match(r"^(\d\d-\d\d)(?:\.(.+))?$", (location or "").strip())
    if m is None:
        return {"form": None, "field": None}
    return {"form": m.group(1), "field": field_path(m.group(2))}


def read_application_for_validation(ctx: ServiceContext, session: Session,
                                    payload: dict) -> dict | None:
    app = session.get(Application, payload["application_id"], options=ON_USE)
    if app is None or app.status != "validating" or app.round != payload["round"]:
        return None
    return {"application": {"id": app.id, "kind": app.kind, "org_id": app.org_id},
            "forms": {f.code: f.data for f in app.forms},
            "revisions": {f.code: f.revision for f in app.forms},
            "context": form_context(session, app)}


def run_application_validators(ctx: ServiceContext, snapshot: dict):
    return validation.validate_application(ctx.plugins, snapshot["application"],
                                           snapshot["forms"], snapshot["context"])


def write_application_findings(ctx: ServiceContext, session: Session, payload: dict,
                               envelope: dict, snapshot: dict, result) -> None:
    per_form, overall = result
    pm = ctx.plugins
    app = lock_application(session, payload["application_id"])
    if app is None or app.status != "validating" or app.round != payload["round"] \
            or {f.code: f.revision for f in app.forms} != snapshot["revisions"]:
        log.info("validation of application %s round %s discarded: the application "
                 "changed while it was validated", payload["application_id"], payload["round"])
        return
    forms = snapshot["forms"]
    for entry in app.forms:
        found = per_form.get(entry.code, [])
        entry.findings = [f.as_dict() for f in found]
        # a whole-application finding located in the form (e.g. 02-06.reporter) makes
        # it 誤りあり too: the form list never says 誤りなし of a form the check refused
        located = [f for f in overall if locate(f.location)["form"] == entry.code]
        entry.status = "invalid" if validation.has_errors([*found, *located]) else "valid"
    app.findings = [f.as_dict() for f in overall]
    if validation.has_errors(overall) or any(validation.has_errors(v) for v in per_form.values()):
        app.round -= 1
        app.status = "returned" if app.round > 0 else "draft"
        history(session, app, "validation_failed", comment="提出前の検証で誤りが見つかりました。")
        return
    app.status, app.submitted_at = "submitted", utcnow()
    history(session, app, "submitted", actor=payload["actor"])
    from services.intake import uploads

    org = org_of(session, app.org_id).as_ref()
    ctx.emit(session, "review", "application.submitted", {
        "application_id": app.id, "number": app.number, "kind": app.kind, "round": app.round,
        "org": org, "catalog_version": app.catalog_version,
        "submitted_at": app.submitted_at.isoformat(), "submitted_by": payload["actor"],
        "forms": forms, "findings": app.findings,
        "attachments": uploads.list_attachments(pm, session, app)})
    from services.intake import registered, registry

    delegations, supersedes = registered.delegations_of(pm, session, app, forms)
    named = registry.names_of(session, registered.organisations_named(delegations))
    ctx.emit(session, "matching", "delegations.submitted", {
        "application_id": app.id, "round": app.round, "org_id": app.org_id,
        "query_delegations": delegations.get("query_delegations", []),
        "provision_delegations": delegations.get("provision_delegations", []),
        "provision_acceptances": delegations.get("provision_acceptances", []),
        "supersedes": supersedes, "number": app.number, "org_name": org["name"],
        "org_names": {code: o.name for code, o in sorted(named.items())}})


# Statuses in which review owns the application: a withdrawal is a request that review
# decides, serialised with the reviewers' decisions on the case row.
UNDER_REVIEW = ("submitted", "forwarding", "primary_review", "secondary_review")


# The longest reason an applicant may give for a withdrawal (kept in the history).
WITHDRAW_REASON_MAX = 1000


def check_withdrawal_reason(reason: str | None) -> str | None:
    """The withdrawal's reason, trimmed (None when empty); 422 ``reason_too_long``
    (``field`` "reason") when longer than :data:`WITHDRAW_REASON_MAX` characters."""
    text = (reason or "").strip()
    if len(text) > WITHDRAW_REASON_MAX:
        raise ApiError(422, "reason_too_long",
                       f"取下げの理由は {WITHDRAW_REASON_MAX:,} 文字以内で入力してください（現在 {len(text):,} 文字）。",
                       details={"field": "reason", "max_length": WITHDRAW_REASON_MAX})
    return text or None


def withdraw(ctx: ServiceContext, session: Session, principal: Principal,
             app: Application, reason: str = "") -> bool:
    """The applicant withdraws before the final decision. The service that owns the
    application decides: intake while it is a draft, returned or being validated (the
    application is withdrawn at once), review once it was submitted (a request is sent;
    review withdraws the case unless a decision closed it first, and reports back).
    Returns True when the application is withdrawn now, False when it was requested."""
    refusal = withdrawal_refusal(app)
    if refusal is not None:
        raise ApiError(409, "not_withdrawable", refusal)
    comment = check_withdrawal_reason(reason)
    actor = principal.actor()
    if app.status in UNDER_REVIEW:
        if app.withdrawal_requested_at is not None:
            raise ApiError(409, "withdrawal_pending",
                           "この申請の取下げは既に依頼済みです。審査機関での処理をお待ちください。")
        app.withdrawal_requested_at = utcnow()
        history(session, app, "withdrawal_requested", actor=actor, org_id=principal.org_id,
                comment=comment)
        record(session, app, "application.withdrawal_requested",
               {"round": app.round, "status": app.status, "reason": (comment or "")[:200]},
               actor=principal)
        ctx.emit(session, "review", "application.withdrawn", {
            "application_id": app.id, "round": app.round, "actor": actor,
            "at": utcnow().isoformat(), "reason": comment})
        return False
    was_reviewed = app.round > 0
    record(session, app, "application.withdrawn",
           {"round": app.round, "status": app.status, "reason": (comment or "")[:200]},
           actor=principal)
    _withdrawn(ctx, session, app, actor=actor, org_id=principal.org_id, comment=comment)
    if was_reviewed:  # review keeps the request on record (its case is closed already)
        ctx.emit(session, "review", "application.withdrawn", {
            "application_id": app.id, "round": app.round, "actor": actor,
            "at": utcnow().isoformat(), "reason": comment})
    return True


def _withdrawn(ctx: ServiceContext, session: Session, app: Application, *,
               actor: dict | None, org_id: str | None, comment: str | None,
               at: dt.datetime | None = None, event: str = "withdrawn") -> None:
    app.status, app.stage, app.reviewer_org_id = "withdrawn", None, None
    app.withdrawal_requested_at = None
    history(session, app, event, actor=actor, org_id=org_id, comment=comment, at=at)
    if app.round > 0:
        ctx.emit(session, "matching", "delegations.withdrawn",
                 {"application_id": app.id, "org_id": app.org_id})


def apply_status_change(ctx: ServiceContext, session: Session, payload: dict,
                        pm: pluggy.PluginManager | None = None) -> None:
    """A report from review or master. History always; status only forwards.

    Review reports the outcome of a withdrawal request: ``withdrawn`` (the case was
    closed), or the event ``withdrawal_refused`` (a final approval came first)."""
    app = lock_application(session, payload["application_id"])
    if app is None:
        return
    at = dt.datetime.fromisoformat(payload["at"])
    if payload.get("decision"):
        reviewed.store_decision(session, app, payload["round"], payload["decision"])
    current = payload["round"] == app.round and app.status != "withdrawn"
    if current and payload["status"] == "withdrawn":
        if app.status not in ("approved", "registered"):
            actor = payload.get("actor")
            record(session, app, "application.withdrawn",
                   {"round": app.round, "status": app.status, "decided_by": "review"},
                   actor={**actor, "role": "applicant"} if actor else None)
            _withdrawn(ctx, session, app, actor=payload.get("actor"),
                       org_id=(payload.get("actor") or {}).get("org_id"),
                       comment=payload.get("comment"), at=at)
        return
    if current and payload["event"] == "withdrawal_refused":
        app.withdrawal_requested_at = None
    if app.status == "withdrawn" and payload["status"] == "withdrawn":
        return   # review confirming a withdrawal intake made itself
    if current and payload.get("stage") and payload.get("reviewer_org_id"):
        app.routes = {**(app.routes or {}), payload["stage"]: payload["reviewer_org_id"]}
    if current and (RANK.get(payload["status"], -1) > RANK.get(app.status, -1)):
        app.status = payload["status"]
        app.stage = payload.get("stage")
        app.reviewer_org_id = payload.get("reviewer_org_id")
        if payload.get("master_version") is not None:
            app.master_version = payload["master_version"]
        if app.status == "registered" and pm is not None:
            from services.intake import registered

            registered.record_registration(pm, session, app, app.master_version)
    session.add(HistoryEntry(application=app, round=payload["round"], event=payload["event"],
                             status=payload["status"], stage=payload.get("stage"),
                             actor=payload.get("actor"),
                             org_id=(payload.get("actor") or {}).get("org_id")
                             or payload.get("reviewer_org_id"),
                             comment=payload.get("comment"), at=at))


def describe(app: Application, ctx: ServiceContext | None = None) -> dict:
    """The application as its owner sees it; ``processing_problem`` when a message about
    it became a dead letter (an operator has to act: nws dead-letters)."""
    from sqlalchemy.orm import object_session

    from services.intake import uploads

    session = object_session(app)
    problem = ctx.has_dead_letter(session, app.id) if ctx is not None else False
    return {**_describe(app), **uploads.describe(session, app.id),
            "processing_problem": problem}


def _describe(app: Application) -> dict:
    return {
        "id": app.id, "number": app.number, "kind": app.kind, "org": app.org_id,
        "status": app.status, "round": app.round, "stage": app.stage,
        "withdrawal_requested": app.withdrawal_requested_at is not None,
        "catalog_version": app.catalog_version, "master_version": app.master_version,
        "forms": {f.code: {"status": f.status, "revision": f.revision, "findings": f.findings}
                  for f in app.forms},
        "findings": app.findings,
        "history": [{"at": h.at.isoformat(), "round": h.round, "event": h.event,
                     "status": h.status, "stage": h.stage, "org_id": h.org_id,
                     "actor": h.actor, "comment": h.comment} for h in app.history],
    }


def plugin_faults(session: Session, limit: int = 200) -> list[dict]:
    """Forms and applications that currently carry a plugin's fault finding (the
    applicant cannot submit until an operator fixed or disabled the plugin), for
    ``nws status``: {application_id, number, where ("様CODE" | "application"), plugins}."""
    from sqlalchemy import Text, cast

    from shared.forms import PLUGIN_FAULT_RULE

    def plugins_of(findings) -> list[str]:
        return sorted({f.get("plugin") or "?" for f in findings or ()
                       if f.get("rule") == PLUGIN_FAULT_RULE})

    out = []
    forms = session.execute(select(FormEntry.application_id, Application.number,
                                   FormEntry.code, FormEntry.findings)
                            .join(Application, Application.id == FormEntry.application_id)
                            .where(cast(FormEntry.findings, Text).like(f"%{PLUGIN_FAULT_RULE}%"))
                            .order_by(FormEntry.application_id).limit(limit))
    for app_id, number, code, findings in forms:
        if names := plugins_of(findings):
            out.append({"application_id": app_id, "number": number, "where": f"様{code}",
                        "plugins": names})
    apps = session.execute(select(Application.id, Application.number, Application.findings)
                           .where(cast(Application.findings, Text).like(f"%{PLUGIN_FAULT_RULE}%"))
                           .order_by(Application.id).limit(limit))
    for app_id, number, findings in apps:
        if names := plugins_of(findings):
            out.append({"application_id": app_id, "number": number, "where": "application",
                        "plugins": names})
    return out
