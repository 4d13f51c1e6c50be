"""JSON on the hot paths with orjson: the API's responses (a Flask JSON provider) and
the JSON columns read from the database.

Both produce exactly what the standard library produced before: keys sorted, no ASCII
escaping, compact; datetimes and dataclasses still go through Flask's own conversion
(HTTP dates, ``asdict``). What orjson cannot encode (an integer beyond 64 bits) falls
back to the standard library, as do dicts with keys that are not strings. bench/README.md ("Latency under load") has the figures:
encoding a queue page took about 15 % of the request with :mod:`json`.
"""
from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

# Dicts with keys other than strings are left to the standard library (which sorts
# integer keys as numbers before writing them as strings).
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class FastJSONProvider(DefaultJSONProvider):
    """Flask's default provider, encoding with orjson where the result is the same."""

    ensure_ascii = False

    def _fast(self) -> bool:
        return not self.ensure_ascii

    def _options(self) -> int:
        return _OPTIONS | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # only the compact form is orjson's; json.dumps's default separators (", ")
        # and other arguments (indent, cls, ...) keep the standard library
        if self._fast() and kwargs == {"separators": (",", ":")}:
            try:
                return orjson.dumps(obj, default=self.default, option=self._options()).decode()
            except orjson.JSONEncodeError:
                pass
        return super().dumps(obj, **kwargs)

    def response(self, *args: Any, **kwargs: Any):
        if not self._fast() or (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, default=self.default,
                                option=self._options() | orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
            return super().response(*args, **kwargs)
        return self._app.response_class(body, mimetype=self.mimetype)


def loads(text: str | bytes) -> Any:
    """A stored JSON value (SQLAlchemy's ``json_deserializer``): orjson, or the standard
    library for what only it reads (NaN, Infinity written by it)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
