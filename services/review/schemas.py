from marshmallow import ValidationError, fields, validate, validates_schema

from shared.schemas import BaseSchema, outbound_url
from services.review.schedule import PHASES
from services.review.webhooks import EVENTS


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
        EVENTS, error="events に指定できるのは routed, resubmitted, decided, withdrawn, overdue です。")),
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
            raise ValidationError("期限（ends_on）は開始日（starts_on）以降の日付にしてください。",
                                  "ends_on")


class SchedulePutSchema(BaseSchema):
    phases = fields.List(fields.Nested(PhaseSchema), required=True,
                         validate=validate.Length(min=1, error="phases を 1 つ以上指定してください。"))
