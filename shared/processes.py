"""Which suite processes are running, and with which plugin set.

Every web process (``nws web``) and every worker (``nws worker``) registers itself in
Redis, the broker, under ``<NWS_BROKER_KEY_PREFIX>nws:process:<id>``: its role, the
services it serves, its plugin set (digest, names, versions) and when it last said so.
The entry is renewed every :data:`HEARTBEAT_SECONDS` and expires after
:data:`TTL_SECONDS`, so a process that dies (or is scaled away behind the gateway)
disappears on its own, and one nobody listed anywhere is found. ``nws status``,
``/readyz`` and the metrics (``nws_workers_online``, ``nws_plugin_set_mismatched``)
read the entries.

The embedded suite (its filesystem broker, one process) registers nothing:
:func:`registry` answers None there.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import socket
import threading
import time
from typing import Callable, Iterable

from celery import bootsteps

log = logging.getLogger(__name__)

KEY = "nws:process:"
HEARTBEAT_SECONDS = 10.0
TTL_SECONDS = 30


def process_id(role: str, services: Iterable[str], node: str | None = None) -> str:
    """``web:intake@host:pid`` for a web process, the Celery node name for a worker
    (``worker:intake@host``)."""
    return f"{role}:{node}" if node else (
        f"{role}:{','.join(services)}@{socket.gethostname()}:{os.getpid()}")


class ProcessRegistry:
    """The processes' entries in Redis (one client, short timeouts: a Redis that does
    not answer makes a caller say so, not hang)."""

    def __init__(self, url: str, prefix: str = "") -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def _key(self, pid: str) -> str:
        return f"{self.prefix}{KEY}{pid}"

    def announce(self, entry: dict, ttl: int = TTL_SECONDS) -> None:
        self.client.set(self._key(entry["id"]), json.dumps({**entry, "seen": time.time()}),
                        ex=ttl)

    def withdraw(self, pid: str) -> None:
        self.client.delete(self._key(pid))

    def processes(self, role: str | None = None) -> list[dict]:
        """Every live entry (of ``role`` if given), sorted by id."""
        keys = list(self.client.scan_iter(match=f"{self.prefix}{KEY}*", count=500))
        entries = []
        for raw in (self.client.mget(keys) if keys else []):
            if raw is None:             # expired between the scan and the read
                continue
            entry = json.loads(raw)
            if role is None or entry.get("role") == role:
                entries.append(entry)
        return sorted(entries, key=lambda e: e["id"])

    def unacked(self) -> dict[str, int]:
        """Messages a worker took but has not acknowledged yet, per queue: kombu's Redis
        transport keeps them in its ``unacked`` hash (``[message, exchange, routing
        key]``; the suite routes each task to the queue named by its routing key) until
        the task is acknowledged, or restores them to their queue after the visibility
        timeout."""
        counts: collections.Counter[str] = collections.Counter()
        for raw in self.client.hvals(f"{self.prefix}unacked"):
            try:
                _message, exchange, routing_key = json.loads(raw)
            except (ValueError, TypeError):
                continue
            counts[routing_key or exchange or "unknown"] += 1
        return dict(counts)


def registry(settings) -> ProcessRegistry | None:
    """The registry of a deployment whose broker is Redis; None for another broker."""
    if not settings.broker_url.startswith(("redis://", "rediss://")):
        return None
    return ProcessRegistry(settings.broker_url, settings.broker_key_prefix)


def entry(pid: str, role: str, services: Iterable[str], plugin_set: dict) -> dict:
    return {"id": pid, "role": role, "services": sorted(services), "pid": os.getpid(),
            "host": socket.gethostname(), "digest": plugin_set["digest"],
            "plugins": plugin_set["plugins"]}


def mismatched(entries: Iterable[dict]) -> list[dict]:
    """The entries whose plugin set is not the deployment's: the digest most processes
    share. With no single most common digest (two sets, as many processes each) every
    entry is mismatched: nothing says which set is meant."""
    entries = list(entries)
    counts = collections.Counter(e["digest"] for e in entries).most_common()
    if len(counts) <= 1:
        return []
    if counts[0][1] == counts[1][1]:
        return entries
    return [e for e in entries if e["digest"] != counts[0][0]]


def difference(mine: dict, theirs: dict, where: str = "there") -> str:
    """What ``theirs`` (a plugin set) has that ``mine`` has not, and the reverse."""
    own = {(p["name"], p["version"]) for p in mine["plugins"]}
    other = {(p["name"], p["version"]) for p in theirs["plugins"]}
    more = ", ".join(f"{n} {v}" for n, v in sorted(other - own)) or "-"
    fewer = ", ".join(f"{n} {v}" for n, v in sorted(own - other)) or "-"
    return f"only {where}: {more}; missing {where}: {fewer}"


class Heartbeat:
    """Keeps one process's entry alive from a daemon thread; :meth:`stop` withdraws
    it (a graceful stop; a killed process's entry expires)."""

    def __init__(self, registry: ProcessRegistry, make_entry: Callable[[], dict],
                 interval: float = HEARTBEAT_SECONDS) -> None:
        self.registry, self.make_entry, self.interval = registry, make_entry, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nws-heartbeat", daemon=True)
        self.id = make_entry()["id"]

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def beat(self) -> None:
        try:
            self.registry.announce(self.make_entry())
        except Exception as exc:  # noqa: BLE001 - Redis down: the next beat tries again
            log.warning("cannot register this process in Redis: %s: %s",
                        type(exc).__name__, exc)

    def _run(self) -> None:
        while True:
            self.beat()
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        try:
            self.registry.withdraw(self.id)
        except Exception:  # noqa: BLE001 - it expires on its own
            log.info("could not withdraw %s from Redis; it expires in %s s", self.id,
                     TTL_SECONDS)


def web_heartbeat(runtime) -> Heartbeat | None:
    """The heartbeat of ``nws web`` (not started), None without a Redis broker."""
    found = registry(runtime.settings)
    if found is None:
        return None
    pid = process_id("web", runtime.definitions)
    return Heartbeat(found, lambda: entry(pid, "web", runtime.definitions, runtime.plugin_set()))


class WorkerPresence(bootsteps.StartStopStep):
    """A worker bootstep: register the worker (named by its Celery node name) while it
    consumes its queue."""

    def __init__(self, worker, **kwargs):
        self.heartbeat: Heartbeat | None = None

    def start(self, worker):
        from shared.pluginmanager import plugin_set

        app = worker.app
        found = registry(app.nws_settings)
        if found is None:
            return
        services = tuple(getattr(app, "nws_sweep_services", ()))
        pid = process_id("worker", services, node=worker.hostname)
        self.heartbeat = Heartbeat(found, lambda: entry(pid, "worker", services,
                                                        plugin_set(app.nws_plugins))).start()

    def stop(self, worker):
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None
