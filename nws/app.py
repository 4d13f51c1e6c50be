"""The Flask application factory: the HTTP APIs of the services a process serves."""
from __future__ import annotations

from flask import Flask, jsonify

from nws.runtime import Runtime
from shared.auth import public
from shared.web import register_error_handlers


def create_app(runtime: Runtime, config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=runtime.settings.secret_key,
        NWS_TOKEN_TTL=runtime.settings.token_ttl_seconds,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    if config:
        app.config.update(config)
    app.extensions["nws.runtime"] = runtime
    app.extensions["nws.services"] = runtime.services
    app.extensions["nws.plugins"] = runtime.plugins
    register_error_handlers(app)
    for definition in runtime.definitions.values():
        for bp in definition.blueprints():
            app.register_blueprint(bp)

    @app.get("/healthz")
    @public
    def healthz():
        return jsonify({"status": "ok", "services": sorted(runtime.definitions)})

    return app
