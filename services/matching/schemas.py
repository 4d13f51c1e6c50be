"""Request schemas of the matching API."""
from marshmallow import ValidationError, fields, validate, validates_schema

from shared.schemas import BaseSchema

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
