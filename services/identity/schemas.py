from marshmallow import fields, validate, validates_schema, ValidationError

from shared import text
from shared.auth import ROLES
from shared.schemas import BaseSchema

# Passwords are taken exactly as typed (not normalised, not trimmed), as the login page
# and the command line take them.
EXACT = {"text": text.LEGAL}


class TokenPostSchema(BaseSchema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=100),
                          metadata={"description": "ログイン名"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "パスワード", **EXACT})


class TokenResponseSchema(BaseSchema):
    token = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class ActivatePostSchema(BaseSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "受付票に表示された有効化トークン"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "設定するパスワード（12 文字以上、ログイン名を含まず、よく使われるものでないこと）",
                                       **EXACT})


class PasswordChangeSchema(BaseSchema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                     metadata={"description": "現在のパスワード", **EXACT})
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                 metadata={"description": "新しいパスワード", **EXACT})


class AccountPatchSchema(BaseSchema):
    active = fields.Boolean(metadata={"description": "false で無効化、true で有効化"})
    role = fields.String(validate=validate.OneOf(ROLES), metadata={"description": "役割"})

    @validates_schema
    def _something(self, data, **_kwargs):
        if not data:
            raise ValidationError("active か role を指定してください。")
