"""What every long list of the suite shares (the review queue, the account list, the
account requests, the 委任情報確認依頼): a query taken from request arguments with
Japanese messages naming each wrong argument, a case- and wildcard-safe partial
search, pages of 50, and the CSV export for Excel (UTF-8 with a byte-order mark, CRLF,
cells that look like formulas quoted).

A service's list module keeps its own query (a frozen dataclass), conditions and
columns; only these mechanics live here, so the lists behave alike.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, Iterator, Mapping

from flask import Response, stream_with_context

from shared.db import utcnow
from shared.jst import JST
from shared.web import ApiError

PER_PAGE = 50
MAX_PER_PAGE = 200
CSV_LIMIT = 50_000


def number(raw: str, name: str, label: str, low: int, high: int,
           problems: list[str]) -> int | None:
    """An integer argument within [low, high]; None (and a problem in Japanese) if it is
    not one, None if it is empty."""
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not low <= int(raw) <= high:
        problems.append(f"{label}（{name}）は {low} 以上 {high} 以下の整数（半角数字）で"
                        f"指定してください（「{raw[:20]}」）。")
        return None
    return int(raw)


def choice(raw: str, name: str, label: str, allowed: Iterable[str],
           problems: list[str]) -> str:
    """One of ``allowed``; "" (and a problem in Japanese) otherwise."""
    if raw and raw not in allowed:
        problems.append(f"{label}（{name}）に「{raw[:40]}」は指定できません。")
        return ""
    return raw


def like(text: str) -> str:
    """A LIKE pattern (escape ``\\``) matching ``text`` anywhere, lower-cased: compare it
    with ``func.lower(column)``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


@dataclass(frozen=True)
class ListQuery:
    """What every paged list's query has; a list's own query derives from it, adding its
    filters and giving ``sort`` (and ``order``) its own default."""

    q: str = ""
    sort: str = ""
    order: str = "asc"
    page: int = 1
    per_page: int = PER_PAGE

    def args(self, **change) -> dict[str, str]:
        return query_args(self, **change)


def query_args(query: Any, **change) -> dict[str, str]:
    """The query string of a list query (a dataclass) with ``change``, its defaults left
    out: what a page's sort and paging links carry."""
    values = {f.name: getattr(query, f.name) for f in fields(query)} | change
    default = type(query)()
    out = {}
    for key, value in values.items():
        if value == getattr(default, key) or value in (None, ""):
            continue
        out[key] = "true" if value is True else str(value)
    return out


@dataclass
class Page:
    """One page of a list: its items, how many match in all, and the query."""

    items: list[dict]
    total: int
    query: Any

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))

    @property
    def first(self) -> int:
        return (self.query.page - 1) * self.query.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return (self.query.page - 1) * self.query.per_page + len(self.items)


def paged(stmt, query: Any):
    """``stmt`` limited to the query's page."""
    return stmt.offset((query.page - 1) * query.per_page).limit(query.per_page)


def cell(value) -> str:
    """A value Excel shows as text: one that starts like a formula is quoted (CSV
    injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV for Excel: UTF-8 with a byte-order mark, CRLF line ends, every cell through
    :func:`cell`; yielded in chunks of 200 rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write("\ufeff")
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow(cell(v) for v in row)
        if n % 200 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def csv_download(chunks: Iterator[str], name: str) -> Response:
    """A streamed CSV download named ``<name>-YYYYmmdd-HHMM.csv`` (Japan time)."""
    stamp = utcnow().astimezone(JST).strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(chunks), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="{name}-{stamp}.csv"'})


def parse_common(get: Mapping[str, str], labels: Mapping[str, str], sorts: Iterable[str],
                 default_sort: str, problems: list[str]) -> dict[str, Any]:
    """q, sort, order, page and per_page of a list query, checked."""
    per_page = number(get.get("per_page", ""), "per_page", labels["per_page"], 1,
                      MAX_PER_PAGE, problems)
    return {"q": get.get("q", "")[:100],
            "sort": choice(get.get("sort", ""), "sort", labels["sort"], sorts, problems)
            or default_sort,
            "order": choice(get.get("order", ""), "order", labels["order"], ("asc", "desc"),
                            problems) or "asc",
            "page": number(get.get("page", ""), "page", labels["page"], 1, 999999,
                           problems) or 1,
            "per_page": per_page or PER_PAGE}


def read(args: Mapping[str, str], labels: Mapping[str, str], sorts: Iterable[str],
         default_sort: str) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """The start of every list's ``parse``: each argument ``labels`` names (stripped),
    the common part of the query (:func:`parse_common`) and the problems found so far,
    to which the list adds those of its own filters."""
    get = {k: (args.get(k) or "").strip() for k in labels}
    problems: list[str] = []
    common = parse_common(get, labels, sorts, default_sort, problems)
    return get, common, problems


def checked(parse: Callable[[Mapping[str, str]], tuple[Any, list[str]]],
            args: Mapping[str, str]) -> Any:
    """``parse(args)``'s query; 422 ``bad_filter`` naming every wrong argument (what the
    JSON lists and the CSV downloads answer; a page shows the problems instead)."""
    query, problems = parse(args)
    if problems:
        raise ApiError(422, "bad_filter", " ".join(problems))
    return query


def page_body(page: Any, items: list[dict] | None = None) -> dict[str, Any]:
    """A page of a list as the JSON lists answer it: ``items`` (the page's own unless
    given), ``total``, ``page``, ``per_page`` and ``pages``."""
    return {"items": page.items if items is None else items, "total": page.total,
            "page": page.query.page, "per_page": page.query.per_page, "pages": page.pages}


COMMON_LABELS = {"q": "検索語", "sort": "並べ替え", "order": "並び順", "page": "ページ",
                 "per_page": "1ページの件数"}


def ordered(stmt, column, tie, order: str):
    """``stmt`` ordered by ``column`` then ``tie`` (both in ``order``)."""
    if order == "desc":
        return stmt.order_by(column.desc(), tie.desc())
    return stmt.order_by(column.asc(), tie.asc())
