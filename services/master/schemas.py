"""Request and response schemas of the master API."""
from marshmallow import fields, validate

from shared.schemas import BaseSchema, ResponseSchema, outbound_url
from services.master.models import PUBLICATION_MODES, SUBSCRIPTION_MODES


class SubscriptionPostSchema(BaseSchema):
    url = fields.String(required=True, validate=[validate.Length(
        max=2000, error="url は 2000 文字以内にしてください。"), outbound_url],
        metadata={"description": "マスタの配信先 URL（http または https）"})
    mode = fields.String(required=True, validate=validate.OneOf(
        SUBSCRIPTION_MODES, error="mode は「snapshot」または「diff」です。"),
        metadata={"description": "snapshot: 版の全体 / diff: 最後に受領確認した版からの差分"})


class AckPostSchema(BaseSchema):
    version = fields.Integer(required=True, strict=True, validate=validate.Range(
        min=1, error="version は 1 以上のマスタ版番号です。"),
        metadata={"description": "購読側が反映を終えたマスタ版番号"})
    checksum = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^[0-9a-f]{64}$", error="checksum は 16 進 64 桁です。"),
        metadata={"description": "反映した内容のチェックサム（任意。版のものと照合します）"})


class PublicationPutSchema(BaseSchema):
    mode = fields.String(required=True, validate=validate.OneOf(
        PUBLICATION_MODES, error="mode は「immediate」（登録ごとに公開）または「batched」（整備して一括配信）です。"),
        metadata={"description": "immediate: 承認ごとに版を作成 / batched: 整備して運用者が配信"})


class VersionRowSchema(ResponseSchema):
    number = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    checksum = fields.String(required=True)
    sources = fields.Raw(required=True, allow_none=True)


class VersionListSchema(ResponseSchema):
    items = fields.List(fields.Nested(VersionRowSchema), required=True)


class VersionSchema(VersionRowSchema):
    summary = fields.Raw(required=True, allow_none=True)


class VersionContentSchema(VersionSchema):
    tables = fields.Dict(required=True, metadata={"description": "表ごとの行"})


class VersionDiffSchema(ResponseSchema):
    from_ = fields.Integer(required=True, data_key="from")
    to = fields.Integer(required=True)
    tables = fields.Dict(required=True, metadata={"description": "表ごとの追加・変更・削除"})


class DiffQuerySchema(BaseSchema):
    from_ = fields.Integer(required=True, data_key="from", validate=validate.Range(min=0),
                          metadata={"description": "比較元のマスタ版番号（0: 空の状態から）"})


class ContactsSchema(ResponseSchema):
    version = fields.Integer(required=True)
    items = fields.List(fields.Dict(), required=True, metadata={
        "description": "通常連絡先（機関名 org_name 付き）"})


class SelfCheckSchema(ResponseSchema):
    org_id = fields.String(required=True)
    application_id = fields.Integer(required=True)
    updated_at = fields.DateTime(required=True)


class PendingRegistrationSchema(ResponseSchema):
    application_id = fields.Integer(required=True)
    number = fields.String(required=True)
    round = fields.Integer(required=True)
    org_id = fields.String(required=True)
    received_at = fields.DateTime(required=True)


class PublicationSchema(ResponseSchema):
    mode = fields.String(required=True)
    version = fields.Integer(required=True)
    pending = fields.List(fields.Nested(PendingRegistrationSchema), required=True)


class SubscriptionSchema(ResponseSchema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    mode = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    created_by = fields.String(required=True, allow_none=True)
    acked_version = fields.Integer(required=True, allow_none=True)
    acked_at = fields.DateTime(required=True, allow_none=True)


class SubscriptionCreatedSchema(SubscriptionSchema):
    secret = fields.String(required=True, metadata={
        "description": "署名のシークレット（whsec_…）。この応答でだけ返します"})


class SubscriptionListSchema(ResponseSchema):
    items = fields.List(fields.Nested(SubscriptionSchema), required=True)


class DeliveryAttemptSchema(ResponseSchema):
    number = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    message_id = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, allow_none=True)
    from_ = fields.Integer(required=True, allow_none=True, data_key="from")
    ok = fields.Boolean(required=True)
    status_class = fields.String(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)


class DeliverySchema(ResponseSchema):
    id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(required=True, allow_none=True)
    next_attempt_at = fields.DateTime(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    log = fields.List(fields.Nested(DeliveryAttemptSchema), required=True)


class DeliveryListSchema(ResponseSchema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)


class PullQuerySchema(BaseSchema):
    mode = fields.String(validate=validate.OneOf(SUBSCRIPTION_MODES), metadata={
        "description": "snapshot または diff（既定: 購読の方式）"})
    version = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "マスタ版番号（既定: 最新）"})
    from_ = fields.Integer(data_key="from", validate=validate.Range(min=0), metadata={
        "description": "差分の比較元（既定: 最後に受領確認した版）"})


class PullSchema(ResponseSchema):
    """The document a delivery carries (see docs/master.md)."""
