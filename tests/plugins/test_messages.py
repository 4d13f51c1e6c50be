"""No message an applicant sees is marshmallow's English default: every form schema is
walked with bad values and every message must be Japanese, naming the field by its
Japanese label."""
from __future__ import annotations

import copy
import inspect
import re

import pytest
from marshmallow import fields, validate

from services.intake import validation
from shared import schemas
from shared.pluginmanager import form_specs
from tests import form_data

ENGLISH = ("Must be one of", "Missing data for required field", "Length must be",
           "Not a valid", "Invalid", "Unknown field", "may not be null", "Shorter than",
           "Longer than", "Must be greater", "Must be less", "does not match")
# Two English words in a row, once the path in （…） and quoted input in 「…」 are taken out.
ENGLISH_WORDS = re.compile(r"\b[A-Za-z]+ [a-z]+\b")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _sample(code):
    return form_data.form_03_08_full() if code == "03-08" else form_data.BUILDERS[code]()


def _walk(schema, data, path=()):
    """(path, field) of every field below ``schema`` that ``data`` has a value for, and
    of the missing ones."""
    for name, field in schema.fields.items():
        key = field.data_key or name
        yield path + (key,), field
        value = data.get(key) if isinstance(data, dict) else None
        inner = field
        if isinstance(field, fields.List):
            inner = field.inner
            if isinstance(inner, fields.Nested) and value:
                yield from _walk(inner.schema, value[0], path + (key, 0))
        elif isinstance(field, fields.Nested) and isinstance(value, dict):
            yield from _walk(field.schema, value, path + (key,))


def _bad_values(field):
    """Values the field must refuse, by what is wrong with them."""
    out = {"wrong type": {fields.String: 12345, fields.Integer: "abc", fields.Boolean: "maybe",
                          fields.List: "not a list", fields.Nested: "not an object"}
           .get(next((c for c in type(field).__mro__ if c in (
               fields.String, fields.Integer, fields.Boolean, fields.List, fields.Nested)),
               None), 12345)}
    if not field.allow_none:
        out["null"] = None
    validators = field.validators
    if isinstance(field, fields.List):
        validators = validators + field.inner.validators
    for v in validators:
        if isinstance(v, validate.OneOf):
            out["not in list"] = ["not-a-choice"] if isinstance(field, fields.List) else "not-a-choice"
        elif isinstance(v, validate.Length) and v.max is not None:
            out["too long"] = ("x" * (v.max + 1) if isinstance(field, fields.String)
                               else None)
        elif isinstance(v, validate.Range):
            out["out of range"] = (v.max or 0) + 100
    return {k: v for k, v in out.items() if v is not None or k == "null"}


def _set(data, path, value):
    target = data
    for part in path[:-1]:
        target = target[part]
    if value is _MISSING:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


_MISSING = object()


def _cases(pm):
    for code, spec in form_specs(pm).items():
        base = _sample(code)
        for path, field in _walk(spec.schema(), base):
            variants = _bad_values(field)
            if field.required:
                variants["missing"] = _MISSING
            for what, value in variants.items():
                yield code, ".".join(map(str, path)), what, value
        yield code, "", "unknown field", {"not_a_field": 1}
        yield code, "", "not an object", ["a list"]


def _english(message):
    bare = re.sub(r"（[^（）]*）|「[^「」]*」", "", message)
    return [e for e in ENGLISH if e in message] or ENGLISH_WORDS.findall(bare)


def test_every_bad_value_of_every_form_gets_a_japanese_message(pm):
    checked = 0
    for code, path, what, value in _cases(pm):
        spec = form_specs(pm)[code]
        if path == "" and what == "not an object":
            data = value
        elif path == "":
            data = {**_sample(code), **value}
        else:
            data = copy.deepcopy(_sample(code))
            _set(data, tuple(int(p) if p.isdigit() else p for p in path.split(".")), value)
        loaded, findings = validation.load_form(spec, data)
        if loaded is not None:      # e.g. null where the schema allows it as a default
            continue
        for f in findings:
            checked += 1
            assert not _english(f.message), (code, path, what, f.message)
            assert JAPANESE.search(f.message), (code, path, what, f.message)
    assert checked > 200


def test_a_schema_message_names_the_field_by_its_japanese_label(pm):
    data = form_data.form_03_07()
    data["query_affairs"][0]["pia"]["status"] = "未実施"
    _, [finding] = validation.load_form(form_specs(pm)["03-07"], data)
    assert finding.location == "query_affairs.0.pia.status"
    assert finding.message.startswith("(1) 情報照会を行う事務 1 行目 特定個人情報保護評価（")
    assert "「未実施」は選択肢にありません。" in finding.message
    data = form_data.form_02_01()
    del data["writer"]["name"]
    _, [finding] = validation.load_form(form_specs(pm)["02-01"], data)
    assert finding.message == "記入担当者 氏名（writer.name）: 必須項目です。"


def _field_classes(cls=fields.Field):
    yield cls
    for sub in cls.__subclasses__():
        yield from _field_classes(sub)


def test_no_default_message_of_marshmallow_is_left_in_english():
    assert schemas.FIELD_MESSAGES
    for cls in _field_classes():
        merged = {}
        for base in reversed(cls.__mro__):     # as a field collects them
            merged.update(getattr(base, "default_error_messages", {}))
        for key, message in merged.items():
            assert not message.isascii(), (cls.__name__, key, message)
    for name, cls in inspect.getmembers(validate, inspect.isclass):
        for attr, value in vars(cls).items():
            if attr.startswith(("message", "default_message")) and isinstance(value, str):
                assert not value.isascii(), (name, attr, value)


def test_a_plain_marshmallow_schema_speaks_japanese_too():
    from marshmallow import Schema, ValidationError

    class Plain(Schema):
        name = fields.String(required=True)

    with pytest.raises(ValidationError) as exc:
        Plain().load({"name": 1, "extra": 2})
    messages = exc.value.messages
    assert messages == {"name": ["文字列で入力してください。"], "extra": ["未知の項目です。"]}
    with pytest.raises(ValidationError) as exc:
        Plain().load([1])
    assert all(not _english(m) for m in exc.value.messages["_schema"])


@pytest.mark.parametrize("validator, value", [
    (validate.OneOf(["a", "b"]), "c"), (validate.Length(min=2, max=3), "x"),
    (validate.Length(max=3), "xxxx"), (validate.Length(min=2), "x"), (validate.Length(equal=2), "x"),
    (validate.Range(1, 5), 9), (validate.Range(min=1), 0), (validate.Range(max=5, max_inclusive=False), 5),
    (validate.Regexp(r"^\d+$"), "x"), (validate.Email(), "x"), (validate.URL(), "x"),
    (validate.Equal(1), 2), (validate.NoneOf([1]), 1), (validate.ContainsOnly([1]), [2]),
    (validate.ContainsNoneOf([1]), [1]), (validate.Predicate("isdigit"), "x")])
def test_every_validator_speaks_japanese(validator, value):
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as exc:
        validator(value)
    [message] = exc.value.messages
    assert JAPANESE.search(message) and not _english(message), message
