"""Request and response schemas of the intake API."""
from marshmallow import fields, validate

from shared.schemas import BaseSchema


class ApplicationPostSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(
        ["connection", "change"], error="kind は connection または change です。"),
        metadata={"description": "connection（接続申請）または change（変更申請）"})


class FindingSchema(BaseSchema):
    rule = fields.String()
    severity = fields.String()
    location = fields.String()
    message = fields.String()


class FormStatusSchema(BaseSchema):
    status = fields.String()
    revision = fields.Integer()
    findings = fields.List(fields.Nested(FindingSchema))


class HistorySchema(BaseSchema):
    at = fields.String()
    round = fields.Integer()
    event = fields.String()
    status = fields.String()
    stage = fields.String(allow_none=True)
    org_id = fields.String(allow_none=True)
    actor = fields.Dict(allow_none=True)
    comment = fields.String(allow_none=True)


class ApplicationResponseSchema(BaseSchema):
    id = fields.Integer()
    number = fields.String()
    kind = fields.String()
    org = fields.String()
    status = fields.String()
    round = fields.Integer()
    stage = fields.String(allow_none=True)
    catalog_version = fields.String(allow_none=True)
    master_version = fields.Integer(allow_none=True)
    forms = fields.Dict(keys=fields.String(), values=fields.Nested(FormStatusSchema))
    findings = fields.List(fields.Nested(FindingSchema))
    history = fields.List(fields.Nested(HistorySchema))


class RequesterSchema(BaseSchema):
    department = fields.String(required=True, validate=validate.Length(min=1, max=100),
                               metadata={"description": "部署名"})
    title = fields.String(load_default="", validate=validate.Length(max=100),
                          metadata={"description": "職名"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "氏名"})
    email = fields.Email(required=True, metadata={"description": "連絡先メールアドレス"})
    phone = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9+\-() ]{6,20}$", error="電話番号は数字とハイフンで入力してください。"),
        metadata={"description": "連絡先電話番号"})


class AccountRequestPostSchema(BaseSchema):
    org = fields.String(required=True, validate=validate.Length(min=1, max=40),
                        metadata={"description": "申請する機関の ID（例: 131016, 131016-BOE）"})
    login = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9._@-]{3,100}$",
        error="ログイン名は半角英数字と . _ @ - の 3〜100 文字にしてください。"),
        metadata={"description": "希望するログイン名（使用済みなら末尾に番号が付きます）"})
    requester = fields.Nested(RequesterSchema, required=True,
                              metadata={"description": "申請担当者"})


class AccountRequestPutSchema(BaseSchema):
    login = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9._@-]{3,100}$",
        error="ログイン名は半角英数字と . _ @ - の 3〜100 文字にしてください。"),
        metadata={"description": "希望するログイン名"})
    requester = fields.Nested(RequesterSchema, required=True,
                              metadata={"description": "申請担当者"})
