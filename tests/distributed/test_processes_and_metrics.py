"""What an operator of several web and worker processes sees (docs/runbook.md,
"Alerts"): every process registers itself in Redis with its plugin set, so ``nws
status`` and ``/readyz`` name a web process whose plugin set differs from the others';
a worker's /metrics shows workers online, the broker, unacknowledged messages, dead
letters, outbox age and tasks by outcome, a plugin crash among the failures."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.request

from shared.observability import SUITE_GAUGES
from tests import factories
from tests.conftest import wait_for
from tests.distributed.conftest import NWS, REPO


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as res:
        return res.read().decode()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of a Prometheus text exposition (None if absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.compile(rf"^{name}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if wanted
                         else rf"^{name} (\S+)$")
    for line in text.splitlines():
        found = pattern.match(line)
        if found:
            return float(found[1])
    return None


def test_nws_status_and_readyz_name_the_web_process_with_another_plugin_set(distributed):
    d = distributed
    same = [d.start_web("intake"), d.start_web("review")]
    odd = d.start_web("intake", {"NWS_DISABLE_PLUGINS": "route_secondary"})

    # the web process without the plugin says so in its /readyz, and stays in rotation
    body = json.loads(get(odd, "/readyz"))
    assert body["status"] == "degraded" and body["degraded"] == ["plugin_set"]
    assert body["checks"]["plugin_set"].startswith("differs: this process runs plugin set")
    assert "missing here: route_secondary" in body["checks"]["plugin_set"]
    # the others are fine, and name it among the processes they know of
    for port in same:
        body = json.loads(get(port, "/readyz"))
        assert body["status"] == "ready" and body["checks"]["plugin_set"] == "ok"
        differing = [p for p in body["processes"] if p["differs"]]
        assert len(differing) == 1 and differing[0]["services"] == ["intake"]
        assert len(body["processes"]) == 2          # the two others
    metrics = get(same[0], "/metrics")
    assert sample(metrics, "nws_plugin_set_mismatched_processes") == 1
    assert sample(metrics, "nws_web_processes_online", service="intake") == 2
    assert sample(metrics, "nws_web_processes_online", service="review") == 1

    # nws status compares every registered web process with its own plugin set
    status = subprocess.run([NWS, "status", "--timeout", "0.5"], env=d.env, cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    lines = [l for l in status.stdout.splitlines() if l.strip().startswith("web:")]
    assert len(lines) == 3, status.stdout
    [flagged] = [l for l in lines if "DIFFERS" in l]
    assert "(intake)" in flagged and "missing there: route_secondary" in flagged
    assert sum(l.endswith(": same") for l in lines) == 2


def test_a_worker_reports_workers_broker_unacked_and_a_plugin_crash_as_a_failure(
        distributed, tmp_path):
    d = distributed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "prom").mkdir()
    d.start_worker("intake", {"NWS_METRICS_PORT": str(port),
                              "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
                              "NWS_PLUGINS": "tests.distributed.crashing_validator_plugin"})
    before = get(port, "/metrics")
    assert sample(before, "nws_broker_up") == 1
    assert sample(before, "nws_workers_online", service="intake") == 1
    assert sample(before, "nws_workers_online", service="review") == 0   # none started
    assert sample(before, "nws_broker_unacked_messages", queue="intake") == 0
    assert sample(before, "nws_dead_letters", service="intake") == 0
    assert sample(before, "nws_outbox_oldest_age_seconds", service="intake") >= 0

    h = d.headers("demo-applicant")
    app_id = factories.create_application(d.client, h)
    factories.put_forms(d.client, h, app_id, factories.all_forms())
    # 02-01's validation runs for a second: taken from the queue, not yet acknowledged
    wait_for(lambda: (sample(get(port, "/metrics"), "nws_broker_unacked_messages",
                             queue="intake") or 0) >= 1,
             timeout=60, interval=0.1, what="an unacknowledged intake message")
    wait_for(lambda: all(f["status"] != "validating"
                         for f in d.get_app(app_id)["forms"].values()),
             timeout=90, interval=0.2, what="forms validated")
    form = d.get_app(app_id)["forms"]["02-01"]
    assert any(f["rule"] == "plugin.failed" for f in form["findings"])

    task = "nws.intake.form.validation_requested"
    after = wait_for(lambda: (lambda t: t if sample(
        t, "nws_tasks_total", outcome="plugin_failure", task=task) else None)(
            get(port, "/metrics")), timeout=30, what="the plugin crash counted")
    assert sample(after, "nws_tasks_total", outcome="plugin_failure", task=task) == 1
    # the other forms were validated by that request too, or (saved while it ran) by the
    # one request sent after it: a task whose plugins all answered is a success
    assert (sample(after, "nws_tasks_total", outcome="success", task=task) or 0) <= 1
    assert sample(after, "nws_plugin_failures_total", plugin="crashing_validator_plugin",
                  hook="nws_validate_form") == 1
    assert sample(after, "nws_broker_unacked_messages", queue="intake") == 0
    # every scrape-time gauge the alert rules may name is there (tests/test_alerts.py)
    for name in SUITE_GAUGES:
        assert f"# TYPE {name} gauge" in after, name

    # the worker stopped: it is no longer online
    d.stop_worker("intake")
    web = d.start_web("intake")
    assert sample(get(web, "/metrics"), "nws_workers_online", service="intake") == 0


def test_a_process_registers_while_it_runs_and_withdraws_when_it_stops(redis_client):
    import uuid

    from shared.processes import Heartbeat, ProcessRegistry, entry
    from tests.distributed.conftest import REDIS_URL

    registry = ProcessRegistry(REDIS_URL, f"nws-test-{uuid.uuid4().hex[:8]}:")
    plugins = {"digest": "d1", "plugins": [{"name": "a", "version": "1"}]}
    beat = Heartbeat(registry, lambda: entry("web:intake@h:1", "web", ["intake"], plugins),
                     interval=0.1).start()
    try:
        [found] = wait_for(lambda: registry.processes("web"), timeout=5)
        assert found["id"] == "web:intake@h:1" and found["digest"] == "d1"
        assert registry.client.ttl(registry._key(found["id"])) > 0    # expires if killed
        assert registry.processes("worker") == []
    finally:
        beat.stop()
    assert registry.processes() == []


def test_the_plugin_set_most_processes_run_decides_which_differ():
    from shared.processes import difference, mismatched

    def proc(name, digest):
        return {"id": name, "digest": digest}

    assert mismatched([proc("a", "x"), proc("b", "x")]) == []
    assert [p["id"] for p in mismatched([proc("a", "x"), proc("b", "y"), proc("c", "x")])] == ["b"]
    # split evenly: nothing says which set is meant, every one is named
    assert len(mismatched([proc("a", "x"), proc("b", "y")])) == 2
    assert difference({"plugins": [{"name": "p", "version": "1"}]},
                      {"plugins": [{"name": "q", "version": "2"}]}) == (
        "only there: q 2; missing there: p 1")
