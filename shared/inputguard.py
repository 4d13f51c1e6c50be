"""Input that could wedge something is refused at the door of every endpoint and page.

Stored text must be valid UTF-8 without NUL (PostgreSQL refuses NUL in text; a lone
surrogate such as ``"\\ud800"`` is accepted by Python's JSON parser but cannot be encoded
again, so a form holding one would break every later reader of it). JSON nested deeper
than any form needs is refused before it can exhaust the parser, and ids in URLs are
bounded to the database's integer range (404 beyond it, as for any unknown id).
"""
from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from shared.web import ApiError

MAX_DEPTH = 32              # the forms nest a few levels; anything deeper is hostile
PG_INT_MAX = 2 ** 31 - 1


def digits_up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 0..``limit`` (leading zeros allowed)."""
    text = str(limit)
    alternatives = [f"[0-9]{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for i, digit in enumerate(text):
        low = 1 if i == 0 and len(text) > 1 else 0   # shorter numbers: the first alternative
        if int(digit) > low:
            rest = len(text) - i - 1
            alternatives.append(f"{text[:i]}[{low}-{int(digit) - 1}]"
                                + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(text)
    return "0*(?:" + "|".join(alternatives) + ")"


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` within PostgreSQL's integer: a larger id matches no route (404). The
    bound is in the converter's pattern, not only in its conversion: werkzeug answers 405
    when a rule with another method matched the path before the conversion refused it
    (``GET …/applications/2147483648/selection`` would be 405 "use PUT")."""

    regex = digits_up_to(PG_INT_MAX)

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", PG_INT_MAX)
        super().__init__(map, *args, **kwargs)


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "NUL 文字"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "不正な文字コード（対になっていないサロゲート）"
    return None


def _refuse(where: str, what: str) -> ApiError:
    return ApiError(400, "invalid_characters",
                    f"入力に使えない文字（{what}）が含まれています（{where}）。入力し直してください。")


def check_json(data: Any) -> None:
    """Walk ``data`` without recursion: depth, keys and strings."""
    stack = [(data, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError(400, "too_deep",
                           f"JSON の入れ子が深すぎます（{MAX_DEPTH} 段まで）。")
        if isinstance(value, str):
            bad = _bad_text(value)
            if bad:
                raise _refuse(path, bad)
        elif isinstance(value, dict):
            for key, item in value.items():
                bad = _bad_text(key)
                if bad:
                    raise _refuse(f"{path} の項目名", bad)
                stack.append((item, f"{path}.{key}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


# The bodies Werkzeug parses into ``request.form``; for any other request the form is
# empty, and reading it would only build an empty parser.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _guard() -> None:
    sources = [("URL のパラメータ", request.args)] if request.args else []
    if request.mimetype in FORM_TYPES:
        sources.append(("フォーム", request.form))
    for source, values in sources:
        for key, value in values.items(multi=True):
            if key is None:     # a multipart part whose name could not be read: no field
                continue
            bad = _bad_text(key) or _bad_text(value)
            if bad:
                raise _refuse(f"{source} {key[:40]!r}", bad)
    bad = _bad_text(request.path)
    if bad:
        raise _refuse("URL", bad)
    if request.is_json and request.content_length:
        # parsed once: Flask keeps the result for the endpoint's own get_json
        try:
            data = request.get_json(silent=True)
        except RecursionError:
            raise ApiError(400, "too_deep",
                           f"JSON の入れ子が深すぎます（{MAX_DEPTH} 段まで）。") from None
        if data is not None:    # malformed JSON: the endpoint answers it (400 in Japanese)
            check_json(data)


def init_input_guard(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(_guard)
