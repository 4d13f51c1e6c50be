"""marshmallow base schema: unknown fields refused, strings cleaned by their kind of text
(:mod:`shared.text`), messages in Japanese."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from shared import text

JA_MESSAGES = {
    "required": "必須項目です。",
    "null": "空にできません。",
    "validator_failed": "値が正しくありません。",
    "invalid": "形式が正しくありません。",
    "type": "形式が正しくありません。",
}

# Every default message of marshmallow's fields and validators, in Japanese: a message
# the applicant sees is never marshmallow's English (tests/plugins/test_messages.py). The
# field is named by the finding (its Japanese label, shared.forms.schema_findings).
FIELD_MESSAGES: dict[type, dict[str, str]] = {
    fields.Field: JA_MESSAGES,
    fields.String: {"invalid": "文字列で入力してください。",
                    "invalid_utf8": "文字列（UTF-8）で入力してください。"},
    fields.Number: {"invalid": "数値で入力してください。", "too_large": "数値が大きすぎます。"},
    fields.Integer: {"invalid": "整数で入力してください。"},
    fields.Float: {"special": "NaN や無限大は使えません。"},
    fields.Decimal: {"special": "NaN や無限大は使えません。"},
    fields.Boolean: {"invalid": "true か false で入力してください。"},
    fields.List: {"invalid": "配列で入力してください。"},
    fields.Tuple: {"invalid": "配列で入力してください。"},
    fields.Nested: {"type": "オブジェクトで入力してください。"},
    fields.Mapping: {"invalid": "オブジェクトで入力してください。"},
    fields.Email: {"invalid": "メールアドレスの形式が正しくありません。"},
    fields.URL: {"invalid": "URL の形式が正しくありません。"},
    fields.UUID: {"invalid_uuid": "UUID の形式が正しくありません。"},
    fields.IP: {"invalid_ip": "IP アドレスの形式が正しくありません。"},
    fields.IPv4: {"invalid_ip": "IPv4 アドレスの形式が正しくありません。"},
    fields.IPv6: {"invalid_ip": "IPv6 アドレスの形式が正しくありません。"},
    fields.IPInterface: {"invalid_ip_interface": "IP アドレス（ネットワーク）の形式が正しくありません。"},
    fields.IPv4Interface: {"invalid_ip_interface": "IPv4 アドレス（ネットワーク）の形式が正しくありません。"},
    fields.IPv6Interface: {"invalid_ip_interface": "IPv6 アドレス（ネットワーク）の形式が正しくありません。"},
    fields.DateTime: {"invalid": "日時の形式が正しくありません。",
                      "invalid_awareness": "日時のタイムゾーンの指定が正しくありません。",
                      "format": "「{input}」は日時として扱えません。"},
    fields.Date: {"invalid": "日付の形式が正しくありません。",
                  "format": "「{input}」は日付として扱えません。"},
    fields.Time: {"invalid": "時刻の形式が正しくありません。",
                  "format": "「{input}」は時刻として扱えません。"},
    fields.TimeDelta: {"invalid": "期間の形式が正しくありません。",
                       "format": "「{input}」は期間として扱えません。"},
    fields.Enum: {"unknown": "{choices} のいずれかを指定してください。"},
}

VALIDATOR_MESSAGES: dict[type, dict[str, str]] = {
    validate.OneOf: {"default_message": "「{input}」は選択肢にありません。{choices} のいずれかを指定してください。"},
    validate.NoneOf: {"default_message": "「{input}」は使えません。"},
    validate.Length: {"message_min": "{min} 文字（件）以上で入力してください。",
                      "message_max": "{max} 文字（件）以内で入力してください。",
                      "message_all": "{min}〜{max} 文字（件）で入力してください。",
                      "message_equal": "{equal} 文字（件）で入力してください。"},
    # Range interpolates min_op / max_op into its messages when a validator is made.
    validate.Range: {"message_min": "{{min}} {min_op}にしてください。",
                     "message_max": "{{max}} {max_op}にしてください。",
                     "message_all": "{{min}} {min_op}、{{max}} {max_op}にしてください。",
                     "message_gte": "以上", "message_gt": "より大きい値",
                     "message_lte": "以下", "message_lt": "未満"},
    validate.Equal: {"default_message": "{other} にしてください。"},
    validate.Regexp: {"default_message": "形式が正しくありません。"},
    validate.Email: {"default_message": "メールアドレスの形式が正しくありません。"},
    validate.URL: {"default_message": "URL の形式が正しくありません。"},
    validate.ContainsOnly: {"default_message": "{choices} 以外の値が含まれています。"},
    validate.ContainsNoneOf: {"default_message": "使えない値（{values}）が含まれています。"},
    validate.Predicate: {"default_message": "値が正しくありません。"},
}


SCHEMA_MESSAGES = {"type": "オブジェクトで入力してください。", "unknown": "未知の項目です。"}


def _field_classes(cls: type = fields.Field):
    yield cls
    for sub in cls.__subclasses__():
        yield from _field_classes(sub)


def use_japanese_messages() -> None:
    """Put the Japanese messages in place of marshmallow's defaults (done on import,
    before any form schema or validator is made; field subclasses defined later inherit
    them). A default this table does not know becomes 「値が正しくありません。」, never
    English."""
    for cls, messages in FIELD_MESSAGES.items():
        own = cls.__dict__.get("default_error_messages")
        if own is None:
            cls.default_error_messages = own = {}
        own.update(messages)
    for cls in _field_classes():
        for key, message in list(cls.__dict__.get("default_error_messages", {}).items()):
            if message.isascii():
                cls.default_error_messages[key] = JA_MESSAGES["validator_failed"]
    for cls, messages in VALIDATOR_MESSAGES.items():
        for attr, message in messages.items():
            setattr(cls, attr, message)
    # A schema of any kind (also one not derived from BaseSchema, e.g. a plugin's own)
    defaults = getattr(Schema, "_default_error_messages", None)
    if isinstance(defaults, dict):
        defaults.update(SCHEMA_MESSAGES)


use_japanese_messages()


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


class ResponseSchema(Schema):
    """What an endpoint answers, as its OpenAPI document shows it (never loaded). Keys
    every answer has are ``required``; an answer may gain keys later (extend, don't
    rename), so the document does not refuse unknown ones."""

    class Meta:
        unknown = EXCLUDE


def outbound_url(value: str) -> None:
    """A URL the suite may send to, as far as its text says: http or https, no
    ``user:pass@`` (:func:`shared.outbound.parse`). Where its host resolves is checked by
    the view (:func:`shared.web.checked_outbound_url`), which has the settings."""
    from shared import outbound

    try:
        outbound.parse(value)
    except outbound.Refused as exc:
        raise ValidationError(exc.message) from None
