"""The operator's schedule of phases, and the due date of a case at its stage.

Dates are calendar days in Japan (Asia/Tokyo): a case is overdue from the day after the
``ends_on`` of the phase its stage belongs to.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit
from shared.db import utcnow
from shared.messaging import ServiceContext
from shared.web import ApiError
from services.review.models import ReviewCase, SchedulePhase

JST = ZoneInfo("Asia/Tokyo")

# phase key -> Japanese name, in the order of the year's work
PHASES = {
    "account_request": "アカウント発行申請",
    "account_primary": "アカウント発行申請 一次審査",
    "account_secondary": "アカウント発行申請 二次審査",
    "connection_request": "接続申請",
    "primary": "一次審査",
    "secondary": "二次審査",
    "master_preparation": "マスタ整備",
    "distribution": "配信",
}

# (case kind is "account"?, stage) -> the phase whose end is the case's due date.
# 経由 is part of the primary review's time.
STAGE_PHASE = {
    (False, "forwarding"): "primary", (False, "primary"): "primary",
    (False, "secondary"): "secondary",
    (True, "forwarding"): "account_primary", (True, "primary"): "account_primary",
    (True, "secondary"): "account_secondary",
}


def today() -> dt.date:
    return dt.datetime.now(JST).date()


def phase_of(kind: str, stage: str | None) -> str | None:
    return STAGE_PHASE.get((kind == "account", stage)) if stage else None


def deadlines(session: Session) -> dict[str, dt.date]:
    return {p.phase: p.ends_on for p in session.scalars(select(SchedulePhase))}


def due_of(case: ReviewCase, ends: dict[str, dt.date]) -> dt.date | None:
    """The day by which the case's current stage should be decided (None: no deadline
    set, or the case waits for nobody)."""
    if case.status not in ("forwarding", "primary_review", "secondary_review"):
        return None
    phase = phase_of(case.kind, case.stage)
    return ends.get(phase) if phase else None


def is_overdue(due: dt.date | None, on: dt.date | None = None) -> bool:
    return due is not None and (on or today()) > due


def describe(session: Session) -> list[dict]:
    rows = {p.phase: p for p in session.scalars(select(SchedulePhase))}
    out = []
    for key, name in PHASES.items():
        row = rows.get(key)
        out.append({"phase": key, "name": name,
                    "starts_on": row.starts_on.isoformat() if row and row.starts_on else None,
                    "ends_on": row.ends_on.isoformat() if row else None})
    return out


def publish(ctx: ServiceContext, session: Session) -> None:
    """Send the whole schedule to intake (``schedule.published``), which keeps a copy
    for the applicants' deadlines."""
    ctx.emit(session, "intake", "schedule.published",
             {"phases": describe(session), "published_at": utcnow().isoformat()})


def replace(ctx: ServiceContext, session: Session, phases: list[dict], login: str) -> None:
    """Set the given phases (others stay as they are) and publish the schedule to
    intake. The caller validated each phase; a phase named twice is refused (422)."""
    seen = [p["phase"] for p in phases]
    if len(seen) != len(set(seen)):
        raise ApiError(422, "duplicate_phase", "同じ工程（phase）が複数回指定されています。")
    changes = {}
    for item in phases:
        row = session.get(SchedulePhase, item["phase"])
        before = [row.starts_on, row.ends_on] if row is not None else [None, None]
        if row is None:
            row = SchedulePhase(phase=item["phase"], ends_on=item["ends_on"], updated_by=login)
            session.add(row)
        row.starts_on, row.ends_on, row.updated_by = item.get("starts_on"), item["ends_on"], login
        if before != [row.starts_on, row.ends_on]:
            changes[item["phase"]] = {"from": before, "to": [row.starts_on, row.ends_on]}
    if changes:
        audit.record(session, "schedule.changed", "schedule", changes)
    session.flush()
    publish(ctx, session)
