from marshmallow import fields, validate

from shared.schemas import BaseSchema


class TokenPostSchema(BaseSchema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=100),
                          metadata={"description": "ログイン名"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "パスワード"})


class TokenResponseSchema(BaseSchema):
    token = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class ActivatePostSchema(BaseSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "受付票に表示された有効化トークン"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "設定するパスワード（12 文字以上、ログイン名を含まず、よく使われるものでないこと）"})
