"""The OpenAPI 3.1 document of the HTTP API a web process serves (``GET
/api/openapi.json``), built with apispec from the marshmallow schemas the endpoints use.

A view says what the document tells about it with :func:`operation`, next to its route::

    @bp.post("/token")
    @public
    @operation("トークンを発行する", body=TokenPostSchema, responses={200: TokenResponseSchema},
               errors=(401, 429))
    def token():
        body = json_body()          # loaded through TokenPostSchema, the documented one

The declared request body is the one :func:`shared.web.json_body` loads, so the
document and the validation cannot drift apart. The rest is derived from what the app
already knows: the path and its parameters from the URL rule (apispec's FlaskPlugin),
the security from :func:`shared.auth.require` / :func:`shared.auth.public`, and the
error answers every endpoint can give (401 without a valid token, 403 for a role the
view does not admit, 404 for an unknown id in the path, 400/413/415/422 for a JSON body,
400 for characters the input guard refuses) in the error envelope of
:class:`shared.web.ApiError`. The document walks ``app.url_map``: it covers exactly the
services the process runs, and every ``/api/`` route (one that declares nothing appears
with a bare entry; ``undocumented`` names it, and the tests fail on it).
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Iterable, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask, current_app, jsonify
from marshmallow import INCLUDE, Schema, fields
from werkzeug.routing import IntegerConverter, Rule

from shared.auth import ROLES, public
from shared.web import HTTP_MESSAGES

OPENAPI_VERSION = "3.1.0"
PATH = "/api/openapi.json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"
PDF = "application/pdf"
CSV = "text/csv"

#: what the document says of a success answer that names no description
SUCCESS = {200: "成功", 201: "作成しました", 202: "受け付けました（処理は非同期に続きます）",
           204: "完了しました（本文なし）"}
ERROR_DESCRIPTIONS = {**HTTP_MESSAGES,
                      400: "リクエストが正しくありません（JSON として読めない、使えない文字を含む など）。",
                      410: "期限が切れています。", 503: "一時的に処理できません。"}
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "POST /api/auth/token で発行されたトークン（Authorization: Bearer TOKEN）。"
                       "ログアウト・パスワード変更・役割変更・無効化で失効します。"},
    "serviceToken": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "スイート内部のプロセス間呼び出し用のサービストークン（共有シークレットで署名）。"},
    "webhookId": {"type": "apiKey", "in": "header", "name": "webhook-id",
                  "description": "購読のシークレットによる署名（Standard Webhooks）: メッセージ ID"},
    "webhookTimestamp": {"type": "apiKey", "in": "header", "name": "webhook-timestamp",
                         "description": "署名の時刻（UNIX 秒。5 分以上ずれると拒否）"},
    "webhookSignature": {"type": "apiKey", "in": "header", "name": "webhook-signature",
                         "description": "v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">"},
}
BEARER = [{"bearerAuth": []}]
SIGNED = {"webhookId": [], "webhookTimestamp": [], "webhookSignature": []}


class ErrorDetailSchema(Schema):
    code = fields.String(required=True,
                         metadata={"description": "機械向けの誤りの種類（例: validation_failed）"})
    message = fields.String(required=True, metadata={"description": "日本語の説明"})
    details = fields.Raw(allow_none=True, metadata={
        "description": "項目ごとの誤り（例: {\"項目名\": [\"メッセージ\"]}）や指摘の一覧"})


class ErrorSchema(Schema):
    """Every 4xx (and 5xx) answer of the API."""

    class Meta:
        unknown = INCLUDE        # some errors add a field, e.g. findings or retry_after

    error = fields.Nested(ErrorDetailSchema, required=True)


@dataclasses.dataclass(frozen=True)
class File:
    """An answer that is a file of ``media_type`` (not JSON)."""

    media_type: str
    description: str = "ファイル"


@dataclasses.dataclass(frozen=True)
class Reply:
    """An answer with its own description (and headers)."""

    #: a Schema class or a JSON Schema dict (JSON), a File, a tuple of these (one of
    #: them, by media type), or None
    body: Any = None
    description: str = ""
    headers: Mapping[str, dict] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, Any]
    body: type[Schema] | None = None
    #: a JSON body validated elsewhere: a JSON Schema dict, or a function of the app
    #: returning one (e.g. the form plugins' schemas)
    json: dict | Callable[[Flask], Any] | None = None
    body_required: bool = True
    query: type[Schema] | None = None
    #: a multipart/form-data body: JSON Schema of its fields
    multipart: dict | None = None
    #: extra parameters (e.g. a header), as OpenAPI parameter objects
    parameters: tuple[dict, ...] = ()
    #: JSON Schema keywords added to a path parameter's schema, by name (or a function
    #: of the app returning them)
    path: Mapping[str, dict | Callable[[Flask], dict]] = dataclasses.field(default_factory=dict)
    errors: tuple[int, ...] = ()
    description: str | None = None
    deprecated: bool = False


def operation(summary: str, *, responses: Mapping[int, Any], body: type[Schema] | None = None,
              json: dict | Callable[[Flask], Any] | None = None, body_required: bool = True,
              query: type[Schema] | None = None, multipart: dict | None = None,
              parameters: Iterable[dict] = (), path: Mapping[str, dict] | None = None,
              errors: Iterable[int] = (), description: str | None = None,
              deprecated: bool = False) -> Callable:
    """Declare what the OpenAPI document says about a view (``summary`` in Japanese).

    ``body`` is the request schema :func:`shared.web.json_body` loads; ``responses``
    maps a success status to a response schema class, a :class:`File`, a
    :class:`Reply` or None (no body); ``errors`` adds error statuses to the ones the
    document derives (see the module docstring)."""
    op = Operation(summary, dict(responses), body, json, body_required, query, multipart,
                   tuple(parameters), dict(path or {}), tuple(errors), description, deprecated)

    def decorate(view):
        view.nws_openapi = op
        return view

    return decorate


def declared(view) -> Operation | None:
    return getattr(view, "nws_openapi", None)


# --- the document ------------------------------------------------------------------------

def _schema_name(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def documented_rules(app: Flask) -> list[Rule]:
    """The rules the document covers: every ``/api/`` rule, and any other whose view
    declares an operation (/healthz, /readyz, /metrics)."""
    rules = [r for r in app.url_map.iter_rules()
             if r.rule.startswith("/api/") or declared(app.view_functions[r.endpoint])]
    return sorted(rules, key=lambda r: (r.rule, r.endpoint))


def undocumented(app: Flask) -> list[str]:
    """Endpoints under /api/ that declare no operation (should be none)."""
    return [r.endpoint for r in documented_rules(app)
            if declared(app.view_functions[r.endpoint]) is None]


def methods_of(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def build(app: Flask, *, title: str = "情報提供ネットワークシステム 申請処理機能 API",
          version: str = "0.1.0", also: Iterable[Flask] = ()) -> dict:
    """The OpenAPI 3.1 document of ``app``'s HTTP API, as a dict; with the routes of the
    apps in ``also`` that ``app`` does not serve itself (the rest of the suite)."""
    spec = APISpec(
        title=title, version=version, openapi_version=OPENAPI_VERSION,
        plugins=[FlaskPlugin(), MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": (
            "JSON API（Authorization: Bearer TOKEN）。トークンは POST /api/auth/token で発行します。"
            "4xx は {\"error\": {\"code\", \"message\", \"details\"}} で、message は日本語です。")})
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    spec.components.schema("Error", schema=ErrorSchema)
    for status, text in sorted(ERROR_DESCRIPTIONS.items()):
        response = {"description": text,
                    "content": {"application/json": {"schema": "Error"}}}
        if status == 429:
            response["headers"] = {"Retry-After": {
                "description": "再試行できるまでの秒数", "schema": {"type": "integer"}}}
        spec.components.response(f"Error{status}", response)
    tags: set[str] = set()
    seen: set[str] = set()
    for source in (app, *also):
        for rule in documented_rules(source):
            if rule.rule in seen and source is not app:
                continue
            seen.add(rule.rule)
            view = source.view_functions[rule.endpoint]
            op = declared(view) or Operation(rule.endpoint, {200: None})
            tag = _tag(rule)
            tags.add(tag)
            operations = {method.lower(): _operation(source, rule, view, op, tag, method)
                          for method in methods_of(rule)}
            spec.path(view=view, app=source, operations=operations)
    for tag in sorted(tags):
        spec.tag({"name": tag})
    return spec.to_dict()


def _tag(rule: Rule) -> str:
    blueprint = rule.endpoint.split(".", 1)[0] if "." in rule.endpoint else ""
    return blueprint.split("_", 1)[0] if blueprint else "suite"


def _operation(app: Flask, rule: Rule, view, op: Operation, tag: str, method: str) -> dict:
    out: dict[str, Any] = {"operationId": f"{rule.endpoint}.{method.lower()}"
                           if len(methods_of(rule)) > 1 else rule.endpoint,
                           "summary": op.summary, "tags": [tag]}
    description = op.description or inspect.cleandoc(view.__doc__ or "").split("\n---")[0]
    security, errors = _security(view)
    roles = getattr(view, "nws_auth", None)
    if roles and security == BEARER:
        description = (description + "\n\n" if description else "") + \
            "使える役割: " + ", ".join(roles)
        out["x-roles"] = list(roles)
    if description:
        out["description"] = description
    if op.deprecated:
        out["deprecated"] = True
    out["security"] = security
    parameters = _path_parameters(app, rule, op)
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    parameters.extend(op.parameters)
    if parameters:
        out["parameters"] = parameters
        errors.add(400)
    if rule.arguments:
        errors.add(404)
    body = _request_body(app, op)
    if body is not None:
        out["requestBody"] = body
        errors.update((400, 413, 415, 422))
    errors.update(op.errors)
    responses = {str(status): _success(status, reply) for status, reply in op.responses.items()}
    for status in sorted(errors):
        responses.setdefault(str(status), f"Error{status}")
    out["responses"] = responses
    return out


def _security(view) -> tuple[list[dict], set[int]]:
    """The operation's security requirement and the errors it implies."""
    if getattr(view, "nws_public", False):
        return [], set()
    roles = tuple(getattr(view, "nws_auth", ()) or ())
    if roles == ("service",):
        return [{"serviceToken": []}], {401}
    if "subscriber" in roles:
        return [{"bearerAuth": []}, dict(SIGNED)], {401, 403}
    return list(BEARER), ({401} if set(roles) >= set(ROLES) else {401, 403})


def _path_parameters(app: Flask, rule: Rule, op: Operation) -> list[dict]:
    out = []
    for name in sorted(rule.arguments, key=rule.rule.index):
        converter = rule._converters.get(name)
        if isinstance(converter, IntegerConverter):
            schema: dict[str, Any] = {"type": "integer", "minimum": 0}
            if getattr(converter, "max", None) is not None:
                schema["maximum"] = converter.max
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        extra = op.path.get(name, {})
        schema.update(extra(app) if callable(extra) else extra)
        out.append({"in": "path", "name": name, "required": True, "schema": schema})
    return out


def _request_body(app: Flask, op: Operation) -> dict | None:
    if op.body is not None:
        schema: Any = op.body
    elif op.json is not None:
        schema = op.json(app) if callable(op.json) else op.json
    elif op.multipart is not None:
        return {"required": True, "content": {"multipart/form-data": {"schema": op.multipart}}}
    else:
        return None
    return {"required": op.body_required, "content": {"application/json": {"schema": schema}}}


def _success(status: int, reply: Any) -> dict:
    if not isinstance(reply, Reply):
        reply = Reply(reply)
    out: dict[str, Any] = {"description": reply.description or SUCCESS.get(status, "成功")}
    if reply.headers:
        out["headers"] = dict(reply.headers)
    body = reply.body
    if isinstance(body, tuple):             # one of several media types
        out["content"] = dict(item for b in body for item in _content(b).items())
    elif body is not None:
        out["content"] = _content(body)
    if reply.description == "" and isinstance(body, File):
        out["description"] = body.description
    return out


def _content(body: Any) -> dict:
    if isinstance(body, File):
        return {body.media_type: {"schema": {"type": "string",
                                             "contentMediaType": body.media_type}}}
    return {"application/json": {"schema": body}}


# --- serving it --------------------------------------------------------------------------

@operation("この API の OpenAPI 3.1 文書", responses={200: Reply(
    {"type": "object"}, "スイート全体（ゲートウェイが提供するすべてのサービス）の API と、"
    "このプロセスの /healthz・/readyz・/metrics を記述した OpenAPI 3.1 文書")})
def openapi_document():
    """The OpenAPI 3.1 document of the whole suite's API as the gateway serves it, from
    whichever process answers (the gateway sends /api/openapi.json to one of them), and
    this process's own probes."""
    doc = current_app.extensions.get("nws.openapi")
    if doc is None:
        whole = current_app.extensions.get("nws.openapi.whole_suite")
        doc = current_app.extensions["nws.openapi"] = build(
            current_app, also=[whole(current_app)] if whole is not None else [])
    return jsonify(doc)


def init_openapi(app: Flask, whole_suite: Callable[[Flask], Flask] | None = None) -> None:
    """Serve the document at ``GET /api/openapi.json`` (built on first request).
    ``whole_suite(app)`` gives an app holding every service's routes (never served), so
    that a process running some services documents them all."""
    if whole_suite is not None:
        app.extensions["nws.openapi.whole_suite"] = whole_suite
    app.add_url_rule(PATH, endpoint="openapi", view_func=public(openapi_document),
                     methods=["GET"])
