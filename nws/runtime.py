"""Wiring: settings → plugin manager, Celery app, one ServiceContext per service."""
from __future__ import annotations

import importlib
import logging
from typing import Iterable

import pluggy
from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init
from celery.worker.control import inspect_command

import plugins as builtin_plugins
from services import identity, intake, master, matching, review
from shared.config import Settings
from shared.db import Database
from shared.messaging import OutboxSweeper, ServiceContext, make_celery
from shared.migrate import upgrade
from shared.pluginmanager import build_plugin_manager, plugin_set
from shared.processes import WorkerPresence, registry
from shared.service import ServiceDefinition

# Look the IDNA codec up once, now, before any thread starts: socket.getaddrinfo
# imports it on first use, and a pool child forked while another thread (the process
# registration's heartbeat, a metrics server) held that import's lock would wait for
# the lock for ever (seen as a task that never finishes in tests/distributed).
"localhost".encode("idna")

log = logging.getLogger(__name__)

ALL_SERVICES = ("identity", "intake", "review", "matching", "master")
WORKER_SERVICES = ALL_SERVICES
_MODULES = {"identity": identity, "intake": intake, "review": review,
            "matching": matching, "master": master}


def definitions(names: Iterable[str] = ALL_SERVICES) -> list[ServiceDefinition]:
    return [_MODULES[n].definition() for n in names]


class Runtime:
    """Everything one process needs for the services it runs."""

    def __init__(self, settings: Settings, services: Iterable[str] = ALL_SERVICES) -> None:
        self.settings = settings
        self.definitions = {d.name: d for d in definitions(services)}
        self.plugins: pluggy.PluginManager = build_plugin_manager(
            builtin_plugins.BUILTIN, disabled=settings.disabled_plugins,
            extra=settings.extra_plugins)
        self.celery: Celery = make_celery(settings)
        self.databases: dict[str, Database] = {}
        self.services: dict[str, ServiceContext] = {}
        for name, definition in self.definitions.items():
            db = Database(settings.database_url(name))
            self.databases[name] = db
            self.services[name] = ServiceContext(name, db, definition.outbox_model,
                                                 definition.inbox_model, self.celery,
                                                 settings, self.plugins,
                                                 definition.dead_letter_model,
                                                 definition.audit_model)
        self.celery.nws_settings = settings
        self.celery.nws_services = self.services
        self.celery.nws_plugins = self.plugins
        self.celery.nws_sweep_services = tuple(self.services)
        self.celery.steps["worker"].add(OutboxSweeper)
        self.celery.steps["worker"].add(WorkerPresence)
        # The web and worker processes' entries in Redis (None with another broker).
        self.processes = registry(settings)
        if "review" in self.services:  # reminders and webhook retries of review workers
            from services.review.periodic import ReviewPeriodic

            self.celery.steps["worker"].add(ReviewPeriodic)
        if "intake" in self.services:  # deadline notices about unsubmitted applications
            from services.intake.tasks import IntakePeriodic

            self.celery.steps["worker"].add(IntakePeriodic)
        if "identity" in self.services:  # notification mail retries
            from services.identity.tasks import IdentityPeriodic

            self.celery.steps["worker"].add(IdentityPeriodic)
        for definition in self.definitions.values():
            if definition.tasks_module:
                importlib.import_module(definition.tasks_module)
        self.celery.finalize()
        worker_process_init.connect(self._after_fork, weak=False)
        _connect_task_metrics()

    def plugin_set(self) -> dict:
        """The plugins this process loaded, their versions and a digest of them (/readyz,
        the worker's metrics and ``celery inspect nws_plugins``; ``nws status`` compares
        them)."""
        return plugin_set(self.plugins)

    def _after_fork(self, **_kwargs) -> None:
        # A forked pool process must not share the parent's database connections.
        for db in self.databases.values():
            db.engine.dispose(close=False)

    def migrate(self) -> None:
        for name, definition in self.definitions.items():
            upgrade(name, definition.migrations, self.settings.database_url(name))

    def seed(self) -> dict:
        out = {}
        for name, definition in self.definitions.items():
            if definition.seed is not None:
                out[name] = definition.seed(self.services[name])
        return out

    def close(self) -> None:
        for db in self.databases.values():
            db.dispose()


@inspect_command()
def nws_plugins(state) -> dict:
    """``celery inspect nws_plugins``: the worker's plugin set (names, versions, digest)."""
    return plugin_set(state.consumer.app.nws_plugins)


_task_metrics_connected = False


def _connect_task_metrics() -> None:
    """Count and time every task by name and outcome (once per process)."""
    global _task_metrics_connected
    if _task_metrics_connected:
        return
    _task_metrics_connected = True
    from shared.observability import (bind_task, install_log_context, metrics,
                                      plugin_faults_in_task, timer, unbind_task)

    install_log_context()
    started: dict[str, float] = {}
    bound: dict[str, tuple] = {}

    @task_prerun.connect(weak=False)
    def _prerun(task_id=None, task=None, args=None, **_kw):
        started[task_id] = timer()
        plugin_faults_in_task.set(0)
        if task is not None:
            # Every line the task writes, Celery's own included, names it (correlation
            # id, task, message id, application id).
            bound[task_id] = bind_task(task.name, task_id, args)

    @task_postrun.connect(weak=False)
    def _postrun(task_id=None, task=None, state=None, **_kw):
        tokens = bound.pop(task_id, None)
        if tokens is not None:
            try:
                unbind_task(tokens)
            except ValueError:      # set in another context (a thread pool): let it be
                pass
        begun = started.pop(task_id, None)
        if task is None:
            return
        outcome = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry"}.get(
            state or "", (state or "unknown").lower())
        if outcome == "success" and plugin_faults_in_task.get():
            # the task ended as it should (a finding, a parked case), but a plugin failed
            outcome = "plugin_failure"
        metrics().tasks.labels(task.name, outcome).inc()
        if begun is not None:
            metrics().task_duration.labels(task.name).observe(timer() - begun)
