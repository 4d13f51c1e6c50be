"""Request and response schemas of the matching API."""
from marshmallow import ValidationError, fields, validate, validates_schema

from shared.schemas import BaseSchema, ResponseSchema

ANSWERS = {"確認": "confirmed", "異議": "disputed"}
STATUS_FILTERS = ("pending", "confirmed", "disputed", "all")


class ConfirmationAnswerSchema(BaseSchema):
    answer = fields.String(required=True, validate=validate.OneOf(
        list(ANSWERS), error="answer は「確認」または「異議」です。"),
        metadata={"description": "確認（委任の内容に相違なし）または 異議"})
    reason = fields.String(load_default="", validate=validate.Length(
        max=1000, error="理由は 1000 文字以内にしてください。"),
        metadata={"description": "異議の理由（異議では必須）"})

    @validates_schema
    def _reason_for_dispute(self, data, **_kwargs):
        if data.get("answer") == "異議" and not data.get("reason", "").strip():
            raise ValidationError("異議の場合は理由を入力してください。", "reason")


class ConfirmationQuerySchema(BaseSchema):
    status = fields.String(validate=validate.OneOf(STATUS_FILTERS), metadata={
        "description": "pending（既定）, confirmed, disputed, all"})


class ConfirmationViewSchema(ResponseSchema):
    id = fields.Integer(required=True)
    org = fields.String(required=True, metadata={"description": "確認を求められた委任元の機関"})
    status = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    answered_by = fields.Dict(required=True, allow_none=True)
    answered_at = fields.DateTime(required=True, allow_none=True)


class RecordSchema(ResponseSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    item = fields.String(required=True, allow_none=True)
    item_name = fields.String(required=True, allow_none=True)
    counterpart = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    field = fields.String(required=True, allow_none=True)
    detail = fields.Raw(required=True, allow_none=True)
    findings = fields.List(fields.Dict(), required=True)
    delegators = fields.List(fields.String())
    confirmations = fields.List(fields.Nested(ConfirmationViewSchema))
    confirmed_by = fields.List(fields.String())
    not_confirmed = fields.List(fields.String())


class ApplicationRecordsSchema(ResponseSchema):
    application_id = fields.Integer(required=True)
    org_id = fields.String(required=True)
    round = fields.Integer(required=True)
    status = fields.String(required=True)
    records = fields.List(fields.Nested(RecordSchema), required=True)


class ConfirmationRequestSchema(ConfirmationViewSchema):
    application_id = fields.Integer(required=True)
    delegatee = fields.String(required=True, metadata={"description": "委任先（申請した機関）"})
    item = fields.String(required=True, allow_none=True)
    affair = fields.String(required=True, allow_none=True)
    procedure = fields.String(required=True, allow_none=True)
    basis = fields.Dict(required=True, allow_none=True)
    chain = fields.List(fields.Dict(), required=True)
    delegators = fields.List(fields.String(), required=True)
    record_status = fields.String(required=True)


class ConfirmationListSchema(ResponseSchema):
    items = fields.List(fields.Nested(ConfirmationRequestSchema), required=True)
