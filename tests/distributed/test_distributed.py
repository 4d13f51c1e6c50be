"""The lifecycle with real worker processes per queue, Redis and PostgreSQL, including a
worker killed mid-task and a broker that loses every queued message."""
from __future__ import annotations

import os
import signal

from sqlalchemy import func, select

from tests.conftest import wait_for
from tests.distributed.conftest import decide, submit_new_application

# every service with a queue: identity's worker takes the notifications the others send
QUEUE_SERVICES = ("identity", "intake", "review", "matching", "master")


def test_lifecycle_through_worker_processes(distributed):
    d = distributed
    for service in QUEUE_SERVICES:
        d.start_worker(service)
    app_id = submit_new_application(d)
    d.wait_status(app_id, "primary_review")
    assert decide(d, "demo-pref", app_id).status_code == 201
    d.wait_status(app_id, "secondary_review")
    assert decide(d, "demo-mic", app_id, "承認", "問題なし").status_code == 201
    app = d.wait_status(app_id, "registered")
    assert app["master_version"] == 1
    matching = d.client.get(f"/api/matching/applications/{app_id}",
                            headers=d.headers("demo-applicant"))
    assert matching.status_code == 200
    # Every message was acknowledged: nothing is left for the sweepers.
    for service in ("intake", "review", "master"):
        ctx = d.runtime.services[service]
        wait_for(lambda: _unacked(ctx) == 0, timeout=90, what=f"{service} outbox drained")
    # the applicant was told of each approval and of the registration (identity's inbox)
    from services.identity.models import Notification

    def kinds():
        with d.runtime.services["identity"].transaction() as session:
            return {n.kind for n in session.query(Notification).filter(
                Notification.application_id == app_id)}

    wait_for(lambda: {"approved", "registered"} <= kinds(), timeout=60,
             what="the applicant's notices of the approvals and the registration")


def _unacked(ctx) -> int:
    with ctx.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(ctx.Outbox)
                              .where(ctx.Outbox.acked_at.is_(None)))


def test_worker_killed_mid_task_does_the_work_exactly_once(distributed, tmp_path):
    d = distributed
    marker = tmp_path / "slow-marker"
    for service in ("intake", "review", "matching"):
        d.start_worker(service)
    d.start_worker("master", {"NWS_PLUGINS": "tests.distributed.slow_master_plugin",
                              "NWS_TEST_SLOW_MARKER": str(marker)})
    app_id = submit_new_application(d)
    d.wait_status(app_id, "primary_review")
    assert decide(d, "demo-pref", app_id).status_code == 201
    d.wait_status(app_id, "secondary_review")
    assert decide(d, "demo-mic", app_id).status_code == 201

    pid = int(wait_for(lambda: marker.exists() and marker.read_text(), timeout=90,
                       what="master task started"))
    assert pid != d.workers["master"].pid  # the pool process, not the supervisor
    os.kill(pid, signal.SIGKILL)            # dies inside the registration transaction

    app = d.wait_status(app_id, "registered", timeout=60)
    assert app["master_version"] == 1
    with d.runtime.services["master"].db.transaction() as session:
        from services.master.models import MasterVersion, Registration

        assert session.scalar(select(func.count()).select_from(MasterVersion)) == 1
        assert session.scalar(select(func.count()).select_from(Registration)) == 1
    registered = [h for h in app["history"] if h["event"] == "registered"]
    assert len(registered) == 1


def test_broker_flushed_mid_flow_the_sweeper_finishes_it(distributed):
    d = distributed
    d.start_worker("intake")
    d.start_worker("matching")
    app_id = submit_new_application(d)
    d.wait_status(app_id, "submitted")
    # The submission now waits in Redis for a review worker that is not running.
    assert d.queue_length("review") >= 1
    d.redis.flushdb()                       # Redis restarted: every queued message is gone
    assert d.queue_length("review") == 0
    d.start_worker("review")
    app = d.wait_status(app_id, "primary_review", timeout=60)
    assert app["stage"] == "primary"


def test_worker_metrics_add_up_over_its_pool_processes(distributed, tmp_path):
    """A prefork worker with two processes serves one /metrics for both
    (prometheus-client multiprocess mode)."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = distributed
    (tmp_path / "prom").mkdir()
    d.start_worker("intake", {"NWS_METRICS_PORT": str(port),
                              "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")},
                   concurrency=2)
    h = d.headers("demo-applicant")
    from tests import factories

    # forms saved while a validation request is pending share it: each save waits for
    # the last one's validation, six tasks for the pool's two processes
    app_id = factories.create_application(d.client, h)
    saves = 6
    for n in range(saves):
        factories.put_forms(d.client, h, app_id, {"02-01": factories.form_02_01()})
        wait_for(lambda: (lambda f: f["status"] == "valid" and f["revision"] == n + 1)(
            d.get_app(app_id)["forms"]["02-01"]), timeout=90, interval=0.1)

    def scraped():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as res:
            return res.read().decode()

    text = wait_for(lambda: (lambda t: t if 'task="nws.intake.form.validation_requested"' in t
                             else None)(scraped()), timeout=90, what="task metrics")
    line = next(l for l in text.splitlines() if l.startswith(
        'nws_tasks_total{outcome="success",task="nws.intake.form.validation_requested"}'))
    assert float(line.split()[-1]) >= saves
    assert 'nws_queue_depth{queue="intake"}' in text
