"""The review queue: one query behind ``GET /api/review/queue``, the queue page and the
CSV export, so the three never disagree.

Reviewers (経由, 一次, 二次) see the cases whose current stage is theirs (scope
``mine``), the cases their organisation already decided (``decided``) or both
(``all``); operators see every case. Filters, search, sorting and paging all happen in
SQL on indexed columns, so a page of 50 costs the same with 50 cases or 50,000
(bench/latency.py measures it).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterator, Mapping

from flask import Response
from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from shared.auth import Principal
from shared.db import utcnow
from shared import listing
from shared.jst import jst_minutes
from shared.service import context
from shared.vocabulary import KIND, STATUS_LABELS
from services.review import schedule
from services.review.models import Decision, ReviewCase
from services.review.routing import ROLE_OF, STATUS_OF

UNROUTABLE = "unroutable"
STATUSES = (*STATUS_OF.values(), "returned", "approved", "withdrawn", UNROUTABLE)
KINDS = ("connection", "change", "account")
SCOPES = {"mine": "現在の担当", "decided": "自機関が審査済み", "all": "担当と審査済みのすべて"}
SORTS = {
    "since": ("段階の開始", ReviewCase.stage_started_at),
    "submitted": ("提出日時", ReviewCase.submitted_at),
    "number": ("申請番号", ReviewCase.number),
    "org": ("機関コード", ReviewCase.org_id),
    "org_name": ("機関名", ReviewCase.org_name),
    "status": ("状態", ReviewCase.status),
}
# what a queue item shows: the case's large columns (forms, findings) stay unread
ITEM_COLUMNS = (ReviewCase.id, ReviewCase.application_id, ReviewCase.number, ReviewCase.kind,
                ReviewCase.org, ReviewCase.stage, ReviewCase.status, ReviewCase.round,
                ReviewCase.stage_started_at, ReviewCase.submitted_at, ReviewCase.routing_problem)
PER_PAGE = listing.PER_PAGE
MAX_PER_PAGE = listing.MAX_PER_PAGE
CSV_LIMIT = listing.CSV_LIMIT
STAGE_NAMES = {"forwarding": "経由機関確認", "primary": "一次審査", "secondary": "二次審査"}
ACTIVE = tuple(STATUS_OF.values())          # statuses that wait for a reviewer
LABELS = {"status": "状態", "org": "機関コード", "prefecture": "都道府県コード",
          "form": "様式", "kind": "種類", "min_age_days": "待ち日数",
          "overdue": "期限超過のみ", "q": "検索語", "scope": "表示範囲", "sort": "並べ替え",
          "order": "並び順", "page": "ページ", "per_page": "1ページの件数"}


@dataclass(frozen=True)
class QueueQuery(listing.ListQuery):
    """The review queue's filters on top of every list's search, sort and paging."""

    status: str = ""
    org: str = ""
    prefecture: str = ""
    form: str = ""
    kind: str = ""
    min_age_days: int | None = None
    overdue: bool = False
    scope: str = "mine"
    sort: str = "since"


@dataclass
class QueuePage:
    items: list[dict]
    total: int
    query: QueueQuery
    problems: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def _number(raw: str, name: str, low: int, high: int, problems: list[str]) -> int | None:
    return listing.number(raw, name, LABELS[name], low, high, problems)


def _choice(raw: str, name: str, allowed, problems: list[str]) -> str:
    return listing.choice(raw, name, LABELS[name], allowed, problems)


def parse(args: Mapping[str, str]) -> tuple[QueueQuery, list[str]]:
    """A query from request arguments, and what is wrong with them (in Japanese, naming
    each argument). A wrong argument is left at its default."""
    get = {k: (args.get(k) or "").strip() for k in LABELS}
    problems: list[str] = []
    overdue = _choice(get["overdue"], "overdue", ("true", "false"), problems)
    per_page = _number(get["per_page"], "per_page", 1, MAX_PER_PAGE, problems)
    query = QueueQuery(
        status=_choice(get["status"], "status", STATUSES, problems),
        org=get["org"][:40], prefecture=get["prefecture"][:6], form=get["form"][:10],
        kind=_choice(get["kind"], "kind", KINDS, problems),
        min_age_days=_number(get["min_age_days"], "min_age_days", 0, 999999, problems),
        overdue=overdue == "true", q=get["q"][:100],
        scope=_choice(get["scope"], "scope", SCOPES, problems) or "mine",
        sort=_choice(get["sort"], "sort", SORTS, problems) or "since",
        order=_choice(get["order"], "order", ("asc", "desc"), problems) or "asc",
        page=_number(get["page"], "page", 1, 999999, problems) or 1,
        per_page=per_page or PER_PAGE)
    return query, problems


def _days_ago(days: int) -> dt.datetime:
    """The time ``days`` ago; the earliest time there is for more days than that."""
    now, earliest = utcnow(), dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return now - dt.timedelta(days=days) if days < (now - earliest).days else earliest


_like = listing.like


def _overdue(ends: dict[str, dt.date], on: dt.date) -> object:
    """Cases waiting at a stage whose phase ended before ``on`` (schedule.due_of's rule
    in SQL)."""
    late = []
    for (account, stage), phase in schedule.STAGE_PHASE.items():
        end = ends.get(phase)
        if end is not None and on > end:
            kind = ReviewCase.kind == "account" if account else ReviewCase.kind != "account"
            late.append(and_(kind, ReviewCase.stage == stage))
    if not late:
        return false()
    return and_(ReviewCase.status.in_(ACTIVE), or_(*late))


def _conditions(principal: Principal, query: QueueQuery, ends: dict[str, dt.date]) -> list:
    where = []
    if principal.role != "operator":
        stages = [s for s, role in ROLE_OF.items() if role == principal.role]
        mine = and_(ReviewCase.reviewer_org_id == principal.org_id,
                    ReviewCase.stage.in_(stages))
        decided = exists().where(Decision.case_id == ReviewCase.id,
                                 Decision.reviewer_org_id == principal.org_id,
                                 Decision.stage.in_(stages))
        where.append({"mine": mine, "decided": decided, "all": or_(mine, decided)}[query.scope])
    if query.status:
        where.append(ReviewCase.status == query.status)
    if query.org:
        where.append(ReviewCase.org_id == query.org)
    if query.prefecture:
        where.append(ReviewCase.prefecture_code == query.prefecture)
    if query.kind:
        where.append(ReviewCase.kind == query.kind)
    if query.form:
        where.append(ReviewCase.form_codes.contains(f"|{query.form}|", autoescape=True))
    if query.min_age_days is not None:
        where.append(ReviewCase.stage_started_at <= _days_ago(query.min_age_days))
    if query.overdue:
        where.append(_overdue(ends, schedule.today()))
    if query.q:
        pattern = _like(query.q)
        where.append(or_(func.lower(ReviewCase.number).like(pattern, escape="\\"),
                         func.lower(ReviewCase.org_id).like(pattern, escape="\\"),
                         func.lower(ReviewCase.org_name).like(pattern, escape="\\")))
    return where


def _item(case, ends: dict[str, dt.date]) -> dict:
    due = schedule.due_of(case, ends)
    return {"application_id": case.application_id, "number": case.number,
            "kind": case.kind, "org": case.org, "stage": case.stage, "status": case.status,
            "round": case.round, "since": case.stage_started_at,
            "submitted_at": case.submitted_at, "due": due,
            "overdue": schedule.is_overdue(due), "routing_problem": case.routing_problem}


def _cases(where: list, query: QueueQuery):
    """The matching cases in the query's order: rows of only the columns an item shows
    (the case's large columns, forms and findings, stay unread)."""
    return _ordered(select(*ITEM_COLUMNS).where(*where), query)


def _ordered(stmt, query: QueueQuery):
    column = SORTS[query.sort][1]
    first = column.desc() if query.order == "desc" else column.asc()
    tie = ReviewCase.id.desc() if query.order == "desc" else ReviewCase.id.asc()
    return stmt.order_by(first, tie)


def search(session: Session, principal: Principal, query: QueueQuery) -> QueuePage:
    """One page of the caller's queue, and how many cases match in all."""
    ends = schedule.deadlines(session)
    where = _conditions(principal, query, ends)
    total = session.scalar(select(func.count()).select_from(ReviewCase).where(*where)) or 0
    stmt = _cases(where, query).offset((query.page - 1) * query.per_page).limit(query.per_page)
    items = [_item(c, ends) for c in session.execute(stmt)]
    return QueuePage(items=items, total=total, query=query)


def every(session: Session, principal: Principal, query: QueueQuery) -> Iterator[dict]:
    """Every matching case (up to CSV_LIMIT) in the query's order, read in batches."""
    ends = schedule.deadlines(session)
    stmt = _cases(_conditions(principal, query, ends), query)
    rows = session.execute(stmt.limit(CSV_LIMIT).execution_options(yield_per=500))
    for case in rows:
        yield _item(case, ends)


CSV_HEADER = ("申請番号", "機関名", "機関コード", "都道府県コード", "種類", "段階", "状態", "回",
              "提出日時（日本時間）", "段階の開始（日本時間）", "期限", "期限超過")


def csv_text(items: Iterator[dict]) -> Iterator[str]:
    """The queue as CSV for Excel (shared.listing.csv_text): Japanese headers and values
    (statuses and kinds by their names, times in JST)."""
    def rows():
        for i in items:
            org = i["org"] or {}
            yield (i["number"], org.get("name", ""), org.get("id", ""),
                   org.get("prefecture_code") or "", KIND.get(i["kind"], i["kind"]),
                   STAGE_NAMES.get(i["stage"] or "", ""),
                   STATUS_LABELS.get(i["status"], i["status"]), i["round"],
                   jst_minutes(i["submitted_at"]), jst_minutes(i["since"]),
                   i["due"].strftime("%Y/%m/%d") if i["due"] else "",
                   "期限超過" if i["overdue"] else "")
    return listing.csv_text(CSV_HEADER, rows())


def csv_response(args: Mapping[str, str], principal: Principal) -> Response:
    """The CSV download of the queue with ``args``' filters (the API's and the page's):
    streamed, every matching case up to CSV_LIMIT."""
    query = listing.checked(parse, args)

    def body():
        with context("review").transaction() as session:
            yield from csv_text(every(session, principal, query))

    return listing.csv_download(body(), "review-queue")
