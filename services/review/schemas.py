from marshmallow import ValidationError, fields, validate, validates_schema

from shared.schemas import BaseSchema, ResponseSchema, outbound_url
from services.review.schedule import PHASES
from services.review.webhooks import EVENTS, NOTICE_EVENTS


class DecisionPostSchema(BaseSchema):
    result = fields.String(required=True, validate=validate.OneOf(
        ["承認", "否認"], error="result は「承認」または「否認」です。"),
        metadata={"description": "承認 または 否認"})
    comment = fields.String(load_default="", validate=validate.Length(
        max=4000, error="コメントは 4000 文字以内にしてください。"),
        metadata={"description": "審査コメント（否認では必須）"})
    acknowledge_matching = fields.Boolean(
        load_default=False, error_messages={"invalid": "acknowledge_matching は true または false です。"},
        metadata={"description": "二次審査: 委任情報の突合が未解決のまま承認することを確認した（コメント必須）"})


class WebhookPostSchema(BaseSchema):
    url = fields.String(required=True, validate=[validate.Length(
        max=2000, error="url は 2000 文字以内にしてください。"), outbound_url],
        metadata={"description": "配信先の URL（http または https）"})
    events = fields.List(fields.String(validate=validate.OneOf(
        EVENTS + NOTICE_EVENTS, error="events に指定できるのは " + ", ".join(EVENTS + NOTICE_EVENTS)
        + " です（審査機関は前の 5 つ、申請機関は後の通知の種類）。")),
        required=True, validate=validate.Length(min=1, error="events を 1 つ以上指定してください。"),
        metadata={"description": "受け取るイベント"})


DATE_ERRORS = {"invalid": "日付は YYYY-MM-DD の形式で入力してください。",
               "required": "必須項目です。"}


class PhaseSchema(BaseSchema):
    phase = fields.String(required=True, validate=validate.OneOf(
        list(PHASES), error="phase に指定できるのは " + ", ".join(PHASES) + " です。"),
        metadata={"description": "工程: " + ", ".join(f"{k}（{v}）" for k, v in PHASES.items())})
    starts_on = fields.Date(load_default=None, allow_none=True, error_messages=DATE_ERRORS,
                            metadata={"description": "開始日 YYYY-MM-DD"})
    ends_on = fields.Date(required=True, error_messages=DATE_ERRORS, metadata={"description": "期限 YYYY-MM-DD（この日まで）"})

    @validates_schema
    def _order(self, data, **kwargs):
        if data.get("starts_on") and data["starts_on"] > data["ends_on"]:
            raise ValidationError("期限は開始日以降の日付にしてください。", "ends_on")


class SchedulePutSchema(BaseSchema):
    phases = fields.List(fields.Nested(PhaseSchema), required=True,
                         validate=validate.Length(min=1, error="phases を 1 つ以上指定してください。"))


class QueueQuerySchema(BaseSchema):
    status = fields.String(metadata={"description": "状態"})
    org = fields.String(metadata={"description": "申請した機関の ID"})
    prefecture = fields.String(metadata={"description": "都道府県コード"})
    form = fields.String(metadata={"description": "申請が含む様式のコード"})
    kind = fields.String(metadata={"description": "connection, change, account"})
    min_age_days = fields.Integer(validate=validate.Range(min=0, max=999999),
                                  metadata={"description": "現在の段階で待っている日数の下限"})
    overdue = fields.String(validate=validate.OneOf(["true", "false"]),
                            metadata={"description": "true: 期限を過ぎたものだけ"})
    q = fields.String(metadata={"description": "申請番号・機関コード・機関名の一部（大文字小文字を区別しない）"})
    scope = fields.String(validate=validate.OneOf(["mine", "decided", "all"]), metadata={
        "description": "mine: 現在の担当（既定）、decided: 自機関が審査済み、all: その両方（運用者は常にすべて）"})
    sort = fields.String(validate=validate.OneOf(
        ["since", "submitted", "number", "org", "org_name", "status"]),
        metadata={"description": "並べ替えの列（既定: since = 段階の開始）"})
    order = fields.String(validate=validate.OneOf(["asc", "desc"]), metadata={"description": "asc（既定）または desc"})
    page = fields.Integer(validate=validate.Range(min=1, max=999999), metadata={"description": "ページ（1 から）"})
    per_page = fields.Integer(validate=validate.Range(min=1, max=200),
                              metadata={"description": "1 ページの件数（既定 50、最大 200）"})


class QueueItemSchema(ResponseSchema):
    application_id = fields.Integer(required=True)
    number = fields.String(required=True)
    kind = fields.String(required=True)
    org = fields.Dict(required=True, metadata={"description": "申請した機関"})
    stage = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    round = fields.Integer(required=True)
    since = fields.DateTime(required=True, metadata={"description": "現在の段階に入った時刻"})
    due = fields.String(required=True, allow_none=True,
                        metadata={"description": "段階の期限（YYYY-MM-DD）"})
    overdue = fields.Boolean(required=True)
    submitted_at = fields.DateTime(required=True, metadata={"description": "提出された時刻"})
    routing_problem = fields.Dict(allow_none=True, metadata={"description": "振分けできない理由（運用者向け）"})


class QueueSchema(ResponseSchema):
    items = fields.List(fields.Nested(QueueItemSchema), required=True)
    total = fields.Integer(required=True, metadata={"description": "条件に合う件数（全ページ）"})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class CaseSchema(ResponseSchema):
    application_id = fields.Integer(required=True)
    number = fields.String(required=True)
    kind = fields.String(required=True)
    round = fields.Integer(required=True)
    org = fields.Dict(required=True)
    status = fields.String(required=True)
    stage = fields.String(required=True, allow_none=True)
    reviewer_org_id = fields.String(required=True, allow_none=True)
    routes = fields.Dict(required=True, metadata={"description": "段階ごとの審査機関"})
    catalog_version = fields.String(required=True, allow_none=True)
    forms = fields.Dict(required=True, metadata={"description": "提出された様式のデータ"})
    findings = fields.Raw(required=True, allow_none=True)
    attachments = fields.Raw(metadata={
        "description": "添付資料の一覧（提出時点。ファイルは GET /api/intake/applications/ID/attachments/AID）"})
    submitted_by = fields.Dict(required=True, allow_none=True)
    submitted_at = fields.DateTime(required=True)
    decisions = fields.List(fields.Dict(), required=True)
    due = fields.String(required=True, allow_none=True)
    overdue = fields.Boolean(required=True)
    history = fields.List(fields.Dict())
    rounds = fields.List(fields.Dict())
    other_requests = fields.List(fields.Dict(), metadata={"description": "同じ機関の他のアカウント発行申請"})
    matching = fields.List(fields.Dict(), metadata={"description": "委任情報の突合（総務省・運用者）"})
    unresolved_matching = fields.List(fields.Dict())


class DecisionSchema(ResponseSchema):
    stage = fields.String(required=True)
    result = fields.String(required=True)
    decided_at = fields.DateTime(required=True)


class PhaseResponseSchema(ResponseSchema):
    phase = fields.String(required=True)
    name = fields.String(required=True)
    starts_on = fields.Date(required=True, allow_none=True)
    ends_on = fields.Date(required=True, allow_none=True)


class ScheduleSchema(ResponseSchema):
    phases = fields.List(fields.Nested(PhaseResponseSchema), required=True)


class WebhookCreatedSchema(ResponseSchema):
    id = fields.Integer(required=True)
    secret = fields.String(required=True, metadata={
        "description": "署名のシークレット（whsec_…）。この応答でだけ返します"})
    secret_id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)


class WebhookSecretInfoSchema(ResponseSchema):
    id = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    active = fields.Boolean(required=True)


class WebhookSchema(ResponseSchema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    org_id = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    secrets = fields.List(fields.Nested(WebhookSecretInfoSchema), required=True)


class WebhookListSchema(ResponseSchema):
    items = fields.List(fields.Nested(WebhookSchema), required=True)


class WebhookSecretSchema(ResponseSchema):
    id = fields.Integer(required=True)
    secret = fields.String(required=True)


class WebhookAttemptSchema(ResponseSchema):
    at = fields.DateTime(required=True)
    ok = fields.Boolean(required=True)
    status_class = fields.String(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    duration_ms = fields.Integer(required=True, allow_none=True)


class WebhookDeliverySchema(ResponseSchema):
    id = fields.String(required=True)
    event = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_status_class = fields.String(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(required=True, allow_none=True)
    next_attempt_at = fields.DateTime(required=True, allow_none=True)
    payload = fields.Dict(required=True)
    log = fields.List(fields.Nested(WebhookAttemptSchema), required=True)


class WebhookDeliveryListSchema(ResponseSchema):
    items = fields.List(fields.Nested(WebhookDeliverySchema), required=True)


class RedeliverySchema(ResponseSchema):
    id = fields.String(required=True)
    status = fields.String(required=True)


class RerouteSchema(ResponseSchema):
    application_id = fields.Integer(required=True)
    status = fields.String(required=True)
    stage = fields.String(required=True, allow_none=True)
    reviewer_org_id = fields.String(required=True, allow_none=True)
    routing_problem = fields.Raw(required=True, allow_none=True, metadata={
        "description": "振り分けできなかった理由（振り分けられたら null）"})
