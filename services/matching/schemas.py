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
    q = fields.String(metadata={"description": "申請番号・委任先の機関コードまたは機関名・項番・事務名の一部"})
    sort = fields.String(validate=validate.OneOf(
        ["created", "number", "delegatee", "delegatee_name", "item", "status"]),
        metadata={"description": "並べ替えの列（既定: created = 依頼日時）"})
    order = fields.String(validate=validate.OneOf(["asc", "desc"]), metadata={"description": "asc（既定）または desc"})
    page = fields.Integer(validate=validate.Range(min=1, max=999999), metadata={"description": "ページ（1 から）"})
    per_page = fields.Integer(validate=validate.Range(min=1, max=200),
                              metadata={"description": "1 ページの件数（既定 50、最大 200）"})


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
    delegator_names = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "委任元の機関名（機関コード → 機関名。機関マスタにない機関は含まない）"})
    record_status = fields.String(required=True)
    number = fields.String(allow_none=True, metadata={"description": "委任先の申請の申請番号"})
    delegatee_name = fields.String(allow_none=True, metadata={"description": "委任先の機関名"})
    created_at = fields.DateTime(metadata={"description": "依頼された日時"})


class ConfirmationListSchema(ResponseSchema):
    items = fields.List(fields.Nested(ConfirmationRequestSchema), required=True)
    total = fields.Integer(metadata={"description": "条件に合う件数（全ページ）"})
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
