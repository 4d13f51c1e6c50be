"""Delegation cross-matching (突合) of 情報提供 delegations: a 委任元's record (2) and
the 委任先's record (3) for the same 特定個人情報 are paired."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.messaging import ServiceContext
from services.matching.models import DelegationRecord, MatchedApplication


def _records(payload: dict) -> list[DelegationRecord]:
    base = dict(application_id=payload["application_id"], round=payload["round"],
                org_id=payload["org_id"])
    out = []
    for row in payload.get("query_delegations", []):
        out.append(DelegationRecord(**base, kind="query", item=str(row.get("item_no", "")),
                                    counterpart=None, data=row, status="awaiting_confirmation"))
    for row in payload.get("provision_delegations", []):
        out.append(DelegationRecord(**base, kind="provision_delegation",
                                    item=str(row.get("info_no", "")),
                                    counterpart=row.get("delegatee"), data=row))
    for row in payload.get("provision_acceptances", []):
        out.append(DelegationRecord(**base, kind="provision_acceptance",
                                    item=str(row.get("info_no", "")),
                                    counterpart=row.get("delegator"), data=row))
    return out


TWIN = {"provision_delegation": "provision_acceptance",
        "provision_acceptance": "provision_delegation"}


def _match(session: Session, record: DelegationRecord) -> None:
    if record.kind not in TWIN:
        return
    twin = session.scalar(select(DelegationRecord).where(
        DelegationRecord.kind == TWIN[record.kind], DelegationRecord.org_id == record.counterpart,
        DelegationRecord.counterpart == record.org_id, DelegationRecord.item == record.item))
    if twin is None:
        record.status = "counterpart_missing"
        record.detail = f"{record.counterpart} の対応する申請がまだありません。"
    else:
        record.status = twin.status = "matched"
        record.detail = twin.detail = None


def receive(ctx: ServiceContext, session: Session, payload: dict) -> None:
    """Replace the application's records with this round's and re-match what they touch."""
    app_id = payload["application_id"]
    known = session.get(MatchedApplication, app_id)
    if known is None:
        session.add(MatchedApplication(application_id=app_id, org_id=payload["org_id"],
                                       round=payload["round"]))
    elif known.round > payload["round"]:
        return  # a newer round is already here
    else:
        known.round = payload["round"]
    old = session.scalars(select(DelegationRecord).where(
        DelegationRecord.application_id == app_id)).all()
    touched_orgs = {r.counterpart for r in old if r.counterpart}
    session.execute(delete(DelegationRecord).where(DelegationRecord.application_id == app_id))
    new = _records(payload)
    session.add_all(new)
    session.flush()
    for record in new:
        _match(session, record)
        if record.counterpart:
            touched_orgs.add(record.counterpart)
    # The counterparts' records that pointed at this organisation are re-matched too,
    # and their applications get fresh results.
    affected = {app_id}
    if touched_orgs:
        for other in session.scalars(select(DelegationRecord).where(
                DelegationRecord.org_id.in_(touched_orgs),
                DelegationRecord.counterpart == payload["org_id"])):
            _match(session, other)
            affected.add(other.application_id)
    session.flush()
    for application_id in sorted(affected):
        report(ctx, session, application_id)


def records_of(session: Session, application_id: int) -> list[DelegationRecord]:
    return list(session.scalars(select(DelegationRecord).where(
        DelegationRecord.application_id == application_id).order_by(DelegationRecord.id)))


def describe(record: DelegationRecord) -> dict:
    return {"kind": record.kind, "item": record.item, "counterpart": record.counterpart,
            "status": record.status, "detail": record.detail}


def report(ctx: ServiceContext, session: Session, application_id: int) -> None:
    records = records_of(session, application_id)
    ctx.emit(session, "review", "matching.results", {
        "application_id": application_id, "round": max((r.round for r in records), default=0),
        "records": [describe(r) for r in records]})
