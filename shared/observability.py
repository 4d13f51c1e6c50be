"""Observability shared by every process: the correlation id that follows one
application through HTTP requests and tasks, JSON logs, and Prometheus metrics.

Logs never carry personal data: the suite logs ids, statuses, task names and error
classes, never form contents, names, phone numbers or e-mail addresses.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import threading
import time
import uuid
from typing import Callable, Iterable

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nws_correlation_id", default=None)
service_name: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nws_service", default=None)
# Plugin faults met by the task running in this thread (reset when a task starts): a
# task that contained a plugin's fault is counted with the outcome "plugin_failure".
plugin_faults_in_task: contextvars.ContextVar[int] = contextvars.ContextVar(
    "nws_plugin_faults_in_task", default=0)

# The task a worker is running (its name, the message id, the application it is about),
# set around every task by the runtime's task_prerun/task_postrun handlers.
task_fields: contextvars.ContextVar[dict] = contextvars.ContextVar("nws_task_fields",
                                                                  default={})

# Attributes of a LogRecord that are not user-supplied extras.
_STANDARD = (set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)
             | {"message", "asctime", "nws_context", "data"})
# Celery's "Task … received" line is written by the worker's main process before the task
# runs; its arguments' repr (``argsrepr``, set by the outbox) names the message.
_ARGSREPR = re.compile(r"envelope (?P<id>\S+) \S+ cid=(?P<cid>[A-Za-z0-9._-]+)"
                       r"(?: app=(?P<app>\d+))?")


def log_context() -> dict:
    """What every log line written now should carry."""
    context = {"correlation_id": correlation_id.get(), "service": service_name.get()}
    context.update(task_fields.get())
    return context


def bind_task(task_name: str, task_id: str | None, args) -> tuple:
    """Set the log context of a task about to run from its envelope argument; returns
    the tokens to give to :func:`unbind_task`."""
    envelope = args[0] if args and isinstance(args[0], dict) else {}
    payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else {}
    fields = {"task": task_name, "message_id": envelope.get("id") or task_id}
    if isinstance(payload.get("application_id"), int):
        fields["application_id"] = payload["application_id"]
    parts = task_name.split(".")
    tokens = (task_fields.set(fields),
              correlation_id.set(envelope.get("correlation_id") or correlation_id.get()),
              service_name.set(parts[1] if len(parts) > 2 and parts[0] == "nws"
                               else service_name.get()))
    return tokens


def unbind_task(tokens: tuple) -> None:
    for var, token in zip((task_fields, correlation_id, service_name), tokens):
        var.reset(token)


def install_log_context() -> None:
    """Stamp every log record, when it is made, with :func:`log_context` — so that a
    record formatted later (by a queue handler, or a test's capture) still carries the
    correlation id of the request or task that wrote it. Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "nws_context", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.nws_context = log_context()
        return record

    factory.nws_context = True
    logging.setLogRecordFactory(factory)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation id, process
    role, and any ``extra=`` fields."""

    def __init__(self, role: str = "") -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        context = dict(getattr(record, "nws_context", None) or log_context())
        data = getattr(record, "data", None)
        if isinstance(data, dict) and context.get("correlation_id") is None:
            # Celery's own line about a message it received: named by its argsrepr.
            found = _ARGSREPR.search(str(data.get("args") or ""))
            if found:
                context["correlation_id"] = found["cid"]
                context.setdefault("message_id", found["id"])   # the envelope's id
                if found["app"]:
                    context["application_id"] = int(found["app"])
            context.setdefault("task", data.get("name"))
            context.setdefault("message_id", data.get("id"))
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": context.pop("correlation_id", None),
            "service": context.pop("service", None) or self.role or None,
            "pid": record.process,
        }
        entry.update({k: v for k, v in context.items() if v is not None})
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, json_logs: bool | None = None,
                      role: str = "") -> None:
    """Root logging for a process: JSON lines unless NWS_LOG_FORMAT=text."""
    if json_logs is None:
        json_logs = os.environ.get("NWS_LOG_FORMAT", "json") != "text"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(role) if json_logs else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    install_log_context()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


# --- metrics ------------------------------------------------------------------------

class Metrics:
    """The suite's Prometheus metrics. Created per process by the composition root
    (prometheus_client is imported lazily so a worker can switch it to multiprocess mode
    through PROMETHEUS_MULTIPROC_DIR before the first metric exists)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.http_requests = Counter(
            "nws_http_requests_total", "HTTP requests by service, endpoint, method and status",
            ["endpoint", "method", "status"])
        self.http_latency = Histogram(
            "nws_http_request_duration_seconds", "HTTP request latency by endpoint",
            ["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.tasks = Counter("nws_tasks_total", "Tasks run, by task name and outcome",
                             ["task", "outcome"])
        self.task_duration = Histogram(
            "nws_task_duration_seconds", "Task run time by task name", ["task"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
        self.deliveries = Counter(
            "nws_deliveries_total", "Outgoing webhook and master deliveries by kind and outcome",
            ["kind", "outcome"])
        self.logins_refused = Counter(
            "nws_login_refused_total", "Login attempts refused before the password was "
            "checked, by reason (throttled: a key must wait; busy: every login slot of the "
            "web process was taken)", ["reason"])
        self.plugin_failures = Counter(
            "nws_plugin_failures_total",
            "Plugin calls that raised or returned a wrong result, by plugin and hook",
            ["plugin", "hook"])


_metrics: Metrics | None = None
_metrics_lock = threading.Lock()


def metrics() -> Metrics:
    """This process's metrics (created on first use, once: the embedded worker's thread
    and the web app's set-up may ask at the same moment, and registering the same metric
    twice is prometheus_client's DuplicateTimeseries)."""
    global _metrics
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                _metrics = Metrics()
    return _metrics


# The gauges :class:`SuiteCollector` exports (the Prometheus alert rules of
# deploy/prometheus-alerts.yml may name these and the metrics of :class:`Metrics`).
SUITE_GAUGES = (
    "nws_queue_depth", "nws_broker_up", "nws_broker_unacked_messages",
    "nws_outbox_backlog", "nws_outbox_oldest_age_seconds", "nws_dead_letters",
    "nws_plugin_set_info", "nws_workers_online", "nws_web_processes_online",
    "nws_plugin_set_mismatched_processes",
)


class SuiteCollector:
    """Gauges read at scrape time: the broker (up, queue depth and unacknowledged
    messages per queue of this process's services), outbox backlog, the age of its
    oldest unacknowledged message and dead letters per service of this process, this
    process's plugin set, and — from the processes registered in Redis
    (:mod:`shared.processes`) — workers and web processes online per service and how many
    processes run another plugin set than most."""

    def __init__(self, celery, services: dict, queues: Iterable[str],
                 plugin_set: Callable[[], dict] | None = None, processes=None) -> None:
        self.celery = celery
        self.services = services
        self.queues = tuple(queues)
        self.plugin_set = plugin_set
        self.processes = processes

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily("nws_queue_depth", "Messages waiting per service queue",
                                  labels=["queue"])
        depths = queue_depths(self.celery, self.queues)
        for queue, count in depths.items():
            if count is not None:
                depth.add_metric([queue], count)
        yield depth
        up = not depths or any(count is not None for count in depths.values())
        yield GaugeMetricFamily("nws_broker_up", "1 while the broker answers, 0 while it "
                                "does not", value=1 if up else 0)
        backlog = GaugeMetricFamily("nws_outbox_backlog",
                                    "Outbox messages not yet acknowledged", labels=["service"])
        oldest = GaugeMetricFamily("nws_outbox_oldest_age_seconds",
                                   "Age of the oldest unacknowledged outbox message",
                                   labels=["service"])
        dead = GaugeMetricFamily("nws_dead_letters",
                                 "Messages kept as dead letters (nws dead-letters list)",
                                 labels=["service"])
        for name, ctx in self.services.items():
            count, age = outbox_backlog(ctx)
            backlog.add_metric([name], count)
            oldest.add_metric([name], age)
            dead.add_metric([name], dead_letter_count(ctx))
        yield backlog
        yield oldest
        yield dead
        if self.plugin_set is not None:
            loaded = self.plugin_set()
            info = GaugeMetricFamily(
                "nws_plugin_set_info", "The plugin set this process loaded (its digest and "
                "size); processes of one deployment should all show the same digest",
                labels=["digest", "plugins"])
            info.add_metric([loaded["digest"], str(len(loaded["plugins"]))], 1)
            yield info
        if self.processes is not None and up:
            yield from self._registered()

    def _registered(self):
        from prometheus_client.core import GaugeMetricFamily

        from shared.messaging import QUEUES
        from shared.processes import mismatched

        try:
            unacked = self.processes.unacked()
            entries = self.processes.processes()
        except Exception as exc:  # noqa: BLE001 - Redis went away meanwhile: no values
            logging.getLogger(__name__).warning("cannot read the processes registered in "
                                                "Redis: %s", type(exc).__name__)
            return
        taken = GaugeMetricFamily(
            "nws_broker_unacked_messages", "Messages a worker took from the queue and has "
            "not acknowledged yet (running or reserved)", labels=["queue"])
        for queue in self.queues:
            taken.add_metric([queue], unacked.get(queue, 0))
        yield taken
        for role, name, text in (
                ("worker", "nws_workers_online", "Worker processes registered per service"),
                ("web", "nws_web_processes_online", "Web processes registered per service")):
            family = GaugeMetricFamily(name, text, labels=["service"])
            for service in QUEUES:
                family.add_metric([service], sum(1 for e in entries if e["role"] == role
                                                 and service in e["services"]))
            yield family
        yield GaugeMetricFamily(
            "nws_plugin_set_mismatched_processes", "Registered web and worker processes "
            "whose plugin set is not the one most processes run (nws status names them)",
            value=len(mismatched(entries)))


def dead_letter_count(ctx) -> int:
    """Dead letters of one service (0 for a service without a dead-letter table)."""
    if getattr(ctx, "DeadLetter", None) is None:
        return 0
    from sqlalchemy import func, select

    with ctx.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(ctx.DeadLetter)
                              .where(ctx.DeadLetter.status == "dead")) or 0


def queue_depths(celery, queues: Iterable[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    try:
        with celery.connection_for_read() as conn:
            channel = conn.default_channel
            for queue in queues:
                try:
                    out[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except Exception:  # noqa: BLE001 - a queue nobody declared yet
                    out[queue] = 0
    except Exception:  # noqa: BLE001 - broker unreachable: report no value
        return {q: None for q in queues}
    return out


def outbox_backlog(ctx) -> tuple[int, float]:
    from sqlalchemy import func, select

    from shared.db import utcnow

    with ctx.db.transaction() as session:
        count, first = session.execute(
            select(func.count(), func.min(ctx.Outbox.created_at))
            .where(ctx.Outbox.acked_at.is_(None))).one()
    if first is not None and first.tzinfo is None:
        first = first.replace(tzinfo=dt.timezone.utc)
    age = (utcnow() - first).total_seconds() if first else 0.0
    return int(count), max(0.0, age)


def timer() -> float:
    return time.perf_counter()
