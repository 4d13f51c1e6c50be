"""Reviewed forms: the reviewers' block (審査者記入欄) of an application's workbooks.

Review reports every decision to intake (``application.status_changed`` with its
``decision``); intake keeps a copy per round and stage (:class:`ReviewDecisionCopy`) and
writes the block of every workbook it hands out from the decisions of the application's
current round: 申請番号, the primary reviewer's organisation, department and name, and
each stage's result and comment. A round with no decision yet (a resubmission under
review) has an empty block.

An upload may carry the block as the system wrote it (the applicant re-uploads a
reviewed workbook after a 差戻し): the reader ignores a cell holding a value the system
wrote there for this application in any round (:func:`written_values`), and refuses
anything else in the block.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.models import Application, Organisation, ReviewDecisionCopy

# What the block shows for an account without a department (identity's department is
# optional): the cell is not left looking unfilled.
NO_DEPARTMENT = "（部署名の登録なし）"
STAGES = ("primary", "secondary")


def store_decision(session: Session, app: Application, round_: int, decision: dict) -> None:
    """Keep a reported decision (a repeated report changes nothing). The organisation is
    named from intake's registry, else as review named it, else by its id."""
    if decision["stage"] not in STAGES:
        return
    exists = session.scalar(select(ReviewDecisionCopy.id).where(
        ReviewDecisionCopy.application_id == app.id, ReviewDecisionCopy.round == round_,
        ReviewDecisionCopy.stage == decision["stage"]))
    if exists is not None:
        return
    org = session.get(Organisation, decision["reviewer_org_id"])
    name = org.name if org is not None else (decision.get("reviewer_org_name")
                                             or decision["reviewer_org_id"])
    session.add(ReviewDecisionCopy(
        application_id=app.id, round=round_, stage=decision["stage"],
        result=decision["result"], comment=decision.get("comment") or "",
        reviewer_org_id=decision["reviewer_org_id"], reviewer_org_name=name,
        reviewer_department=decision.get("reviewer_department") or "",
        reviewer_name=decision["reviewer_name"],
        decided_at=dt.datetime.fromisoformat(decision["decided_at"])))


def _values(app: Application, decisions: list[ReviewDecisionCopy]) -> dict[str, str]:
    by_stage = {d.stage: d for d in decisions}
    if not by_stage:
        return {}
    values = {"review_number": app.number or ""}
    primary = by_stage.get("primary")
    if primary is not None:
        values.update(primary_org_name=primary.reviewer_org_name,
                      primary_department=primary.reviewer_department or NO_DEPARTMENT,
                      primary_name=primary.reviewer_name,
                      primary_result=primary.result, primary_comment=primary.comment)
    secondary = by_stage.get("secondary")
    if secondary is not None:
        values.update(secondary_result=secondary.result,
                      secondary_comment=secondary.comment)
    return values


def _decisions(session: Session, app: Application) -> list[ReviewDecisionCopy]:
    return list(session.scalars(select(ReviewDecisionCopy).where(
        ReviewDecisionCopy.application_id == app.id).order_by(ReviewDecisionCopy.id)))


def block_values(session: Session, app: Application) -> dict[str, str]:
    """The reviewers' block of the application's workbooks (header value keys of
    shared.workbook.REVIEWER_BLOCK): the decisions of its current round; empty when
    none was made yet."""
    return _values(app, [d for d in _decisions(session, app) if d.round == app.round])


def written_values(session: Session, app: Application) -> dict[str, set[str]]:
    """Every value the system wrote into each cell of the block, over every round (what
    an uploaded workbook may carry there)."""
    out: dict[str, set[str]] = {}
    decisions = _decisions(session, app)
    for round_ in {d.round for d in decisions}:
        for key, value in _values(app, [d for d in decisions if d.round == round_]).items():
            out.setdefault(key, set()).add(value)
    return out
