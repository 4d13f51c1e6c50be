"""Deadlines for applicants: intake's copy of the operator's schedule, the refusal of
acting after the end of a phase the guide closes, and the operator's late allowances.

Review owns the schedule and publishes it whole after every change
(``schedule.published``); intake keeps the newest copy (:class:`SchedulePhaseCopy`), so
the applicants' dashboard and the checks below never ask review. Dates are calendar days
in Japan: a phase is closed from the day after its ``ends_on``.

Phases that close an action (:data:`CLOSES`): ``account_request`` closes filing an
アカウント発行申請, ``connection_request`` closes the first submission of a 接続申請.
A resubmission after a 差戻し and a 変更申請 are not bound by them (the reviewers asked
for the one, the other is filed whenever something changes). An operator lets an
organisation, or one application, act late (:func:`allow`); the allowance is kept in the
application's history and the audit log, and so is every late action it lets through.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shared import audit
from shared.jst import JST
from shared.auth import Principal
from shared.db import utcnow
from shared.deadlines import notice_due
from shared.messaging import ServiceContext
from shared.web import ApiError, not_found
from services.intake.applications import history
from services.intake.models import (Application, DeadlineNotice, HistoryEntry, LateAllowance,
                                    Organisation, SchedulePhaseCopy)

# phase -> what it closes, in the words of the refusal
CLOSES = {"account_request": "アカウント発行申請の受付",
          "connection_request": "接続申請の提出"}
# application kind -> the phase that closes its (first) submission
PHASE_OF_KIND = {"account": "account_request", "connection": "connection_request"}
# the phases an applicant's dashboard shows, in the order of the year's work
APPLICANT_PHASES = ("account_request", "connection_request", "primary", "secondary")


def today() -> dt.date:
    return dt.datetime.now(JST).date()


def japanese_date(day: dt.date, label: bool = True) -> str:
    """2026年12月25日（日本時間）; without the label where a caption says it."""
    return f"{day.year}年{day.month}月{day.day}日" + ("（日本時間）" if label else "")


def store_schedule(session: Session, payload: dict) -> None:
    """Keep the newest published schedule (an older one processed late changes nothing)."""
    published = dt.datetime.fromisoformat(payload["published_at"])
    newest = session.scalar(select(func.max(SchedulePhaseCopy.published_at)))
    if newest is not None and newest > published:
        return
    for item in payload["phases"]:
        row = session.get(SchedulePhaseCopy, item["phase"])
        if row is None:
            row = SchedulePhaseCopy(phase=item["phase"])
            session.add(row)
        row.name, row.published_at = item["name"], published
        row.starts_on = dt.date.fromisoformat(item["starts_on"]) if item.get("starts_on") else None
        row.ends_on = dt.date.fromisoformat(item["ends_on"]) if item.get("ends_on") else None


def _state(row: SchedulePhaseCopy, day: dt.date) -> str:
    if row.ends_on is None:
        return "unset"
    if day > row.ends_on:
        return "closed"
    if row.starts_on is not None and day < row.starts_on:
        return "upcoming"
    return "open"


def applicant_schedule(session: Session, on: dt.date | None = None) -> dict:
    """What the applicants' dashboard shows: each applicant phase with its dates and
    state (open, upcoming, closed, unset), and the current ones (open today)."""
    day = on or today()
    rows = {r.phase: r for r in session.scalars(select(SchedulePhaseCopy))}
    phases = [{"phase": key, "name": rows[key].name, "starts_on": rows[key].starts_on,
               "ends_on": rows[key].ends_on, "state": _state(rows[key], day)}
              for key in APPLICANT_PHASES if key in rows]
    return {"today": day, "phases": phases,
            "current": [p for p in phases if p["state"] == "open"]}


def _allowance(session: Session, phase: str, org_id: str,
               application_id: int | None) -> LateAllowance | None:
    who = [LateAllowance.org_id == org_id]
    if application_id is not None:
        who.append(LateAllowance.application_id == application_id)
    return session.scalar(select(LateAllowance).where(
        LateAllowance.phase == phase, or_(*who)).order_by(LateAllowance.id.desc()).limit(1))


def check_open(session: Session, phase: str, org_id: str, application: Application | None = None,
               on: dt.date | None = None) -> LateAllowance | None:
    """None when ``phase`` is not over (or has no end set); the allowance that lets the
    organisation or application act after its end; otherwise 409 naming the phase and
    the day it ended."""
    row = session.get(SchedulePhaseCopy, phase)
    if row is None or row.ends_on is None or (on or today()) <= row.ends_on:
        return None
    allowance = _allowance(session, phase, org_id,
                           application.id if application is not None else None)
    if allowance is not None:
        return allowance
    raise ApiError(409, "phase_closed",
                   f"「{row.name}」の期間は {japanese_date(row.ends_on)} に終了しました。"
                   f"期限後の{CLOSES.get(phase, '手続')}には、運用者（総務省）の許可が必要です。",
                   details={"phase": phase, "name": row.name,
                            "ends_on": row.ends_on.isoformat()})


def note_late(session: Session, app: Application, allowance: LateAllowance,
              actor: dict | None, audit_actor: object = None) -> None:
    """A late action let through by ``allowance``: in the history (by ``actor``) and the
    audit log (by ``audit_actor``, shared.audit's caller by default)."""
    row = session.get(SchedulePhaseCopy, allowance.phase)
    name = row.name if row is not None else allowance.phase
    history(session, app, "late_accepted", actor=actor, org_id=app.org_id,
            comment=f"「{name}」の期限後ですが、運用者の許可（{allowance.id}）により受け付けました。")
    audit.record(session, "late_allowance.used", f"application:{app.id}",
                 {"number": app.number, "phase": allowance.phase, "allowance": allowance.id},
                 actor=audit_actor, subject_org=app.org_id)


def allow(session: Session, principal: Principal, *, phase: str, reason: str,
          org_id: str | None = None, application_id: int | None = None) -> LateAllowance:
    """An operator lets an organisation (``org_id``) or one application act after the
    end of ``phase``. Recorded in the audit log and in the history of the application
    (for an organisation: of its applications still being prepared)."""
    if principal.role != "operator":
        raise ApiError(403, "operators_only", "期限後の受付の許可は運用者だけが行えます。")
    if phase not in CLOSES:
        raise ApiError(422, "unknown_phase",
                       f"phase は {' / '.join(CLOSES)} のいずれかです（「{phase}」は期限で締め切る工程ではありません）。")
    if (org_id is None) == (application_id is None):
        raise ApiError(422, "org_or_application",
                       "org（機関）と application_id（申請）のどちらか一方を指定してください。")
    if not reason.strip():
        raise ApiError(422, "reason_required", "許可の理由（reason）を記入してください。")
    apps: list[Application] = []
    if application_id is not None:
        app = session.get(Application, application_id)
        if app is None:
            raise not_found("申請")
        if PHASE_OF_KIND.get(app.kind) != phase:
            raise ApiError(422, "phase_not_of_application",
                           f"申請 {app.number} の種類には工程「{phase}」の期限はありません。")
        org_id, apps = app.org_id, [app]
    else:
        if session.get(Organisation, org_id) is None:
            raise ApiError(422, "unknown_org", f"機関「{org_id}」は機関マスタにありません。")
        kinds = [k for k, p in PHASE_OF_KIND.items() if p == phase]
        apps = list(session.scalars(select(Application).where(
            Application.org_id == org_id, Application.kind.in_(kinds),
            Application.status.in_(("draft", "returned")))))
    allowance = LateAllowance(phase=phase, org_id=None if application_id else org_id,
                              application_id=application_id, reason=reason.strip(),
                              granted_by=principal.actor(), granted_at=utcnow())
    session.add(allowance)
    session.flush()
    row = session.get(SchedulePhaseCopy, phase)
    name = row.name if row is not None else phase
    for app in apps:
        history(session, app, "late_allowed", actor=principal.actor(), org_id=principal.org_id,
                comment=f"運用者が「{name}」の期限後の受付を許可しました: {allowance.reason}")
    target = f"application:{application_id}" if application_id else f"org:{org_id}"
    audit.record(session, "late_allowance.granted", target,
                 {"allowance": allowance.id, "phase": phase, "reason": allowance.reason[:200],
                  "scope": "application" if application_id else "organisation"},
                 actor=principal, subject_org=org_id)
    return allowance


def describe_allowance(a: LateAllowance) -> dict:
    return {"id": a.id, "phase": a.phase, "org": a.org_id, "application_id": a.application_id,
            "reason": a.reason, "granted_by": a.granted_by,
            "granted_at": a.granted_at.isoformat()}


def allowances(session: Session) -> list[dict]:
    """Every allowance, newest first (operators)."""
    return [describe_allowance(a) for a in session.scalars(
        select(LateAllowance).order_by(LateAllowance.id.desc()))]


def notify_unsubmitted(ctx: ServiceContext, session: Session, on: dt.date | None = None) -> int:
    """Tell the organisations whose 接続申請 was never submitted (a draft, or refused by
    the pre-submission check) that the phase ends in ``NWS_DEADLINE_NOTICE_DAYS`` days
    or has ended: one notice per application, phase and threshold (a unique row), so a
    second run or worker sends nothing. (Review tells the applicants of returned
    applications.) Returns how many notices were asked for."""
    from sqlalchemy.exc import IntegrityError

    phase = PHASE_OF_KIND["connection"]
    row = session.get(SchedulePhaseCopy, phase)
    due = notice_due(row.ends_on if row else None, on or today(),
                     ctx.settings.deadline_notice_days)
    if due is None:
        return 0
    told = select(DeadlineNotice.id).where(DeadlineNotice.application_id == Application.id,
                                           DeadlineNotice.phase == phase,
                                           DeadlineNotice.notice == due.notice)
    submitted = select(HistoryEntry.id).where(HistoryEntry.application_id == Application.id,
                                              HistoryEntry.event == "submitted")
    drafts = session.execute(select(Application.id, Application.org_id, Organisation.name)
                             .join(Organisation, Organisation.id == Application.org_id)
                             .where(Application.kind == "connection",
                                    Application.status == "draft",
                                    ~told.exists(), ~submitted.exists())).all()
    sent = 0
    for app_id, org_id, org_name in drafts:
        try:
            with session.begin_nested():
                session.add(DeadlineNotice(application_id=app_id, phase=phase,
                                           notice=due.notice))
        except IntegrityError:
            continue
        ctx.emit(session, "identity", "notification.requested", {
            "kind": due.kind, "org_id": org_id, "org_name": org_name,
            "application_id": app_id, "phase": row.name, "deadline": row.ends_on.isoformat(),
            "days_left": due.days_left, "link": f"/applicant/applications/{app_id}"})
        sent += 1
    return sent
