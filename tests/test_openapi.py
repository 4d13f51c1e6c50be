"""The OpenAPI 3.1 document at GET /api/openapi.json: valid, complete (every /api/ route
of the process, nothing else of the pages), built from the schemas the endpoints load,
with the bearer-token security and the error envelope."""
from __future__ import annotations

import inspect
import re

import pytest
from openapi_spec_validator import validate

from nws.app import create_app
from nws.runtime import Runtime
from shared import openapi
from tests.conftest import embedded_settings


def path_of(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.fixture
def document(idle_suite):
    res = idle_suite.client.get("/api/openapi.json")
    assert res.status_code == 200 and res.mimetype == "application/json"
    return res.get_json()


def test_the_document_is_valid_openapi_3_1_and_needs_no_token(document):
    assert document["openapi"] == "3.1.0"
    validate(document)          # openapi-spec-validator: the 3.1 schema and its references


def test_every_api_route_and_method_is_in_the_document(idle_suite, document):
    app = idle_suite.app
    assert openapi.undocumented(app) == []
    api_rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/")]
    assert len(api_rules) > 60
    for rule in api_rules:
        operations = document["paths"][path_of(rule.rule)]
        for method in openapi.methods_of(rule):
            op = operations[method.lower()]
            assert op["summary"] and op["responses"], (method, rule.rule)
    for shared_route in ("/healthz", "/readyz", "/metrics", "/api/openapi.json"):
        assert shared_route in document["paths"]
    assert not [p for p in document["paths"] if not p.startswith(("/api/", "/healthz",
                                                                  "/readyz", "/metrics"))]


def test_the_body_an_endpoint_loads_is_the_one_documented(idle_suite, document):
    """One source of truth: json_body() loads through the schema the operation
    declares, and that schema is the request body of the document."""
    app = idle_suite.app
    checked = 0
    for rule in openapi.documented_rules(app):
        view = app.view_functions[rule.endpoint]
        op = openapi.declared(view)
        source = inspect.getsource(inspect.unwrap(view))
        if "json_body(" in source:
            assert op.body is not None, f"{rule.endpoint} loads a body it does not declare"
        if op.body is None:
            continue
        (method,) = openapi.methods_of(rule)
        body = document["paths"][path_of(rule.rule)][method.lower()]["requestBody"]
        ref = body["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[1]
        assert name == op.body.__name__.removesuffix("Schema"), rule.endpoint
        fields = set(document["components"]["schemas"][name]["properties"])
        assert fields == {f.data_key or n for n, f in op.body().load_fields.items()}
        checked += 1
    assert checked >= 14


def test_bad_input_answers_are_documented_as_the_error_envelope(document):
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "details"}
    post = document["paths"]["/api/intake/applications"]["post"]
    for status in ("400", "401", "403", "415", "422"):
        assert post["responses"][status] == {"$ref": f"#/components/responses/Error{status}"}
    ref = document["components"]["responses"]["Error422"]["content"]["application/json"]
    assert ref["schema"] == {"$ref": "#/components/schemas/Error"}


def test_bearer_tokens_from_the_token_endpoint_secure_the_api(document):
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    paths = document["paths"]
    assert paths["/api/auth/token"]["post"]["security"] == []
    assert "/api/auth/token" in scheme["description"]
    queue = paths["/api/review/queue"]["get"]
    assert queue["security"] == [{"bearerAuth": []}]
    assert set(queue["x-roles"]) == {"forwarder", "primary_reviewer", "secondary_reviewer",
                                     "operator"}
    pull = paths["/api/master/subscriptions/{sub_id}/pull"]["get"]
    assert {"bearerAuth": []} in pull["security"] and len(pull["security"]) == 2
    assert paths["/api/auth/revocations"]["get"]["security"] == [{"serviceToken": []}]


def test_files_are_described_by_their_content_types(document):
    paths = document["paths"]
    xlsx = paths["/api/intake/applications/{app_id}/forms/{code}.xlsx"]["get"]
    assert list(xlsx["responses"]["200"]["content"]) == [openapi.XLSX]
    forms_zip = paths["/api/intake/applications/{app_id}/forms.zip"]["get"]
    assert list(forms_zip["responses"]["200"]["content"]) == ["application/zip"]
    export = paths["/api/master/versions/{number}/export.{fmt}"]["get"]
    assert set(export["responses"]["200"]["content"]) == {"application/json", "application/zip",
                                                          openapi.XLSX}
    upload = paths["/api/intake/applications/{app_id}/uploads"]["post"]["requestBody"]
    assert upload["content"]["multipart/form-data"]["schema"]["required"] == ["file"]
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


def test_form_paths_name_the_forms_the_plugins_provide(document):
    put = document["paths"]["/api/intake/applications/{app_id}/forms/{code}"]["put"]
    code = next(p for p in put["parameters"] if p["name"] == "code")
    assert "02-01" in code["schema"]["enum"] and "03-09" in code["schema"]["enum"]
    bodies = put["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert len(bodies) == len(code["schema"]["enum"])


def test_any_web_process_documents_the_whole_suite_as_the_gateway_serves_it(tmp_path,
                                                                          document):
    """Behind the gateway /api/openapi.json reaches one web process (web-intake): a
    process running one service still documents every service's API, as the embedded
    suite does, and its own probes."""
    runtime = Runtime(embedded_settings(tmp_path / "var"), services=["review"])
    try:
        app = create_app(runtime, {"TESTING": True})
        doc = app.test_client().get("/api/openapi.json").get_json()
    finally:
        runtime.close()
    api = {p for p in doc["paths"] if p.startswith("/api/")}
    assert api == {p for p in document["paths"] if p.startswith("/api/")}
    for prefix in ("/api/auth/", "/api/intake/", "/api/review/", "/api/matching/",
                   "/api/master/"):
        assert any(p.startswith(prefix) for p in api), prefix
    assert "/readyz" in doc["paths"]
    validate(doc)
