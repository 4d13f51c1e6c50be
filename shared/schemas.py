"""marshmallow base schema: unknown fields refused, strings cleaned by their kind of text
(:mod:`shared.text`), messages in Japanese."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, pre_load

from shared import text

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
    return text.normalise_code(value)


def text_kind(field: fields.Field, default: str = text.CODE) -> str:
    """The kind of text of a string field: its ``metadata["text"]`` (code, free, legal)."""
    return field.metadata.get("text", default)


class BaseSchema(Schema):
    """Every request schema: unknown fields are an error, strings are cleaned by their
    field's kind of text (``metadata={"text": shared.text.LEGAL}`` keeps a value exactly
    as given; ``FREE`` only trims; a field that says nothing is a ``CODE``: NFKC and
    trimmed)."""

    class Meta:
        unknown = RAISE

    # The kind of a string field that does not name one.
    default_text = text.CODE

    error_messages = {
        "unknown": "未知の項目です。",
        "type": "JSON オブジェクトで送ってください。",
    }

    @pre_load(pass_collection=False)
    def _normalise_strings(self, data, **_kwargs):
        if isinstance(data, dict):
            kinds = self._text_kinds()
            return {k: text.clean(v, kinds.get(k, self.default_text)) if isinstance(v, str)
                    else v for k, v in data.items()}
        return data

    def _text_kinds(self) -> dict[str, str]:
        """The kind of text of each input key (computed once per schema instance)."""
        kinds = self.__dict__.get("_text_kinds_cache")
        if kinds is None:
            kinds = {f.data_key or name: text_kind(f, self.default_text)
                     for name, f in self.load_fields.items()}
            self.__dict__["_text_kinds_cache"] = kinds
        return kinds
