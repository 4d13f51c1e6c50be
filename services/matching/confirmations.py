"""The list of 委任情報確認依頼 addressed to an organisation: one query behind
``GET /api/matching/confirmations``, the page and the CSV export (shared.listing), so
they never disagree. Search by part of the 申請番号, the delegatee's code or name, the
項番 or the affair; filter by status; sort by column; pages of 50."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shared import listing
from shared.auth import Principal
from shared.jst import jst_minutes
from shared.service import context
from shared.vocabulary import status_name
from services.matching.models import Confirmation, DelegationRecord
from services.matching.schemas import STATUS_FILTERS

# the status filter's choices and the CSV's status column, by the names the rows' badges
# show (shared.vocabulary: one word for a status wherever it appears)
STATUS_NAMES = {**{s: status_name(s) for s in STATUS_FILTERS if s != "all"}, "all": "すべて"}
SORTS = {
    "created": ("依頼日時", Confirmation.created_at),
    "number": ("申請番号", Confirmation.number),
    "delegatee": ("委任先の機関コード", Confirmation.delegatee_org),
    "delegatee_name": ("委任先", Confirmation.delegatee_name),
    "item": ("項番", Confirmation.item),
    "status": ("状態", Confirmation.status),
}
LABELS = {**listing.COMMON_LABELS, "status": "状態"}


@dataclass(frozen=True)
class ConfirmationQuery(listing.ListQuery):
    status: str = "pending"
    sort: str = "created"


def parse(args: Mapping[str, str]) -> tuple[ConfirmationQuery, list[str]]:
    get, common, problems = listing.read(args, LABELS, SORTS, "created")
    status = listing.choice(get["status"], "status", LABELS["status"], STATUS_FILTERS,
                            problems) or "pending"
    return ConfirmationQuery(status=status, **common), problems


def _statement(principal: Principal, query: ConfirmationQuery):
    stmt = (select(Confirmation, DelegationRecord)
            .join(DelegationRecord, DelegationRecord.id == Confirmation.record_id)
            .where(Confirmation.delegator_org == principal.org_id))
    if query.status != "all":
        stmt = stmt.where(Confirmation.status == query.status)
    if query.q:
        pattern = listing.like(query.q)
        stmt = stmt.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in (
            Confirmation.number, Confirmation.delegatee_org, Confirmation.delegatee_name,
            Confirmation.item, Confirmation.affair))))
    return listing.ordered(stmt, SORTS[query.sort][1], Confirmation.id, query.order)


def view(c: Confirmation, record: DelegationRecord) -> dict:
    """One request as the API, the page and the CSV show it."""
    from services.matching import matcher

    data = record.data
    return {**matcher.confirmation_view(c), "application_id": c.application_id,
            "number": c.number, "delegatee": c.delegatee_org,
            "delegatee_name": c.delegatee_name, "item": record.item,
            "affair": data.get("affair"), "procedure": data.get("procedure"),
            "basis": data.get("basis"), "chain": data.get("chain") or [],
            "delegators": data.get("delegators") or [],
            "delegator_names": data.get("delegator_names") or {},
            "record_status": record.status,
            "created_at": c.created_at.isoformat()}


def search(session: Session, principal: Principal, query: ConfirmationQuery) -> listing.Page:
    """One page of the requests to the caller's organisation, and how many match."""
    stmt = _statement(principal, query)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = [view(c, r) for c, r in session.execute(listing.paged(stmt, query))]
    return listing.Page(items=items, total=total, query=query)


def every(session: Session, principal: Principal, query: ConfirmationQuery) -> Iterator[dict]:
    stmt = _statement(principal, query).limit(listing.CSV_LIMIT)
    for c, r in session.execute(stmt.execution_options(yield_per=500)):
        yield view(c, r)


CSV_HEADER = ("申請番号", "委任先", "委任先の機関コード", "項番", "事務", "手続",
              "委任の根拠", "状態", "異議の理由", "依頼日時（日本時間）", "回答日時（日本時間）")


def _basis(basis) -> str:
    if not isinstance(basis, dict):
        return ""
    return " ".join(str(basis.get(k) or "") for k in ("article", "rule_title")).strip()


def csv_response(args: Mapping[str, str], principal: Principal):
    query = listing.checked(parse, args)

    def rows(items):
        for i in items:
            yield (i["number"] or "", i["delegatee_name"] or "", i["delegatee"], i["item"],
                   i["affair"] or "", i["procedure"] or "", _basis(i["basis"]),
                   STATUS_NAMES.get(i["status"], i["status"]), i["reason"] or "",
                   jst_minutes(i["created_at"]), jst_minutes(i["answered_at"]))

    def body():
        with context("matching").transaction() as session:
            yield from listing.csv_text(CSV_HEADER, rows(every(session, principal, query)))

    return listing.csv_download(body(), "confirmation-requests")
