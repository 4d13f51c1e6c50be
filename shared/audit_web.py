"""The audit log on the web, for operators: one JSON endpoint and one page per service
(each service reads only its own log, so each serves its own), built here the same
way for all five.

==========  ==================  ====================
service     API                 page
==========  ==================  ====================
intake      /api/intake/audit   /intake/audit
review      /api/review/audit   /review/audit
matching    /api/matching/audit /matching/audit
master      /api/master/audit   /master/audit
identity    /api/auth/audit     /auth/audit
==========  ==================  ====================

Filters (query string, API and page alike): ``action`` (exact, or a prefix ending in
``*``: ``decision.*``), ``actor`` (login), ``org`` (the actor's organisation or the
one acted on), ``target`` (``application:42``), ``from`` and ``to`` (dates, JST days,
both inclusive; or ISO 8601 date-times), ``limit`` (≤ 200, default 50) and ``before``
(the ``next_before`` of the previous page). Newest first.
"""
from __future__ import annotations


from flask import Blueprint, jsonify, render_template, request, url_for

from marshmallow import fields, validate

from shared import audit, vocabulary
from shared.auth import require
from shared.jst import jst
from shared.openapi import operation
from shared.schemas import BaseSchema, ResponseSchema
from shared.pages import ROLE_LABELS, field_label, html_errors, require_page
from shared.service import context
from shared.web import ApiError

# service -> (API prefix, page prefix, the page's tab label); the order of the tabs
PLACES = {
    "intake": ("/api/intake", "/intake", "申請"),
    "review": ("/api/review", "/review", "審査"),
    "matching": ("/api/matching", "/matching", "突合"),
    "master": ("/api/master", "/master", "マスタ"),
    "identity": ("/api/auth", "/auth", "アカウント・ログイン"),
}


class AuditQuerySchema(BaseSchema):
    action = fields.String(metadata={"description": "操作（末尾の * で前方一致）"})
    actor = fields.String(metadata={"description": "操作者のログイン名"})
    org = fields.String(metadata={"description": "操作者の機関または対象の機関の ID"})
    target = fields.String(metadata={"description": "対象（例 application:42）"})
    from_ = fields.Date(data_key="from", metadata={"description": "期間の開始日（日本時間）"})
    to_ = fields.Date(data_key="to", metadata={"description": "期間の終了日（日本時間、含む）"})
    before = fields.Integer(validate=validate.Range(min=1, max=2 ** 62),
                            metadata={"description": "この番号より前の記録（次のページ）"})
    limit = fields.Integer(validate=validate.Range(min=1, max=audit.MAX_LIMIT))


class AuditActorSchema(ResponseSchema):
    login = fields.String(required=True, allow_none=True)
    role = fields.String(required=True, allow_none=True)
    org = fields.String(required=True, allow_none=True)


class AuditEntrySchema(ResponseSchema):
    seq = fields.Integer(required=True, metadata={"description": "連番（チェーン上の位置）"})
    at = fields.DateTime(required=True)
    action = fields.String(required=True)
    target = fields.String(required=True, allow_none=True)
    actor = fields.Nested(AuditActorSchema, required=True)
    subject_org = fields.String(required=True, allow_none=True)
    address = fields.String(required=True, allow_none=True)
    detail = fields.Raw(required=True, allow_none=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class AuditLogSchema(ResponseSchema):
    service = fields.String(required=True)
    items = fields.List(fields.Nested(AuditEntrySchema), required=True)
    next_before = fields.Integer(required=True, allow_none=True,
                                 metadata={"description": "次のページの before（最後なら null）"})


def page_path(service: str) -> str:
    return PLACES[service][1] + "/audit"


def _filters():
    """The request's filters, or 422 naming the bad ones."""
    try:
        return audit.parse_filters(request.args)
    except audit.FilterError as exc:
        details = [{"location": key, "message": message} for key, message in exc.problems]
        raise ApiError(422, "bad_filter", f"検索条件に誤りがあります: {exc.problems[0][1]}",
                       details=details) from None


def _plain(value) -> str:
    """One detail value as the page shows it: Japanese names for the suite's codes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, list):
        return "、".join(_plain(v) for v in value)
    text = str(value)
    return (vocabulary.STATUS_LABELS.get(text) or vocabulary.KIND.get(text)
            or ROLE_LABELS.get(text) or vocabulary.VALUE_LABELS.get(text) or text)


def detail_rows(detail, prefix: str = "") -> list[tuple[str, str]]:
    """An audit record's detail as (label, value) rows in Japanese, nested keys joined
    with 「・」: the page shows no JSON and no field names."""
    if not isinstance(detail, dict):
        return [(prefix or "内容", _plain(detail))] if detail not in (None, {}, []) else []
    rows: list[tuple[str, str]] = []
    for key in sorted(detail):
        name = vocabulary.FIELD_LABELS.get(key) or field_label(key)   # the suite's first
        label = f"{prefix}・{name}" if prefix else name
        value = detail[key]
        if isinstance(value, dict):
            rows += detail_rows(value, label)
        else:
            rows.append((label, _plain(value)))
    return rows


def target_label(target: str | None) -> str:
    """``application:42`` as 「申請ID 42」."""
    kind, _, ident = str(target or "").partition(":")
    name = vocabulary.AUDIT_TARGETS.get(kind, kind)
    return f"{name} {ident}".strip()


def blueprints(service: str, model) -> list[Blueprint]:
    """The API endpoint and the page of ``service``'s audit log (operators only)."""
    api_prefix, page_prefix, _label = PLACES[service]
    api = Blueprint(f"{service}_audit_api", __name__, url_prefix=api_prefix)
    page = Blueprint(f"{service}_audit_pages", __name__, url_prefix=page_prefix)

    @api.get("/audit")
    @require("operator")
    @operation("監査ログ（新しい順、運用者のみ）", query=AuditQuerySchema,
               responses={200: AuditLogSchema}, errors=(422,))
    def audit_log():
        """The service's audit log, newest first (filters: see shared/audit_web.py)."""
        filters = _filters()
        with context(service).db.transaction() as session:
            items, next_before = audit.query(session, model, filters)
        return jsonify({"service": service, "items": items, "next_before": next_before})

    @page.get("/audit")
    @require_page("operator")
    def audit_page():
        raw = {k: request.args.get(k, "").strip()
               for k in ("action", "actor", "org", "target", "from", "to", "limit")}
        problems: list[tuple[str, str]] = []
        try:
            filters = audit.parse_filters(request.args)
        except audit.FilterError as exc:
            problems, filters = exc.problems, None
        items, next_url = [], None
        if filters is not None:
            with context(service).db.transaction() as session:
                items, next_before = audit.query(session, model, filters)
            if next_before is not None:
                next_url = url_for(request.endpoint,
                                   **{k: v for k, v in raw.items() if v}, before=next_before)
        for item in items:
            item["at_jst"] = jst(item["at"])
            item["detail_rows"] = detail_rows(item["detail"])
            item["target_text"] = target_label(item["target"])
        tabs = [(name, label, page_path(name), name == service)
                for name, (_a, _p, label) in PLACES.items()]
        return render_template(
            "audit.html", service=service, service_label=PLACES[service][2], tabs=tabs,
            items=items, raw=raw, problems=problems, next_url=next_url,
            paged=bool(request.args.get("before")),
            filter_fields=("actor", "org", "target", "from", "to"),
            actions=vocabulary.AUDIT_ACTIONS.get(service, {}),
            all_actions={a: l for acts in vocabulary.AUDIT_ACTIONS.values()
                         for a, l in acts.items()},
            actor_roles=vocabulary.AUDIT_ACTOR_ROLES), 422 if problems else 200

    html_errors(page)
    return [api, page]
