from marshmallow import fields, validate, validates_schema, ValidationError

from shared import text
from shared.auth import ROLES
from shared.schemas import BaseSchema, ResponseSchema

# Passwords are taken exactly as typed (not normalised, not trimmed), as the login page
# and the command line take them.
EXACT = {"text": text.LEGAL}


class TokenPostSchema(BaseSchema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=100),
                          metadata={"description": "ログイン名"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "パスワード", **EXACT})


class TokenResponseSchema(ResponseSchema):
    token = fields.String(required=True,
                          metadata={"description": "Authorization: Bearer に付けるトークン（JWT）"})
    expires_at = fields.DateTime(required=True, metadata={"description": "有効期限"})


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


ROLE = fields.String(required=True, validate=validate.OneOf(ROLES), metadata={"description": "役割"})


class MeResponseSchema(ResponseSchema):
    login = fields.String(required=True)
    org = fields.String(required=True, metadata={"description": "機関 ID"})
    role = ROLE
    name = fields.String(required=True)
    department = fields.String(required=True)


class ActivatedResponseSchema(ResponseSchema):
    login = fields.String(required=True)
    org = fields.String(required=True, metadata={"description": "機関 ID"})
    role = ROLE


class AccountResponseSchema(ResponseSchema):
    login = fields.String(required=True)
    org = fields.String(required=True, metadata={"description": "機関 ID"})
    role = ROLE
    name = fields.String(required=True)
    department = fields.String(required=True)
    active = fields.Boolean(required=True)
    last_login_at = fields.DateTime(required=True, allow_none=True)
    sessions_ended_at = fields.DateTime(required=True, allow_none=True)
    failed_logins = fields.Integer(required=True, metadata={"description": "連続したログイン失敗の回数"})
    login_blocked_until = fields.DateTime(required=True, allow_none=True,
                                          metadata={"description": "ログインの一時ロックの終わり"})


class RevokedAccountSchema(ResponseSchema):
    id = fields.Integer(required=True)
    generation = fields.Integer(required=True)
    active = fields.Boolean(required=True)


class RevocationsResponseSchema(ResponseSchema):
    as_of = fields.DateTime(required=True)
    accounts = fields.List(fields.Nested(RevokedAccountSchema), required=True)
    revoked_tokens = fields.List(fields.String(), required=True)


# --- notifications -------------------------------------------------------------------------

class NotificationResponseSchema(ResponseSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "通知の種類"})
    kind_label = fields.String(required=True, metadata={"description": "種類の表示名"})
    subject = fields.String(required=True, metadata={"description": "件名"})
    body = fields.String(required=True, metadata={"description": "本文"})
    link = fields.String(required=True, metadata={"description": "関係するページのパス"})
    application_id = fields.Integer(allow_none=True)
    number = fields.String(allow_none=True, metadata={"description": "申請番号"})
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(allow_none=True, metadata={"description": "既読にした日時（未読は null）"})


class InboxResponseSchema(ResponseSchema):
    unread = fields.Integer(required=True, metadata={"description": "未読の件数"})
    items = fields.List(fields.Nested(NotificationResponseSchema), required=True)


class UnreadResponseSchema(ResponseSchema):
    unread = fields.Integer(required=True, metadata={"description": "未読の件数"})


class ReadAllResponseSchema(ResponseSchema):
    marked = fields.Integer(required=True, metadata={"description": "既読にした件数"})


class NotificationSettingsPutSchema(BaseSchema):
    email = fields.String(allow_none=True, validate=validate.Length(max=254),
                          metadata={"description": "通知メールの宛先（null または空で削除）"})
    mail_kinds = fields.List(fields.String(), metadata={
        "description": "メールで受け取る通知の種類（それ以外は受け取らない）"})


class NotificationKindSchema(ResponseSchema):
    kind = fields.String(required=True)
    label = fields.String(required=True)
    mail = fields.Boolean(required=True, metadata={"description": "メールで受け取るか"})


class NotificationSettingsResponseSchema(ResponseSchema):
    email = fields.String(allow_none=True)
    kinds = fields.List(fields.Nested(NotificationKindSchema), required=True)


class AccountListQuerySchema(BaseSchema):
    q = fields.String(metadata={"description": "ログイン名・氏名・機関コード・機関名の一部（大文字小文字を区別しない）"})
    role = fields.String(validate=validate.OneOf(ROLES), metadata={"description": "役割"})
    state = fields.String(validate=validate.OneOf(["active", "disabled"]),
                          metadata={"description": "active: 有効、disabled: 無効（有効化待ちを含む）"})
    sort = fields.String(validate=validate.OneOf(
        ["login", "name", "org", "org_name", "role", "active", "last_login", "created"]),
        metadata={"description": "並べ替えの列（既定: login）"})
    order = fields.String(validate=validate.OneOf(["asc", "desc"]), metadata={"description": "asc（既定）または desc"})
    page = fields.Integer(validate=validate.Range(min=1, max=999999), metadata={"description": "ページ（1 から）"})
    per_page = fields.Integer(validate=validate.Range(min=1, max=200),
                              metadata={"description": "1 ページの件数（既定 50、最大 200）"})


class AccountListItemSchema(ResponseSchema):
    login = fields.String(required=True)
    name = fields.String(required=True)
    department = fields.String(required=True)
    org = fields.String(required=True, metadata={"description": "機関 ID"})
    org_name = fields.String(required=True, allow_none=True, metadata={"description": "機関名（機関マスタにないときは null）"})
    role = ROLE
    role_name = fields.String(required=True, metadata={"description": "役割の名前"})
    active = fields.Boolean(required=True)
    password_set = fields.Boolean(required=True, metadata={"description": "false: 有効化リンクの使用前"})
    email = fields.String(required=True, allow_none=True)
    last_login_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class AccountListSchema(ResponseSchema):
    items = fields.List(fields.Nested(AccountListItemSchema), required=True)
    total = fields.Integer(required=True, metadata={"description": "条件に合う件数（全ページ）"})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class AccountPostSchema(BaseSchema):
    login = fields.String(required=True, validate=validate.Length(min=3, max=100),
                          metadata={"description": "ログイン名（半角英数字と . _ @ -）"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "初期パスワード", **EXACT})
    org = fields.String(required=True, validate=validate.Length(min=1, max=40),
                        metadata={"description": "機関 ID（機関マスタにあること）"})
    role = ROLE
    name = fields.String(load_default="", validate=validate.Length(max=100))
    department = fields.String(load_default="", validate=validate.Length(max=100))
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=254),
                          metadata={"description": "通知用メールアドレス"})


class PasswordLinkSchema(ResponseSchema):
    login = fields.String(required=True)
    token = fields.String(required=True, metadata={
        "description": "一回限りのトークン（この応答でのみ返る）。本人が /auth/activate または POST /api/auth/activate で使う"})
    expires_at = fields.DateTime(required=True)
    mailed = fields.Boolean(required=True, metadata={"description": "アカウントのメールアドレスにも送ったか"})
