"""Review cases: receiving a submission, routing it stage by stage, decisions."""
from __future__ import annotations

import datetime as dt

import pluggy
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.auth import Principal
from shared.db import advisory_xact_lock, utcnow
from shared.messaging import ServiceContext
from shared.web import ApiError, not_found
from services.review import schedule, webhooks
from services.review.models import Decision, MatchingSnapshot, Reminder, ReviewCase, ReviewEvent
from services.review.routing import ROLE_OF, STATUS_OF, next_stage

RESULTS = ("承認", "否認")
WAITING = tuple(STATUS_OF.values())
REVIEWER_ROLES = ("forwarder", "primary_reviewer", "secondary_reviewer")


def _application(case: ReviewCase) -> dict:
    """The application as routing plugins see it."""
    return {"id": case.application_id, "number": case.number, "kind": case.kind,
            "round": case.round, "org": case.org, "forms": case.forms}


def _hook_data(case: ReviewCase) -> dict:
    """A case as webhook payloads carry it."""
    return {"application_id": case.application_id, "number": case.number,
            "kind": case.kind, "round": case.round, "org_id": case.org_id,
            "org_name": case.org.get("name"), "status": case.status, "stage": case.stage,
            "reviewer_org_id": case.reviewer_org_id}


def _involved(case: ReviewCase) -> set[str]:
    """Every reviewing organisation the case was routed to this round."""
    return {r["org_id"] for r in case.routes.values() if r.get("org_id")}


def _report(ctx: ServiceContext, session: Session, case: ReviewCase, event: str, *,
            actor: dict | None = None, comment: str | None = None) -> None:
    """Record ``event`` in review's own history and tell intake (the applicant's side)."""
    session.add(ReviewEvent(application_id=case.application_id, round=case.round,
                            event=event, status=case.status, stage=case.stage,
                            org_id=(actor or {}).get("org_id") or case.reviewer_org_id,
                            actor=actor, comment=comment, at=utcnow()))
    ctx.emit(session, "intake", "application.status_changed", {
        "application_id": case.application_id, "round": case.round, "status": case.status,
        "event": event, "stage": case.stage, "reviewer_org_id": case.reviewer_org_id,
        "actor": actor, "comment": comment, "at": utcnow().isoformat()})


def _advance(ctx: ServiceContext, session: Session, case: ReviewCase,
             after: str | None) -> None:
    """Move the case to the next stage that has a reviewer, or approve it."""
    nxt = next_stage(ctx.plugins, _application(case), after)
    if nxt is None:
        case.status, case.stage, case.reviewer_org_id = "approved", None, None
        return
    stage, route = nxt
    case.status, case.stage, case.reviewer_org_id = STATUS_OF[stage], stage, route.org_id
    case.stage_started_at = utcnow()
    case.routes = {**case.routes, stage: {"org_id": route.org_id, "reason": route.reason}}


# Namespace of the per-application advisory lock of the review tasks ("nwsr").
APPLICATION_LOCK = 0x6E777372


def take_application(session: Session, application_id: int) -> None:
    """Tasks about one application take turns. With several review workers a submission
    and the withdrawal that follows it can run at the same moment, and neither sees the
    other's uncommitted case or event: the withdrawal would find no case, then the
    submission would open one that stays under review. On PostgreSQL a
    transaction-scoped advisory lock per application serialises them (there may be no
    case row to lock yet); SQLite already admits one writer at a time."""
    advisory_xact_lock(session, APPLICATION_LOCK, application_id)


def receive_submission(ctx: ServiceContext, session: Session, payload: dict) -> None:
    take_application(session, payload["application_id"])
    exists = session.scalar(select(ReviewCase.id).where(
        ReviewCase.application_id == payload["application_id"],
        ReviewCase.round == payload["round"]))
    if exists is not None:
        return
    if session.scalar(select(ReviewEvent.id).where(
            ReviewEvent.application_id == payload["application_id"],
            ReviewEvent.round == payload["round"],
            ReviewEvent.event == "withdrawal_received").limit(1)) is not None:
        # The withdrawal of this round was processed first (no case existed then):
        # there is nothing left to review.
        return
    org = payload["org"]
    case = ReviewCase(
        application_id=payload["application_id"], round=payload["round"],
        number=payload["number"], kind=payload["kind"], org=org, org_id=org["id"],
        prefecture_code=org.get("prefecture_code"), status="received",
        catalog_version=payload.get("catalog_version"), forms=payload["forms"],
        findings=payload.get("findings", []), submitted_by=payload["submitted_by"],
        submitted_at=dt.datetime.fromisoformat(payload["submitted_at"]), routes={})
    session.add(case)
    _advance(ctx, session, case, None)
    session.flush()
    _report(ctx, session, case, "routed")
    if payload["round"] > 1:
        previous = session.scalar(select(ReviewCase).where(
            ReviewCase.application_id == case.application_id,
            ReviewCase.round < case.round).order_by(ReviewCase.round.desc()).limit(1))
        if previous is not None:
            webhooks.notify(ctx, session, "resubmitted", _involved(previous), _hook_data(case))
    _notify_routed(ctx, session, case)


def _notify_routed(ctx: ServiceContext, session: Session, case: ReviewCase) -> None:
    if case.status in WAITING:
        webhooks.notify(ctx, session, "routed", {case.reviewer_org_id}, _hook_data(case))


def store_matching(session: Session, payload: dict) -> None:
    # Locked and read afresh: two results for one application processed at once by two
    # workers would otherwise both pass the round check against the old row, and an
    # older round committed last would overwrite a newer one. (A missing row is
    # inserted by both; the primary key fails one, which is retried.)
    snap = session.get(MatchingSnapshot, payload["application_id"], with_for_update=True,
                       populate_existing=True)
    seq = payload.get("seq", 0)
    if snap is None:
        session.add(MatchingSnapshot(application_id=payload["application_id"],
                                     round=payload["round"], seq=seq,
                                     records=payload["records"]))
    elif (payload["round"], seq) >= (snap.round, snap.seq or 0):
        # The newest report wins, in the order matching made them (round, then seq).
        snap.round, snap.seq, snap.records = payload["round"], seq, payload["records"]


def latest_case(session: Session, application_id: int) -> ReviewCase | None:
    return session.scalar(select(ReviewCase).where(ReviewCase.application_id == application_id)
                          .order_by(ReviewCase.round.desc()).limit(1))


def visible_case(session: Session, principal: Principal, application_id: int) -> ReviewCase:
    """The latest case if it was ever routed to the caller's organisation (or the caller
    is an operator); 404 otherwise."""
    case = latest_case(session, application_id)
    if case is None:
        raise not_found("審査対象の申請")
    if principal.role == "operator":
        return case
    routed_to = {r["org_id"] for r in case.routes.values()}
    if principal.role not in REVIEWER_ROLES or principal.org_id not in routed_to:
        raise not_found("審査対象の申請")
    return case


def decide(ctx: ServiceContext, session: Session, principal: Principal, application_id: int,
           result: str, comment: str) -> Decision:
    case = visible_case(session, principal, application_id)
    stage = case.stage
    if case.status not in STATUS_OF.values() or stage is None:
        raise ApiError(409, "not_awaiting_decision",
                       f"この申請は現在「{case.status}」で、審査待ちではありません。")
    if principal.org_id != case.reviewer_org_id or principal.role != ROLE_OF[stage]:
        # The caller's own stage was decided already (perhaps a moment ago, by a
        # colleague): that is a conflict, as when the guarded update below loses.
        if any(ROLE_OF[d.stage] == principal.role
               and case.routes.get(d.stage, {}).get("org_id") == principal.org_id
               for d in case.decisions):
            raise ApiError(409, "already_decided", "この段階は既に判定されています。")
        raise ApiError(403, "not_your_stage", "この申請の現在の審査段階はあなたの担当ではありません。")
    if principal.org_id == case.org_id:
        raise ApiError(403, "own_application", "自機関の申請を審査することはできません。")
    if any(d.reviewer_login == principal.login for d in case.decisions):
        raise ApiError(403, "same_reviewer", "同じ審査者が複数の段階を判定することはできません。")
    if result == "否認" and not comment.strip():
        raise ApiError(422, "comment_required", "否認する場合は具体的な理由をコメントに記入してください。")
    # Only one decision per stage stands: the guarded update lets exactly one through.
    moved = session.execute(update(ReviewCase).where(
        ReviewCase.id == case.id, ReviewCase.status == case.status,
        ReviewCase.stage == stage).values(updated_at=utcnow()))
    if moved.rowcount != 1:
        raise ApiError(409, "already_decided", "この段階は既に判定されています。")
    decision = Decision(case=case, stage=stage, result=result, comment=comment.strip(),
                        reviewer_org_id=principal.org_id, reviewer_login=principal.login,
                        reviewer_name=principal.name, reviewer_department=principal.department)
    session.add(decision)
    try:
        session.flush()
    except IntegrityError:
        raise ApiError(409, "already_decided", "この段階は既に判定されています。") from None
    actor = principal.actor()
    decided = {"decision": {"stage": stage, "result": result, "comment": decision.comment,
                            "reviewer": actor}}
    if result == "否認":
        case.status, case.reviewer_org_id = "returned", None
        _report(ctx, session, case, f"{stage}_rejected", actor=actor, comment=decision.comment)
        webhooks.notify(ctx, session, "decided", _involved(case),
                        {**_hook_data(case), **decided})
        return decision
    _advance(ctx, session, case, stage)
    _report(ctx, session, case, f"{stage}_approved", actor=actor, comment=decision.comment or None)
    webhooks.notify(ctx, session, "decided", _involved(case) - {case.reviewer_org_id}
                    | {principal.org_id}, {**_hook_data(case), **decided})
    _notify_routed(ctx, session, case)
    if case.status == "approved" and case.kind == "account":
        request = case.forms.get("account", {})
        ctx.emit(session, "identity", "account.approved", {
            "request_id": case.application_id, "number": case.number, "org": case.org,
            "login": request["login"], "role": request.get("role", "applicant"),
            "name": request["name"], "department": request.get("department", ""),
            "approved_at": utcnow().isoformat()})
    elif case.status == "approved":
        snapshot = session.get(MatchingSnapshot, case.application_id)
        ctx.emit(session, "master", "application.approved", {
            "application_id": case.application_id, "number": case.number, "kind": case.kind,
            "round": case.round, "org": case.org, "catalog_version": case.catalog_version,
            "approved_at": utcnow().isoformat(), "forms": case.forms,
            "matching": [{k: r.get(k) for k in ("kind", "item", "counterpart", "status")}
                         for r in (snapshot.records if snapshot else [])]})
    return decision


def withdraw(ctx: ServiceContext, session: Session, payload: dict) -> None:
    """The applicant withdrew: close the case (decisions are refused from now on)."""
    take_application(session, payload["application_id"])
    # The case row is locked and read afresh: a reviewer's decision (HTTP) committing
    # meanwhile would otherwise be overwritten by "withdrawn" decided from the old
    # status. Locked, a decision that came first is seen (approved or returned cases are
    # not withdrawn), and one that comes later fails its guarded update (409).
    case = session.scalar(select(ReviewCase)
                          .where(ReviewCase.application_id == payload["application_id"])
                          .order_by(ReviewCase.round.desc()).limit(1)
                          .with_for_update().execution_options(populate_existing=True))
    if case is None or case.round != payload["round"] or case.status not in WAITING:
        # Nothing under review (e.g. withdrawn while still being validated), or a
        # decision that closed the case came first: record the request only.
        session.add(ReviewEvent(application_id=payload["application_id"],
                                round=payload["round"], event="withdrawal_received",
                                status=case.status if case else "none", stage=None,
                                org_id=(payload.get("actor") or {}).get("org_id"),
                                actor=payload.get("actor"), comment=None))
        return
    stage = case.stage
    involved = _involved(case)
    case.status, case.reviewer_org_id = "withdrawn", None
    session.add(ReviewEvent(application_id=case.application_id, round=case.round,
                            event="withdrawn", status="withdrawn", stage=stage,
                            org_id=(payload.get("actor") or {}).get("org_id"),
                            actor=payload.get("actor"), comment=None,
                            at=dt.datetime.fromisoformat(payload["at"])))
    webhooks.notify(ctx, session, "withdrawn", involved, {**_hook_data(case), "stage": stage})


def send_reminders(ctx: ServiceContext, session: Session, on: dt.date | None = None) -> int:
    """One overdue event per case and stage, to the organisation it waits for. The
    unique (case, stage) of the reminder makes a second run (or a second worker) a
    no-op. Returns how many reminders were sent."""
    ends = schedule.deadlines(session)
    day = on or schedule.today()
    late = {phase for phase, end in ends.items() if day > end}
    if not late:
        return 0
    sent = 0
    reminded = select(Reminder.id).where(Reminder.case_id == ReviewCase.id,
                                         Reminder.stage == ReviewCase.stage)
    waiting = session.scalars(select(ReviewCase).where(
        ReviewCase.status.in_(WAITING), ~reminded.exists())).all()
    for case in waiting:
        if schedule.phase_of(case.kind, case.stage) not in late:
            continue
        due = schedule.due_of(case, ends)
        if not schedule.is_overdue(due, on):
            continue
        try:
            with session.begin_nested():
                session.add(Reminder(case_id=case.id, stage=case.stage, due_on=due))
        except IntegrityError:
            continue
        session.add(ReviewEvent(application_id=case.application_id, round=case.round,
                                event="overdue", status=case.status, stage=case.stage,
                                org_id=case.reviewer_org_id, actor=None,
                                comment=f"期限 {due.isoformat()} を過ぎています。"))
        webhooks.notify(ctx, session, "overdue", {case.reviewer_org_id},
                        {**_hook_data(case), "due": due.isoformat()})
        sent += 1
    return sent


def history(session: Session, application_id: int) -> list[dict]:
    """Every review event of every round of the application, oldest first."""
    rows = session.scalars(select(ReviewEvent).where(
        ReviewEvent.application_id == application_id).order_by(ReviewEvent.id))
    return [{"at": e.at.isoformat(), "round": e.round, "event": e.event, "status": e.status,
             "stage": e.stage, "org_id": e.org_id, "actor": e.actor, "comment": e.comment}
            for e in rows]


def rounds(session: Session, application_id: int) -> list[dict]:
    """The earlier rounds with their decisions (what was rejected, by whom, why)."""
    cases = session.scalars(select(ReviewCase).where(
        ReviewCase.application_id == application_id).order_by(ReviewCase.round))
    return [{"round": c.round, "status": c.status, "routes": c.routes,
             "submitted_at": c.submitted_at.isoformat(),
             "decisions": _decisions(c)} for c in cases]


def _decisions(case: ReviewCase) -> list[dict]:
    return [{"stage": d.stage, "result": d.result, "comment": d.comment,
             "reviewer": {"org_id": d.reviewer_org_id, "login": d.reviewer_login,
                          "name": d.reviewer_name, "department": d.reviewer_department},
             "decided_at": d.decided_at.isoformat()} for d in case.decisions]


def describe(case: ReviewCase, *, matching: list | None = None,
             session: Session | None = None) -> dict:
    due = schedule.due_of(case, schedule.deadlines(session)) if session is not None else None
    body = {
        "application_id": case.application_id, "number": case.number, "kind": case.kind,
        "round": case.round, "org": case.org, "status": case.status, "stage": case.stage,
        "reviewer_org_id": case.reviewer_org_id, "routes": case.routes,
        "catalog_version": case.catalog_version, "forms": case.forms,
        "findings": case.findings, "submitted_by": case.submitted_by,
        "submitted_at": case.submitted_at.isoformat(),
        "decisions": _decisions(case),
        "due": due.isoformat() if due else None, "overdue": schedule.is_overdue(due),
    }
    if session is not None:
        body["history"] = history(session, case.application_id)
        body["rounds"] = rounds(session, case.application_id)
    if matching is not None:
        body["matching"] = matching
    return body
