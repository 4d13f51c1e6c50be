"""Request schemas of the master API."""
from marshmallow import fields, validate

from shared.schemas import BaseSchema, outbound_url
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
