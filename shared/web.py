"""HTTP helpers every service uses: JSON errors in Japanese, strict JSON bodies."""
from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

MAX_JSON_BYTES = 2 * 1024 * 1024

HTTP_MESSAGES = {
    400: "リクエストが正しくありません。",
    401: "認証が必要です。",
    403: "この操作を行う権限がありません。",
    404: "指定されたものは見つかりません。",
    405: "この操作はこの URL では使えません。",
    409: "現在の状態ではこの操作はできません。",
    413: "送信されたデータが大きすぎます。",
    415: "Content-Type が正しくありません。",
    422: "入力内容に誤りがあります。",
    429: "短時間に繰り返し操作されました。しばらく待ってから再度お試しください。",
    500: "サーバーで問題が発生しました。時間をおいて再度お試しください。",
}


def content_disposition(filename: str, fallback: str) -> str:
    """``Content-Disposition: attachment`` for a file name a user chose (RFC 6266): the
    name without directories, control characters, quotes or backslashes, as
    ``filename*`` (RFC 5987, UTF-8) for Japanese names, with ``filename`` an ASCII
    fallback (the name itself when it is plain ASCII, else ``fallback`` and its
    extension)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C"
                   and ch not in '"\\;').strip().lstrip(".")[:200] or fallback
    ext = name.rpartition(".")[2] if "." in name else ""
    plain = name if name.isascii() else fallback + (f".{ext}" if ext.isascii() and ext else "")
    plain = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in plain)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message", "details"}}``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details
        self.headers = headers or {}
        self.extra = extra

    def response(self):
        body: dict[str, Any] = {"error": {"code": self.code, "message": self.message}}
        if self.details is not None:
            body["error"]["details"] = self.details
        body.update(self.extra)
        return jsonify(body), self.status, self.headers


def not_found(what: str = "") -> ApiError:
    return ApiError(404, "not_found", f"{what}が見つかりません。" if what else HTTP_MESSAGES[404])


def checked_outbound_url(url: str, settings) -> str:
    """``url`` in its canonical form if the suite may send to it: its host is resolved
    and every address checked against ``NWS_OUTBOUND_ALLOW`` (:mod:`shared.outbound`);
    422 with a Japanese message for the ``url`` field otherwise."""
    from shared import outbound

    try:
        return outbound.check(url, outbound.Policy.of(settings))
    except outbound.Refused as exc:
        raise ApiError(422, "validation_failed", HTTP_MESSAGES[422],
                       details={"url": [exc.message]}) from None


def declared_body() -> Schema:
    """An instance of the request schema the current endpoint declares
    (``@shared.openapi.operation(body=...)``), the one its OpenAPI document shows."""
    view = current_app.view_functions.get(request.endpoint or "")
    schema = getattr(getattr(view, "nws_openapi", None), "body", None)
    if schema is None:
        raise RuntimeError(f"{request.endpoint} declares no request body schema "
                           "(shared.openapi.operation(body=...))")
    return schema()


def json_body() -> dict:
    """Load the request's JSON body through the schema the endpoint declares with
    ``@shared.openapi.operation(body=...)`` (415 / 413 / 400 / 422 otherwise): what the
    OpenAPI document says the endpoint takes is what it checks."""
    schema = declared_body()
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "Content-Type: application/json で JSON を送ってください。")
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", HTTP_MESSAGES[413])
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "malformed_json", "JSON として読み取れません。形式を確認してください。")
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_failed", "入力内容に誤りがあります。",
                       details=exc.messages) from None


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        return ApiError(status, exc.name.lower().replace(" ", "_"),
                        HTTP_MESSAGES.get(status, exc.description or "")).response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return ApiError(500, "internal_error", HTTP_MESSAGES[500]).response()
