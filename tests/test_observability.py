"""Health, readiness, metrics, correlation ids and logs."""
from __future__ import annotations

import json
import logging

from click.testing import CliRunner

from nws.app import create_app
from nws.runtime import Runtime
from shared.observability import JsonFormatter, correlation_id
from tests import factories
from tests.conftest import embedded_settings, wait_for
from tests.test_lifecycle_embedded import decide, prepare_submitted


def test_healthz_and_readyz_answer_when_everything_is_up(idle_suite):
    assert idle_suite.client.get("/healthz").status_code == 200
    res = idle_suite.client.get("/readyz")
    assert res.status_code == 200, res.get_json()
    checks = res.get_json()["checks"]
    assert checks["broker"] == "ok"
    assert checks["intake.migrations"] == "ok" and checks["master.database"] == "ok"


def test_readyz_is_503_while_migrations_are_pending(tmp_path):
    runtime = Runtime(embedded_settings(tmp_path / "var"))
    try:
        res = create_app(runtime).test_client().get("/readyz")
        assert res.status_code == 503
        assert res.get_json()["checks"]["review.migrations"] == "pending"
    finally:
        runtime.close()


def test_readyz_is_ready_but_degraded_while_the_broker_is_unreachable(tmp_path):
    """The API keeps working through the outbox while the broker is down: the process
    stays in rotation (200) and says the broker is degraded."""
    runtime = Runtime(embedded_settings(tmp_path / "var", env={
        "NWS_BROKER_URL": "redis://127.0.0.1:1/0"}))
    runtime.migrate()
    try:
        res = create_app(runtime).test_client().get("/readyz")
        assert res.status_code == 200, res.get_json()
        body = res.get_json()
        assert body["status"] == "degraded" and body["degraded"] == ["broker"]
        assert body["checks"]["broker"].startswith("error")
        assert body["checks"]["intake.database"] == "ok"
    finally:
        runtime.close()


def test_metrics_say_the_broker_is_down_while_it_is_unreachable(tmp_path, idle_suite):
    assert "nws_broker_up 1.0" in idle_suite.client.get("/metrics").get_data(as_text=True)
    runtime = Runtime(embedded_settings(tmp_path / "down", env={
        "NWS_BROKER_URL": "redis://127.0.0.1:1/0"}))
    runtime.migrate()
    try:
        text = create_app(runtime).test_client().get("/metrics").get_data(as_text=True)
        assert "nws_broker_up 0.0" in text
        assert "nws_workers_online{" not in text     # no value rather than a wrong 0
    finally:
        runtime.close()


def test_readyz_is_503_when_a_database_is_unreachable(tmp_path):
    runtime = Runtime(embedded_settings(tmp_path / "var", env={
        "NWS_REVIEW_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}))
    try:
        res = create_app(runtime).test_client().get("/readyz")
        assert res.status_code == 503
        assert res.get_json()["checks"]["review.database"].startswith("error")
    finally:
        runtime.close()


def test_every_request_writes_one_access_log_line(idle_suite, caplog):
    """Method, path without its query string, status, duration and the correlation id;
    probes are left out."""
    headers = {**idle_suite.headers("demo-applicant"), "X-Request-Id": "access-0123456789"}
    caplog.set_level(logging.INFO, logger="nws.access")
    cid = headers["X-Request-Id"]
    res = idle_suite.client.get("/api/intake/applications?token=secret-in-query",
                                headers=headers)
    assert res.status_code == 200
    idle_suite.client.get("/healthz")
    # (other tests' servers may still be answering in this process: only this app's)
    lines = [r for r in caplog.records if r.name == "nws.access"
             and r.getMessage().split()[1] in ("/api/intake/applications", "/healthz")]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    entry = json.loads(JsonFormatter("web").format(lines[0]))
    assert entry["correlation_id"] == cid
    assert entry["http_method"] == "GET" and entry["path"] == "/api/intake/applications"
    assert entry["status"] == 200 and entry["duration_ms"] >= 0
    assert "secret-in-query" not in json.dumps(entry)


def test_metrics_report_requests_queues_and_outbox(idle_suite):
    h = idle_suite.headers("demo-applicant")
    factories.create_application(idle_suite.client, h)
    text = idle_suite.client.get("/metrics").get_data(as_text=True)
    assert 'nws_http_requests_total{endpoint="/api/intake/applications",method="POST",status="201"}' in text
    assert "nws_http_request_duration_seconds_bucket" in text
    assert 'nws_queue_depth{queue="intake"}' in text
    assert 'nws_outbox_backlog{service="intake"}' in text
    assert 'nws_outbox_oldest_age_seconds{service="intake"}' in text


def test_correlation_id_follows_the_application_through_every_service(suite):
    cid = "req-0123456789abcdef"
    h = {**suite.headers("demo-applicant"), "X-Request-Id": cid}
    app_id = factories.create_application(suite.client, suite.headers("demo-applicant"))
    factories.put_forms(suite.client, suite.headers("demo-applicant"), app_id,
                        factories.all_forms())
    wait_for(lambda: all(f["status"] == "valid" for f in suite.get_app(app_id)["forms"].values()))
    res = suite.client.post(f"/api/intake/applications/{app_id}/submit", headers=h)
    assert res.headers["X-Request-Id"] == cid
    suite.wait_status(app_id, "primary_review")

    def envelopes(service):
        ctx = suite.ctx(service)
        with ctx.db.transaction() as s:
            from sqlalchemy import select

            return [row.envelope for row in s.scalars(select(ctx.Outbox))]

    intake = [e for e in envelopes("intake") if e["type"] in (
        "application.validation_requested", "application.submitted", "delegations.submitted")]
    assert {e["correlation_id"] for e in intake} == {cid}
    routed = [e for e in envelopes("review") if e["type"] == "application.status_changed"]
    assert {e["correlation_id"] for e in routed} == {cid}
    matching = envelopes("matching")
    assert matching and {e["correlation_id"] for e in matching} == {cid}


def test_log_lines_are_json_with_the_correlation_id():
    record = logging.LogRecord("nws.test", logging.INFO, __file__, 1, "routed %s", ("x",), None)
    record.application_id = 42
    token = correlation_id.set("cid-42")
    try:
        line = json.loads(JsonFormatter("review").format(record))
    finally:
        correlation_id.reset(token)
    assert line["correlation_id"] == "cid-42" and line["message"] == "routed x"
    assert line["application_id"] == 42 and line["service"] == "review"


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(JsonFormatter().format(record))


def test_no_personal_data_reaches_the_logs(suite):
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        app_id = prepare_submitted(suite)
        suite.wait_status(app_id, "primary_review")
        decide(suite, "demo-pref", app_id, "否認", "山田 一郎 の役職が誤り")
        suite.wait_status(app_id, "returned")
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
    text = "\n".join(capture.lines)
    assert capture.lines, "nothing was logged at all"
    forms = factories.all_forms()
    personal = {forms["02-01"]["system_chief"]["name"], forms["02-01"]["system_manager"]["name"],
                forms["02-02"]["normal_contacts"][0]["phone"],
                forms["02-02"]["normal_contacts"][0]["email"],
                forms["02-02"]["emergency_contacts"][0]["phone"],
                forms["02-02"]["emergency_contacts"][0]["email"], "demo-pass-2026"}
    leaked = [p for p in personal if p in text]
    assert leaked == []


def test_nws_status_prints_queues_outbox_and_errors(tmp_path, monkeypatch):
    from nws.cli import main

    monkeypatch.setenv("NWS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("NWS_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["status", "--timeout", "0.5"])
    assert result.exit_code == 0, result.output
    assert "queue" in result.output and "waiting" in result.output
    for queue in ("intake", "review", "matching", "master"):
        assert queue in result.output
    assert "outbox" in result.output and "last errors: none" in result.output


def test_nws_status_shows_the_storage_used_by_uploads_and_attachments(tmp_path, monkeypatch):
    import io

    from nws.cli import main
    from shared import workbook as wbk
    from shared.pluginmanager import form_specs
    from tests.conftest import Suite

    pdf = b"%PDF-1.4\n" + b"0" * 1000 + b"\n%%EOF\n"
    s = Suite(tmp_path / "var", start_worker=False)   # nothing reads the upload: held
    try:
        headers = s.headers("demo-applicant")
        app_id = factories.create_application(s.client, headers)
        layout = form_specs(s.runtime.plugins)["02-01"].layout
        book = wbk.write_workbook([wbk.FormPart(layout, factories.form_02_01())])
        for kind, content, name in (("uploads", book, "様式.xlsx"),
                                    ("attachments", pdf, "条例.pdf"),
                                    ("attachments", pdf, "規約.pdf")):
            res = s.client.post(f"/api/intake/applications/{app_id}/{kind}", headers=headers,
                                data={"file": (io.BytesIO(content), name)},
                                content_type="multipart/form-data")
            assert res.status_code in (201, 202), res.get_json()
    finally:
        s.close()
    monkeypatch.setenv("NWS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("NWS_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["status", "--timeout", "0.5"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert lines["storage"].split() == ["storage", "files", "bytes"]
    assert lines["attachments"].split() == ["attachments", "2", f"{2 * len(pdf):,}"]
    assert lines["uploads"].split()[:3] == ["uploads", "1", f"{len(book):,}"]
    assert f"(bytes still held until read: 1 upload, {len(book):,} bytes)" in lines["uploads"]
    assert lines["total"].split()[2:] == ["3", f"{len(book) + 2 * len(pdf):,}"]


def test_one_application_is_followed_through_every_service_in_the_logs(suite):
    """Every log line along an application's path — the tasks' own and Celery's — names
    the request's correlation id, the service, the task, the message and the
    application: the submission's id is found in intake, review and matching, the
    approval's in intake and master."""
    from tests.test_lifecycle_embedded import decide

    capture = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.INFO)
    try:
        h = suite.headers("demo-applicant")
        app_id = factories.create_application(suite.client, h)
        factories.put_forms(suite.client, h, app_id, factories.all_forms())
        wait_for(lambda: all(f["status"] == "valid"
                             for f in suite.get_app(app_id)["forms"].values()))
        submitted = "submit-0123456789ab"
        suite.client.post(f"/api/intake/applications/{app_id}/submit",
                          headers={**h, "X-Request-Id": submitted})
        suite.wait_status(app_id, "primary_review")
        assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
        suite.wait_status(app_id, "secondary_review")
        approved = "approve-0123456789ab"
        res = suite.client.post(f"/api/review/applications/{app_id}/decisions",
                                json={"result": "承認", "comment": ""},
                                headers={**suite.headers("demo-mic"), "X-Request-Id": approved})
        assert res.status_code == 201
        suite.wait_status(app_id, "registered")
        wait_for(lambda: any(json.loads(line).get("service") == "master"
                             and json.loads(line).get("correlation_id") == approved
                             for line in capture.lines), timeout=20,
                 what=f"master's lines in {sorted(set(capture.lines[-30:]))}")
    finally:
        root.removeHandler(capture)
        root.setLevel(level)
    lines = [json.loads(line) for line in capture.lines]

    def along(cid):
        return [line for line in lines if line.get("correlation_id") == cid]

    assert {"intake", "review", "matching"} <= {line["service"] for line in along(submitted)}
    # (review decided in the request itself: its access line; the tasks it caused.)
    assert {"intake", "master"} <= {line["service"] for line in along(approved)}
    # The access line of the request, and Celery's own lines of the tasks it caused.
    assert any(line["logger"] == "nws.access" and line["path"].endswith("/submit")
               for line in along(submitted))
    celery_lines = [line for line in along(submitted) + along(approved)
                    if line["logger"].startswith("celery")]
    assert celery_lines, "no Celery line carries the correlation id"
    tasks = [line for line in lines if line.get("task", "").startswith("nws.")
             and line.get("application_id") == app_id]
    assert {t["task"].split(".")[1] for t in tasks} >= {"intake", "review", "master"}
    assert all(t.get("message_id") for t in tasks)


def test_metrics_are_made_once_when_threads_ask_at_the_same_moment():
    """`nws serve` starts its embedded worker before the web app: both may ask for the
    metrics at once, which must not register them twice (DuplicateTimeseries)."""
    import subprocess
    import sys

    code = (
        "import threading\n"
        "from shared import observability\n"
        "start = threading.Barrier(16); got = []; errors = []\n"
        "def ask():\n"
        "    start.wait()\n"
        "    try:\n"
        "        got.append(observability.metrics())\n"
        "    except Exception as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=ask) for _ in range(16)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "assert not errors, errors\n"
        "assert len(got) == 16 and len({id(m) for m in got}) == 1\n"
        "print('ok')\n")
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
