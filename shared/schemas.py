"""marshmallow base schema: unknown fields refused, values trimmed, messages in Japanese."""
from __future__ import annotations

import unicodedata

from marshmallow import RAISE, Schema, fields, pre_load

JA_MESSAGES = {
    "required": "必須項目です。",
    "null": "空にできません。",
    "validator_failed": "値が正しくありません。",
    "invalid": "形式が正しくありません。",
    "type": "形式が正しくありません。",
}

fields.Field.default_error_messages.update(JA_MESSAGES)
fields.String.default_error_messages.update({"invalid": "文字列で入力してください。"})
fields.Integer.default_error_messages.update({"invalid": "整数で入力してください。"})
fields.Boolean.default_error_messages.update({"invalid": "true か false で入力してください。"})
fields.List.default_error_messages.update({"invalid": "配列で入力してください。"})
fields.Nested.default_error_messages.update({"type": "オブジェクトで入力してください。"})
fields.Dict.default_error_messages.update({"invalid": "オブジェクトで入力してください。"})
fields.Email.default_error_messages.update({"invalid": "メールアドレスの形式が正しくありません。"})
fields.Raw.default_error_messages.update(JA_MESSAGES)


def normalise_text(value: str) -> str:
    """NFKC (full-width digits and spaces become half-width) and trimmed."""
    return unicodedata.normalize("NFKC", value).strip()


class BaseSchema(Schema):
    """Every request schema: unknown fields are an error, strings are normalised."""

    class Meta:
        unknown = RAISE

    error_messages = {
        "unknown": "未知の項目です。",
        "type": "JSON オブジェクトで送ってください。",
    }

    @pre_load(pass_collection=False)
    def _normalise_strings(self, data, **_kwargs):
        if isinstance(data, dict):
            return {k: normalise_text(v) if isinstance(v, str) else v for k, v in data.items()}
        return data
