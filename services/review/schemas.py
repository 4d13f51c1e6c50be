from marshmallow import fields, validate

from shared.schemas import BaseSchema


class DecisionPostSchema(BaseSchema):
    result = fields.String(required=True, validate=validate.OneOf(
        ["承認", "否認"], error="result は「承認」または「否認」です。"),
        metadata={"description": "承認 または 否認"})
    comment = fields.String(load_default="", validate=validate.Length(
        max=4000, error="コメントは 4000 文字以内にしてください。"),
        metadata={"description": "審査コメント（否認では必須）"})
