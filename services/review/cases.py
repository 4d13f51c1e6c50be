"""Review cases: receiving a submission, routing it stage by stage, decisions."""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import audit
from shared.auth import Principal, sees_routed
from shared.db import advisory_xact_lock, utcnow
from shared.deadlines import notice_due
from shared.messaging import ServiceContext
from shared.observability import correlation_id
from shared.vocabulary import status_name
from shared.web import ApiError, not_found
from services.review import directory, schedule, webhooks
from services.review.models import (DeadlineNotice, Decision, MatchingSnapshot, Reminder,
                                   ReviewCase, ReviewEvent)
from services.review.routing import ROLE_OF, STATUS_OF, RoutingError, next_stage, previous

log = logging.getLogger(__name__)

RESULTS = ("承認", "否認")
# matching outcomes that need nothing more; anything else is unresolved at 総務省's stage
RESOLVED_MATCHING = ("matched", "confirmed")
MATCHING_KINDS = {"query": "情報照会の委任", "provision_delegation": "情報提供の委任",
                  "provision_acceptance": "情報提供の受任"}
MATCHING_STATUS = {"mismatched": "不一致", "counterpart_missing": "相手方未申請",
                   "awaiting_confirmation": "委任元の確認待ち", "disputed": "異議あり",
                   "chain_incomplete": "連鎖の記載不足", "error": "誤り", "pending": "突合待ち",
                   "unpaired": "相手方未申請", "not_reported": "突合結果未着"}


def unresolved_matching(session: Session, case: ReviewCase) -> list[dict]:
    """The delegation records of the case whose 突合 is not resolved (not matched or
    confirmed), as matching last reported them; one ``not_reported`` entry when the
    application has delegation rows and no report has arrived yet."""
    snap = session.get(MatchingSnapshot, case.application_id)
    if snap is None:
        rows = case.forms.get("03-08") or {}
        if any(rows.get(k) for k in ("query_delegations", "provision_delegations",
                                     "provision_acceptances")):
            return [{"kind": None, "item": None, "counterpart": None, "status": "not_reported"}]
        return []
    return [{k: r.get(k) for k in ("kind", "item", "item_name", "counterpart", "status")}
            for r in snap.records or [] if r.get("status") not in RESOLVED_MATCHING]


def describe_unresolved(rows: list[dict]) -> str:
    """The rows in one Japanese line each (for the 409 message and the history)."""
    out = []
    for r in rows:
        if r["status"] == "not_reported":
            out.append("突合の結果がまだ届いていません")
            continue
        where = f"{MATCHING_KINDS.get(r.get('kind'), r.get('kind') or '')} {r.get('item') or ''}"
        if r.get("counterpart"):
            where += f"（相手方 {r['counterpart']}）"
        out.append(f"{where}: {MATCHING_STATUS.get(r.get('status'), r.get('status'))}")
    return "、".join(out)
WAITING = tuple(STATUS_OF.values())
# A case no router could route (a router at fault, or none decided): it waits for an
# operator, who re-routes it once the plugin is fixed or disabled (reroute below).
UNROUTABLE = "unroutable"


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
            actor: dict | None = None, comment: str | None = None,
            decision: Decision | None = None) -> None:
    """Record ``event`` in review's own history and tell intake (the applicant's side);
    the report of a decision carries it (intake fills the workbooks' reviewers' block)."""
    session.add(ReviewEvent(application_id=case.application_id, round=case.round,
                            event=event, status=case.status, stage=case.stage,
                            org_id=(actor or {}).get("org_id") or case.reviewer_org_id,
                            actor=actor, comment=comment, at=utcnow()))
    ctx.emit(session, "intake", "application.status_changed", {
        "application_id": case.application_id, "round": case.round, "status": case.status,
        "event": event, "stage": case.stage, "reviewer_org_id": case.reviewer_org_id,
        "actor": actor, "comment": comment, "at": utcnow().isoformat(),
        "decision": _decision_message(decision) if decision is not None else None})
    stage, _, outcome = event.rpartition("_")
    if case.kind != "account" and stage in ROLE_OF and outcome in ("approved", "rejected"):
        tell_applicant(ctx, session, case, "approved" if outcome == "approved" else "returned",
                       stage=stage, comment=comment)


def tell_applicant(ctx: ServiceContext, session: Session, case: ReviewCase, kind: str,
                   **detail) -> None:
    """Ask identity to notify the applying organisation's accounts (inbox and mail)."""
    ctx.emit(session, "identity", "notification.requested", {
        "kind": kind, "org_id": case.org_id, "org_name": case.org.get("name"),
        "application_id": case.application_id, "number": case.number,
        "link": f"/applicant/applications/{case.application_id}", **detail})


def _decision_message(d: Decision) -> dict:
    """A decision as intake receives it (contracts.ReviewDecision). Review knows the
    deciding account (its name and department), not organisation names: intake names
    the organisation from its registry."""
    return {"stage": d.stage, "result": d.result, "comment": d.comment or "",
            "reviewer_org_id": d.reviewer_org_id, "reviewer_name": d.reviewer_name,
            "reviewer_department": d.reviewer_department or "",
            "decided_at": (d.decided_at or utcnow()).isoformat()}


def _advance(ctx: ServiceContext, session: Session, case: ReviewCase,
             after: str | None) -> bool:
    """Move the case to the next stage that has a reviewer, or approve it. A stage that
    cannot be routed parks the case as unroutable instead (False)."""
    try:
        nxt = next_stage(ctx.plugins, _application(case), after, directory.known(session))
    except RoutingError as exc:
        _park(case, exc)
        return False
    case.routing_problem = None
    if nxt is None:
        case.status, case.stage, case.reviewer_org_id = "approved", None, None
        return True
    stage, route = nxt
    case.status, case.stage, case.reviewer_org_id = STATUS_OF[stage], stage, route.org_id
    case.stage_started_at = utcnow()
    case.routes = {**case.routes, stage: {"org_id": route.org_id, "reason": route.reason}}
    return True


def _park(case: ReviewCase, exc: RoutingError) -> None:
    """振分けできません: the case waits at ``exc.stage`` for an operator, visible in the
    operators' list with the plugin and the problem."""
    case.status, case.stage, case.reviewer_org_id = UNROUTABLE, exc.stage, None
    case.stage_started_at = utcnow()
    case.routing_problem = {"stage": exc.stage, "plugin": exc.plugin, "problem": exc.problem,
                            "at": utcnow().isoformat(), "correlation_id": correlation_id.get()}
    log.error("application %s round %s cannot be routed at stage %s: %s%s (correlation id %s)",
              case.application_id, case.round, exc.stage, exc.problem,
              f" (plugin {exc.plugin})" if exc.plugin else "", correlation_id.get(),
              extra={"application_id": case.application_id, "plugin": exc.plugin})


def routing_comment(case: ReviewCase) -> str:
    """The Japanese line applicants' history and operators read for an unroutable case."""
    problem = case.routing_problem or {}
    who = f"プラグイン {problem['plugin']}" if problem.get("plugin") else "振分けを決めるプラグインがありません"
    return f"振分けできません（{who}）。運用者が対応するまで審査は始まりません。"


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
        findings=payload.get("findings", []), attachments=payload.get("attachments", []),
        submitted_by=payload["submitted_by"],
        submitted_at=dt.datetime.fromisoformat(payload["submitted_at"]), routes={})
    case.search_columns()
    session.add(case)
    routed = _advance(ctx, session, case, None)
    session.flush()
    if routed:
        _report(ctx, session, case, "routed")
    else:
        _report(ctx, session, case, "routing_failed", comment=routing_comment(case))
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
    if not sees_routed(principal, (r.get("org_id") for r in case.routes.values())):
        raise not_found("審査対象の申請")
    return case


OVERSEERS = ("secondary_reviewer", "operator")


def case_view(session: Session, principal: Principal,
              application_id: int) -> tuple[ReviewCase, list | None]:
    """What the case's page and ``GET /api/review/applications/<id>`` show: the case the
    caller may see (404 otherwise, as :func:`visible_case`) and, for 総務省 and
    operators, the latest 突合 records (None for the other roles)."""
    case = visible_case(session, principal, application_id)
    matching = None
    if principal.role in OVERSEERS:
        snap = session.get(MatchingSnapshot, application_id)
        matching = snap.records if snap else []
    return case, matching


def may_decide(principal: Principal, case: ReviewCase) -> bool:
    """Whether the case waits for a decision of ``principal``'s organisation and role
    (what offers the decision form; :func:`check_decision` has the full rules)."""
    return (case.status in STATUS_OF.values() and case.stage is not None
            and principal.org_id == case.reviewer_org_id
            and principal.role == ROLE_OF.get(case.stage))


def may_reroute(principal: Principal, case: ReviewCase) -> bool:
    return principal.role == "operator" and case.status == UNROUTABLE


def check_decision(session: Session, principal: Principal, case: ReviewCase, result: str,
                   comment: str, acknowledge_matching: bool = False) -> list[dict] | None:
    """Whether ``principal`` may decide ``case`` now as asked (the rules of
    :func:`decide`, which the decision's confirmation page also applies before it asks
    「よろしいですか」): ApiError 409/403/422 if not; else the unresolved 突合 rows the
    decision acknowledges (None when there are none)."""
    stage = case.stage
    if case.status not in STATUS_OF.values() or stage is None:
        raise ApiError(409, "not_awaiting_decision",
                       f"この申請は現在「{status_name(case.status)}」で、審査待ちではありません。")
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
    acknowledged = None
    if stage == "secondary" and result == "承認" and case.kind != "account":
        unresolved = unresolved_matching(session, case)
        if unresolved and not acknowledge_matching:
            raise ApiError(409, "unresolved_matching",
                           f"委任情報の突合に未解決のものが {len(unresolved)} 件あります（{describe_unresolved(unresolved)}）。"
                           "突合の未解決を確認のうえ承認する場合は、その旨を明示し、理由をコメントに記入してください。",
                           details=unresolved)
        if unresolved and not comment.strip():
            raise ApiError(422, "comment_required",
                           "突合が未解決のまま承認する場合は、その理由をコメントに記入してください。")
        acknowledged = unresolved or None
    return acknowledged


def decide(ctx: ServiceContext, session: Session, principal: Principal, application_id: int,
           result: str, comment: str, acknowledge_matching: bool = False) -> Decision:
    """One reviewer's 承認 or 否認 of the case's current stage. 総務省 approving while a
    突合 is unresolved must say so (``acknowledge_matching`` with a comment), else 409
    listing the rows; the acknowledgement is kept on the decision and in the history."""
    case = visible_case(session, principal, application_id)
    stage = case.stage
    acknowledged = check_decision(session, principal, case, result, comment,
                                  acknowledge_matching)
    # Only one decision per stage stands: the guarded update lets exactly one through.
    moved = session.execute(update(ReviewCase).where(
        ReviewCase.id == case.id, ReviewCase.status == case.status,
        ReviewCase.stage == stage).values(updated_at=utcnow()))
    if moved.rowcount != 1:
        raise ApiError(409, "already_decided", "この段階は既に判定されています。")
    decision = Decision(case=case, stage=stage, result=result, comment=comment.strip(),
                        reviewer_org_id=principal.org_id, reviewer_login=principal.login,
                        reviewer_name=principal.name, reviewer_department=principal.department,
                        acknowledged_matching=acknowledged)
    session.add(decision)
    try:
        session.flush()
    except IntegrityError:
        raise ApiError(409, "already_decided", "この段階は既に判定されています。") from None
    audit.record(session, "decision.approved" if result == "承認" else "decision.rejected",
                 f"application:{application_id}",
                 {"number": case.number, "kind": case.kind, "round": case.round,
                  "stage": stage, "result": result, "comment": decision.comment[:200],
                  "acknowledged_matching": len(acknowledged or [])},
                 actor=principal, subject_org=case.org_id)
    actor = principal.actor()
    decided = {"decision": {"stage": stage, "result": result, "comment": decision.comment,
                            "reviewer": actor}}
    if result == "否認":
        case.status, case.reviewer_org_id = "returned", None
        _report(ctx, session, case, f"{stage}_rejected", actor=actor, comment=decision.comment,
                decision=decision)
        webhooks.notify(ctx, session, "decided", _involved(case),
                        {**_hook_data(case), **decided})
        return decision
    if acknowledged:
        _report(ctx, session, case, "matching_acknowledged", actor=actor,
                comment=f"突合の未解決 {len(acknowledged)} 件を確認のうえ承認: "
                        f"{describe_unresolved(acknowledged)}")
    routed = _advance(ctx, session, case, stage)
    _report(ctx, session, case, f"{stage}_approved", actor=actor, comment=decision.comment or None,
            decision=decision)
    if not routed:
        _report(ctx, session, case, "routing_failed", comment=routing_comment(case))
    webhooks.notify(ctx, session, "decided", _involved(case) - {case.reviewer_org_id}
                    | {principal.org_id}, {**_hook_data(case), **decided})
    _notify_routed(ctx, session, case)
    _when_approved(ctx, session, case)
    return decision


def _when_approved(ctx: ServiceContext, session: Session, case: ReviewCase) -> None:
    """An approved case goes on: an account request to identity, an application to the
    master."""
    if case.status == "approved" and case.kind == "account":
        request = case.forms.get("account", {})
        ctx.emit(session, "identity", "account.approved", {
            "request_id": case.application_id, "number": case.number, "org": case.org,
            "login": request["login"], "role": request.get("role", "applicant"),
            "roles": request.get("roles"), "name": request["name"], "department": request.get("department", ""),
            "email": request.get("email"), "approved_at": utcnow().isoformat()})
    elif case.status == "approved":
        snapshot = session.get(MatchingSnapshot, case.application_id)
        ctx.emit(session, "master", "application.approved", {
            "application_id": case.application_id, "number": case.number, "kind": case.kind,
            "round": case.round, "org": case.org, "catalog_version": case.catalog_version,
            "approved_at": utcnow().isoformat(), "forms": case.forms,
            "matching": [{k: r.get(k) for k in ("kind", "item", "counterpart", "status")}
                         for r in (snapshot.records if snapshot else [])]})


def reroute(ctx: ServiceContext, session: Session, principal: Principal,
            application_id: int) -> bool:
    """An operator routes an unroutable case again (after the router was fixed or
    disabled), from the stage that could not be routed. True: it is routed (or approved,
    when every remaining stage is skipped); False: it still cannot be routed (the new
    problem is kept). 404 for a case the caller may not see (as every case page), 403
    for a reviewer, 409 for a case that is not unroutable."""
    visible_case(session, principal, application_id)
    if principal.role != "operator":
        raise ApiError(403, "operators_only", "振り分け直しは運用者だけが行えます。")
    take_application(session, application_id)
    case = session.scalar(select(ReviewCase)
                          .where(ReviewCase.application_id == application_id)
                          .order_by(ReviewCase.round.desc()).limit(1)
                          .with_for_update().execution_options(populate_existing=True))
    if case is None:
        raise not_found("審査対象の申請")
    if case.status != UNROUTABLE:
        raise ApiError(409, "not_unroutable",
                       f"この申請は振分けできない状態ではありません（現在「{status_name(case.status)}」）。")
    after = previous((case.routing_problem or {}).get("stage") or case.stage or "forwarding")
    actor = principal.actor()
    if not _advance(ctx, session, case, after):
        session.add(ReviewEvent(application_id=case.application_id, round=case.round,
                                event="reroute_failed", status=case.status, stage=case.stage,
                                org_id=actor["org_id"], actor=actor,
                                comment=routing_comment(case), at=utcnow()))
        return False
    _report(ctx, session, case, "rerouted", actor=actor,
            comment=f"運用者が振り分け直しました（{case.reviewer_org_id or '審査完了'}）。")
    _notify_routed(ctx, session, case)
    _when_approved(ctx, session, case)
    return True


def reroute_case(ctx: ServiceContext, session: Session, principal: Principal,
                 application_id: int) -> tuple[bool, ReviewCase]:
    """:func:`reroute`, and the case as it is afterwards (what the page and the API
    report)."""
    routed = reroute(ctx, session, principal, application_id)
    return routed, latest_case(session, application_id)


def unroutable(session: Session) -> list[dict]:
    """The cases parked as 振分けできません, oldest first (operators' list, nws status)."""
    rows = session.scalars(select(ReviewCase).where(ReviewCase.status == UNROUTABLE)
                          .order_by(ReviewCase.stage_started_at))
    return [{"application_id": c.application_id, "number": c.number, "round": c.round,
             "org_id": c.org_id, **(c.routing_problem or {"stage": c.stage})} for c in rows]


def unroutable_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ReviewCase).where(
        ReviewCase.status == UNROUTABLE)) or 0


def latest_cases(session: Session) -> list[ReviewCase]:
    """Every application's latest case (its newest round)."""
    latest = (select(ReviewCase.application_id, func.max(ReviewCase.round).label("r"))
              .group_by(ReviewCase.application_id).subquery())
    return list(session.scalars(select(ReviewCase).join(
        latest, (ReviewCase.application_id == latest.c.application_id)
        & (ReviewCase.round == latest.c.r))))


def progress(session: Session, kind_filter: str) -> list[tuple[str, Counter]]:
    """The latest cases counted per prefecture code ("-" without one), by status, with
    ``total`` and ``overdue``; ``kind_filter`` "account" counts account requests, else
    applications. Sorted by prefecture code."""
    ends = schedule.deadlines(session)
    per_pref: dict[str, Counter] = defaultdict(Counter)
    for c in latest_cases(session):
        if (kind_filter == "account") != (c.kind == "account"):
            continue
        pref = c.prefecture_code or "-"
        per_pref[pref][c.status] += 1
        per_pref[pref]["total"] += 1
        if schedule.is_overdue(schedule.due_of(c, ends)):
            per_pref[pref]["overdue"] += 1
    return sorted(per_pref.items(), key=lambda kv: kv[0])


def withdraw(ctx: ServiceContext, session: Session, payload: dict) -> None:
    """The applicant asks to withdraw. Review owns a submitted application, so review
    decides: the case row is locked and read afresh, so a reviewer's decision (HTTP)
    and the withdrawal are serialised on it. A decision that committed first wins (the
    withdrawal is refused and intake told so: an approved application is never
    withdrawn); otherwise the case is withdrawn, and a decision that comes later fails
    its guarded update (409). Intake learns the outcome from the status report."""
    take_application(session, payload["application_id"])
    case = session.scalar(select(ReviewCase)
                          .where(ReviewCase.application_id == payload["application_id"])
                          .order_by(ReviewCase.round.desc()).limit(1)
                          .with_for_update().execution_options(populate_existing=True))
    actor = payload.get("actor")
    reason = payload.get("reason")
    at = dt.datetime.fromisoformat(payload["at"])

    def record(action: str, **detail) -> None:
        """Review's audit log: the request, then its outcome, by the applicant who asked
        (at intake, whose log holds the request's address)."""
        audit.record(session, action, f"application:{payload['application_id']}",
                     {"round": payload["round"], **detail},
                     actor={**actor, "role": "applicant"} if actor else None,
                     subject_org=(actor or {}).get("org_id"))

    record("withdrawal.received", requested_at=payload["at"], reason=(reason or "")[:200])
    if case is not None and case.round == payload["round"] and (
            case.status in WAITING or case.status in ("returned", UNROUTABLE)):
        # Under review, or returned (the applicant's again; intake withdrew it already
        # or withdraws it on this report): the case is closed as withdrawn.
        stage = case.stage
        involved = _involved(case)
        case.status, case.reviewer_org_id = "withdrawn", None
        record("withdrawal.completed", stage=stage, number=case.number)
        _report(ctx, session, case, "withdrawn", actor=actor, comment=reason)
        webhooks.notify(ctx, session, "withdrawn", involved, {**_hook_data(case), "stage": stage})
        return
    session.add(ReviewEvent(application_id=payload["application_id"],
                            round=payload["round"], event="withdrawal_received",
                            status=case.status if case else "none", stage=None,
                            org_id=(actor or {}).get("org_id"), actor=actor, comment=reason,
                            at=at))
    if case is None or case.round < payload["round"]:
        # The submission of this round has not reached review yet: it will not open a
        # case (receive_submission sees this event), so the application is withdrawn.
        record("withdrawal.completed", stage=None, before_review=True)
        if case is not None and case.status == "returned":
            # The earlier round's case was returned and the applicant's new submission
            # never reached review: the application ends as withdrawn, so does its case
            # (the queue, the case page and the progress chart count it as 取下げ).
            case.status, case.reviewer_org_id = "withdrawn", None
            session.add(ReviewEvent(application_id=case.application_id, round=case.round,
                                    event="withdrawn", status="withdrawn", stage=None,
                                    org_id=(actor or {}).get("org_id"), actor=actor,
                                    comment=reason, at=at))
            webhooks.notify(ctx, session, "withdrawn", _involved(case),
                            {**_hook_data(case), "stage": None})
        ctx.emit(session, "intake", "application.status_changed", {
            "application_id": payload["application_id"], "round": payload["round"],
            "status": "withdrawn", "event": "withdrawn", "stage": None,
            "reviewer_org_id": None, "actor": actor, "comment": reason,
            "at": utcnow().isoformat()})
    elif case.round == payload["round"] and case.status != "withdrawn":
        # A decision closed the case first: the withdrawal is refused.
        done = {"approved": "承認が確定"}.get(case.status, "審査が完了")
        record("withdrawal.refused", status=case.status, number=case.number)
        ctx.emit(session, "intake", "application.status_changed", {
            "application_id": case.application_id, "round": case.round,
            "status": case.status, "event": "withdrawal_refused", "stage": case.stage,
            "reviewer_org_id": case.reviewer_org_id, "actor": None,
            "comment": f"取下げの依頼より先に{done}していたため、取り下げられませんでした。",
            "at": utcnow().isoformat()})


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


# The phase whose deadline the applicant of a returned case works to (its resubmission).
APPLICANT_PHASE = "connection_request"


def notify_deadlines(ctx: ServiceContext, session: Session, on: dt.date | None = None) -> int:
    """Tell the applicants of returned cases (theirs to fix and resubmit) that the
    接続申請 phase ends in ``NWS_DEADLINE_NOTICE_DAYS`` days or has ended: one notice per
    case, round and threshold (a unique row), so a second run or worker sends nothing.
    Returns how many notices were asked for."""
    end = schedule.deadlines(session).get(APPLICANT_PHASE)
    due = notice_due(end, on or schedule.today(), ctx.settings.deadline_notice_days)
    if due is None:
        return 0
    notice, kind, left = due
    told = select(DeadlineNotice.id).where(
        DeadlineNotice.case_id == ReviewCase.id, DeadlineNotice.round == ReviewCase.round,
        DeadlineNotice.phase == APPLICANT_PHASE, DeadlineNotice.notice == notice)
    returned = session.scalars(select(ReviewCase).where(
        ReviewCase.status == "returned", ReviewCase.kind != "account", ~told.exists())).all()
    sent = 0
    for case in returned:
        try:
            with session.begin_nested():
                session.add(DeadlineNotice(case_id=case.id, round=case.round,
                                           phase=APPLICANT_PHASE, notice=notice))
        except IntegrityError:
            continue
        tell_applicant(ctx, session, case, kind, phase=schedule.PHASES[APPLICANT_PHASE],
                       deadline=end.isoformat(), days_left=left)
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
             "decided_at": d.decided_at.isoformat(),
             "acknowledged_matching": d.acknowledged_matching} for d in case.decisions]


def other_account_requests(session: Session, case: ReviewCase) -> list[dict]:
    """The organisation's other アカウント発行申請 under review: each is decided on its
    own, and the reviewer sees them side by side (only one may come from the real
    requester)."""
    rows = session.scalars(select(ReviewCase).where(
        ReviewCase.org_id == case.org_id, ReviewCase.kind == "account",
        ReviewCase.application_id != case.application_id,
        ReviewCase.status.in_(WAITING)).order_by(ReviewCase.application_id)).all()
    return [{"application_id": r.application_id, "number": r.number, "round": r.round,
             "status": r.status, "stage": r.stage,
             "login": (r.forms.get("account") or {}).get("login"),
             "submitted_at": r.submitted_at.isoformat()} for r in rows]


def describe(case: ReviewCase, *, matching: list | None = None,
             session: Session | None = None) -> dict:
    due = schedule.due_of(case, schedule.deadlines(session)) if session is not None else None
    body = {
        "application_id": case.application_id, "number": case.number, "kind": case.kind,
        "round": case.round, "org": case.org, "status": case.status, "stage": case.stage,
        "reviewer_org_id": case.reviewer_org_id, "routes": case.routes,
        "routing_problem": case.routing_problem,
        "catalog_version": case.catalog_version, "forms": case.forms,
        "findings": case.findings, "attachments": case.attachments or [],
        "submitted_by": case.submitted_by,
        "submitted_at": case.submitted_at.isoformat(),
        "decisions": _decisions(case),
        "due": due.isoformat() if due else None, "overdue": schedule.is_overdue(due),
    }
    if session is not None:
        body["history"] = history(session, case.application_id)
        body["rounds"] = rounds(session, case.application_id)
        if case.kind == "account":
            body["other_requests"] = other_account_requests(session, case)
    if matching is not None:
        # what is not resolved first, as 総務省 must look at it before approving
        body["matching"] = sorted(matching, key=lambda r: r.get("status") in RESOLVED_MATCHING)
        body["unresolved_matching"] = [r for r in matching
                                       if r.get("status") not in RESOLVED_MATCHING]
    return body
