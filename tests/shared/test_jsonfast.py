"""The API's JSON encoder (orjson) answers byte for byte what Flask's standard one did."""
from __future__ import annotations

import dataclasses
import datetime as dt
import decimal

import uuid

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from shared import jsonfast
from shared.jsonfast import FastJSONProvider


@dataclasses.dataclass
class Point:
    x: int
    label: str


VALUES = [
    {"b": 1, "a": [1, 2.5, None, True], "c": {"z": "審査", "y": ""}},
    {"when": dt.datetime(2026, 4, 1, 9, 30, tzinfo=dt.timezone.utc), "day": dt.date(2026, 4, 1)},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "n": decimal.Decimal("1.50")},
    {"point": Point(3, "東京都"), "inner": {2: "int key", 10: "sorted as numbers"}},
    {"big": 2 ** 70, "text": "改行\nと\"引用\"と</script>"},
    [("tuple", 1), "\u2028"],
]


def _apps():
    standard, fast = Flask("standard"), Flask("fast")
    standard.json = DefaultJSONProvider(standard)
    fast.json = FastJSONProvider(fast)
    for app in (standard, fast):
        app.json.ensure_ascii = False
    return standard, fast


@pytest.mark.parametrize("value", VALUES)
def test_responses_are_the_bytes_flask_wrote(value):
    standard, fast = _apps()
    with standard.app_context():
        expected = standard.json.response(value).get_data()
    with fast.app_context():
        got = fast.json.response(value).get_data()
    assert got == expected


@pytest.mark.parametrize("value", VALUES)
def test_dumps_is_the_text_flask_wrote(value):
    standard, fast = _apps()
    assert fast.json.dumps(value) == standard.json.dumps(value)
    compact = {"separators": (",", ":")}
    assert fast.json.dumps(value, **compact) == standard.json.dumps(value, **compact)
    assert fast.json.dumps(value, indent=2) == standard.json.dumps(value, indent=2)


def test_an_app_with_ascii_escaping_keeps_the_standard_encoder():
    standard, fast = _apps()
    standard.json.ensure_ascii = fast.json.ensure_ascii = True
    with standard.app_context(), fast.app_context():
        assert (fast.json.response({"a": "審査"}).get_data()
                == standard.json.response({"a": "審査"}).get_data())


def test_stored_json_reads_as_before_including_what_only_the_standard_library_wrote():
    assert jsonfast.loads('{"a": [1, "審査"], "b": null}') == {"a": [1, "審査"], "b": None}
    assert jsonfast.loads(b'{"x": 1.5}') == {"x": 1.5}
    value = jsonfast.loads('{"x": NaN}')["x"]
    assert value != value                      # NaN, as json.loads reads it
