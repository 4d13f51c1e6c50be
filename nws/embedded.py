"""The embedded suite: every service in one process, SQLite under ./var, and a Celery
worker (solo pool) in a thread of the same process consuming every service's queue
from a filesystem broker — the same tasks and the same outbox as the distributed suite."""
from __future__ import annotations

import logging
import threading

from celery.app.trace import setup_worker_optimizations
from celery.worker import WorkController

from nws.runtime import WORKER_SERVICES, Runtime

log = logging.getLogger(__name__)


class EmbeddedWorker:
    """A solo-pool Celery worker running in a daemon thread."""

    def __init__(self, runtime: Runtime, queues=WORKER_SERVICES, hostname: str = "embedded@%h"):
        self.runtime = runtime
        # The solo pool traces tasks with the process's current app: make it ours.
        setup_worker_optimizations(runtime.celery, hostname)
        # WorkController is the worker without the command-line shell around it: it
        # installs no signal handlers, so it runs in a thread.
        self.worker: WorkController = runtime.celery.WorkController(
            pool_cls="solo", concurrency=1, queues=list(queues), hostname=hostname,
            without_heartbeat=True, without_mingle=True, without_gossip=True)
        self.thread = threading.Thread(target=self._run, name="nws-embedded-worker",
                                       daemon=True)

    def _run(self) -> None:
        try:
            self.worker.start()
        except Exception:
            log.exception("embedded worker stopped")

    def start(self) -> "EmbeddedWorker":
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.worker.stop(in_sighandler=False)
        self.thread.join(timeout)
