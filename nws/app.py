"""The Flask application factory: the HTTP APIs of the services a process serves, plus
/healthz, /readyz and /metrics, the shared static files (/static/) and the security
headers of every response."""
from __future__ import annotations

import functools
import logging
import os
import re
import socket
from typing import Any

from flask import Flask, Response, g, jsonify, request
from marshmallow import fields

from nws.runtime import Runtime
from shared.auth import VERIFIED_TOKENS, AuthStateCache, VerifiedTokens, public, remote_auth_state
from shared.migrate import migrations_current
from shared.headers import init_headers
from shared.pages import STATIC, init_pages
from shared.ratelimit import RateLimits
from shared.observability import (SuiteCollector, correlation_id, metrics,
                                  new_correlation_id, service_name, timer)
from shared.inputguard import init_input_guard
from shared.jsonfast import FastJSONProvider
from shared.openapi import File, Reply, init_openapi, operation
from shared.schemas import ResponseSchema
from shared.web import register_error_handlers

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
log = logging.getLogger(__name__)


def create_app(runtime: Runtime, config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config.update(
        SECRET_KEY=runtime.settings.secret_key,
        NWS_TOKEN_TTL=runtime.settings.token_ttl_seconds,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
    )
    app.json = FastJSONProvider(app)
    app.json.ensure_ascii = False
    if config:
        app.config.update(config)
    app.extensions["nws.runtime"] = runtime
    app.extensions["nws.services"] = runtime.services
    app.extensions["nws.plugins"] = runtime.plugins
    app.extensions["nws.ratelimits"] = RateLimits(runtime.settings)
    init_headers(app, cookie_secure=runtime.settings.cookie_secure)
    init_input_guard(app)          # before any blueprint: their <int:…> are bounded
    app.extensions["nws.auth_state"] = auth_state_cache(runtime)
    app.extensions[VERIFIED_TOKENS] = VerifiedTokens()
    register_error_handlers(app)
    for definition in runtime.definitions.values():
        for bp in definition.blueprints():
            app.register_blueprint(bp)
    init_pages(app)
    _observe(app, runtime)
    _health(app, runtime)
    init_openapi(app, whole_suite=_whole_suite)
    return app


def _whole_suite(app: Flask) -> Flask:
    """Every service's routes on an app that never serves (the OpenAPI document of any
    process covers the whole API the gateway offers, not only its own services)."""
    from nws.runtime import ALL_SERVICES, definitions

    whole = Flask("nws_whole_suite")
    whole.extensions.update(app.extensions)     # plugins: the form codes in the paths
    for definition in definitions(ALL_SERVICES):
        for bp in definition.blueprints():
            whole.register_blueprint(bp)
    return whole


def auth_state_cache(runtime: Runtime) -> AuthStateCache:
    """Where this process gets the revocation state every token is checked against: the
    identity service's tables when it runs here, else identity's API."""
    settings = runtime.settings
    for name, definition in runtime.definitions.items():
        if definition.auth_state is not None:
            return AuthStateCache(functools.partial(definition.auth_state, runtime.services[name]),
                                  settings.auth_refresh_seconds, source=f"{name} (this process)")
    if settings.identity_url:
        caller = ",".join(runtime.definitions) or "none"
        return AuthStateCache(remote_auth_state(settings.identity_url, settings.secret_key, caller),
                              settings.auth_refresh_seconds, source=settings.identity_url)
    if settings.embedded:
        # Only tests and benchmarks build an embedded app without identity: nothing can
        # revoke a token there.
        log.warning("no identity service and no NWS_IDENTITY_URL: tokens are not checked "
                    "against a revocation state")
        return AuthStateCache(dict, settings.auth_refresh_seconds, source="none")
    raise RuntimeError("NWS_IDENTITY_URL must be set for a web process that does not run "
                       "the identity service (e.g. http://web-identity:8000)")


access_log = logging.getLogger("nws.access")
# Probes and scrapes, every few seconds from the orchestrator and Prometheus: counted in
# the metrics, not written to the access log.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _observe(app: Flask, runtime: Runtime) -> None:
    """Correlation ids and request metrics."""
    m = metrics()
    label = ",".join(runtime.definitions) or "none"

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-Id", "")
        g.nws_cid_token = correlation_id.set(
            incoming if REQUEST_ID.match(incoming) else new_correlation_id())
        g.nws_service_token = service_name.set(label)
        g.nws_started = timer()

    # the metrics' labelled children, looked up once per label set (``labels()`` checks
    # and locks on every call; a child, once made, lives as long as its metric)
    counted: dict[tuple, Any] = {}
    timed: dict[str, Any] = {}

    @app.after_request
    def _finish(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = timer() - g.get("nws_started", timer())
        key = (endpoint, request.method, response.status_code)
        counter = counted.get(key)
        if counter is None:
            counter = counted.setdefault(key, m.http_requests.labels(
                endpoint, request.method, str(response.status_code)))
        counter.inc()
        latency = timed.get(endpoint)
        if latency is None:
            latency = timed.setdefault(endpoint, m.http_latency.labels(endpoint))
        latency.observe(elapsed)
        response.headers["X-Request-Id"] = correlation_id.get() or ""
        # The access log: one line per request, the correlation id added by the
        # formatter; the path without its query string (where a secret could travel).
        if request.path not in QUIET_PATHS:
            access_log.info("%s %s %s %.1f ms", request.method, request.path,
                            response.status_code, elapsed * 1000, extra={
                                "http_method": request.method, "path": request.path,
                                "status": response.status_code,
                                "duration_ms": round(elapsed * 1000, 1),
                                "client": request.remote_addr or "",
                                "correlation_id": correlation_id.get()})
        return response

    @app.teardown_request
    def _reset(_exc):
        for var, key in ((correlation_id, "nws_cid_token"), (service_name, "nws_service_token")):
            token = g.pop(key, None)
            if token is not None:
                var.reset(token)


# Checks reported by /readyz that do not make the process unready: while the broker is
# down the outbox keeps what is to be sent; a process with another plugin set than the
# others still works (during a rolling upgrade that is expected) but is named.
DEGRADING = frozenset({"broker", "plugin_set"})


def _plugin_set_check(runtime: Runtime, own: dict, checks: dict) -> list[dict] | None:
    """Compare this process's plugin set with the other registered processes'
    (:mod:`shared.processes`): ``checks["plugin_set"]`` is "ok", or says that this
    process runs another set than most (or that the sets are split evenly) and how.
    Returns the registered processes (id, role, services, digest, ``differs``), None
    where nothing registers (no Redis broker)."""
    if runtime.processes is None or checks.get("broker") != "ok":
        return None             # nothing registers, or Redis is down (said already)
    from shared.processes import difference, mismatched

    try:
        entries = runtime.processes.processes()
    except Exception as exc:  # noqa: BLE001 - the broker check says more
        checks["plugin_set"] = f"unknown: {type(exc).__name__}"
        return None
    others = [e for e in entries if e.get("pid") != os.getpid()
              or e.get("host") != socket.gethostname()]
    me = {"id": "(this process)", "digest": own["digest"], "plugins": own["plugins"]}
    odd = {e["id"] for e in mismatched([*others, me])}
    if "(this process)" in odd:
        majority = [e for e in others if e["id"] not in odd]
        checks["plugin_set"] = (
            f"differs: this process runs plugin set {own['digest']}, "
            + (f"{len(majority)} other processes run {majority[0]['digest']} "
               f"({difference(majority[0], own, where='here')})" if majority
               else "the registered processes are split between plugin sets"))
    else:
        checks["plugin_set"] = "ok"        # any other that differs is named below
    return [{"id": e["id"], "role": e["role"], "services": e["services"],
             "digest": e["digest"], "differs": e["id"] in odd} for e in others]


class HealthSchema(ResponseSchema):
    status = fields.String(required=True, metadata={"description": "ok"})
    services = fields.List(fields.String(), required=True,
                           metadata={"description": "このプロセスが提供するサービス"})


class RegisteredProcessSchema(ResponseSchema):
    id = fields.String(required=True, metadata={"description": "プロセスの名前"})
    role = fields.String(required=True, metadata={"description": "web または worker"})
    services = fields.List(fields.String(), required=True,
                           metadata={"description": "そのプロセスが提供するサービス"})
    digest = fields.String(required=True, metadata={"description": "プラグイン構成のダイジェスト"})
    differs = fields.Boolean(required=True, metadata={
        "description": "多くのプロセスと異なるプラグイン構成で動いているか"})


class ReadySchema(ResponseSchema):
    status = fields.String(required=True, metadata={"description": "ready または not_ready"})
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"description": "確認ごとの結果（ok, pending, error: …）"})
    degraded = fields.List(fields.String(), metadata={
        "description": "動作は続けるが注意が必要な確認（broker, plugin_set）"})
    processes = fields.List(fields.Nested(RegisteredProcessSchema), metadata={
        "description": "Redis に登録されたほかの web・worker プロセス（ブローカーが Redis "
                       "のときのみ）"})


def _health(app: Flask, runtime: Runtime) -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client import REGISTRY

    scrape = CollectorRegistry()
    scrape.register(SuiteCollector(runtime.celery, runtime.services, runtime.definitions,
                                   runtime.plugin_set, runtime.processes))

    @app.get("/healthz")
    @public
    @operation("稼働確認", responses={200: HealthSchema})
    def healthz():
        """Alive: the process answers."""
        return jsonify({"status": "ok", "services": sorted(runtime.definitions)})

    @app.get("/readyz")
    @public
    @operation("準備完了の確認（データベース、マイグレーション、ブローカー）", responses={
        200: ReadySchema, 503: Reply(ReadySchema, "準備ができていない（checks に理由）")})
    def readyz():
        """Ready while every database is reachable at its newest migration: 200, else
        503. The broker is reported but does not decide: while it is down the API keeps
        working and the outbox keeps what is to be sent (``"degraded": ["broker"]``)."""
        checks: dict[str, str] = {}
        for name, definition in runtime.definitions.items():
            db = runtime.databases[name]
            try:
                with db.engine.connect() as conn:
                    checks[f"{name}.database"] = "ok"
                    checks[f"{name}.migrations"] = (
                        "ok" if migrations_current(name, definition.migrations, conn)
                        else "pending")
            except Exception as exc:  # noqa: BLE001
                checks[f"{name}.database"] = f"error: {type(exc).__name__}"
        try:
            with runtime.celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {type(exc).__name__}"
        own = runtime.plugin_set()
        processes = _plugin_set_check(runtime, own, checks)
        ready = all(v == "ok" for k, v in checks.items() if k not in DEGRADING)
        degraded = [k for k, v in checks.items() if k in DEGRADING and v != "ok"]
        body = {"status": ("degraded" if degraded else "ready") if ready else "not_ready",
                "checks": checks, "degraded": degraded, "plugins": own}
        if processes is not None:
            body["processes"] = processes
        return jsonify(body), 200 if ready else 503

    @app.get("/metrics")
    @public
    @operation("Prometheus のメトリクス",
               responses={200: File("text/plain", "Prometheus のテキスト形式")})
    def metrics_view():
        """Prometheus text format: this process's metrics and the suite's gauges."""
        body = generate_latest(REGISTRY) + generate_latest(scrape)
        return Response(body, mimetype="text/plain; version=0.0.4")
