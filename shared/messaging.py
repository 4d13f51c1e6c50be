"""Messaging: the Celery configuration, the message envelope, the transactional outbox
and inbox, and the consumer wrapper that makes every task idempotent.

How a message travels
---------------------
1. A service changes its own tables and, in the same transaction, writes the message it
   owes another service into its ``<service>_outbox`` table (:meth:`ServiceContext.emit`).
2. After the commit the message is published to the receiver's queue
   (``nws.<receiver>.<type>``, one queue per service).
3. The receiving task records the message id in its ``<service>_inbox`` table in the same
   transaction as its effects, so a redelivered message changes nothing twice, then
   acknowledges the message to the sender: the id goes to the sender's list of
   acknowledgements beside the queues (:class:`SideChannel`; a Redis list, or files in
   the embedded suite's broker folder), which the sender's workers drain in batches
   (:meth:`ServiceContext.drain_acks`, one UPDATE per batch). An acknowledgement is not a
   message on any queue.
4. Each worker's sweeper publishes again what was never acknowledged in time, with
   growing delays, so a broker that lost its queues (Redis here keeps nothing on disk)
   loses no work, and a lost acknowledgement only makes the sender publish again (the
   receiver's inbox turns that into a no-op, acknowledged again).

Messages that only inform their receiver (:data:`INFORMING`: status reports, notices)
are not published one by one: each worker publishes the ones due, every
``inform_batch_interval`` seconds, as one broker message per receiver carrying their
envelopes (``nws.<receiver>.batch``); each envelope is still consumed on its own (its
inbox row, its acknowledgement), so the guarantees are those of single messages.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
import time
import uuid
from collections import defaultdict, deque
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from celery import Celery, bootsteps, shared_task
from kombu import Queue
from marshmallow import RAISE, Schema, ValidationError, fields
from sqlalchemy import Integer, String, Text, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared import audit, fsbroker
from shared.config import Settings
from shared.db import Database, utcnow
from shared.observability import correlation_id as current_correlation
from shared.observability import service_name as current_service

log = logging.getLogger(__name__)

QUEUES = ("identity", "intake", "review", "matching", "master")
ENVELOPE_VERSION = 1
# Message types that only inform their receiver: published in batches (see the module
# docstring), never one by one. Work a receiver must start at once is never here.
INFORMING = frozenset({"application.status_changed", "notification.requested",
                       "notification.published"})
BATCH = "batch"


def task_name(service: str, message_type: str) -> str:
    """Stable task name for a message type handled by a service."""
    return f"nws.{service}.{message_type}"


def queue_of(name: str) -> str:
    """The queue a task name belongs to: ``nws.<service>.…`` goes to ``<service>``."""
    parts = name.split(".")
    if len(parts) < 3 or parts[0] != "nws" or parts[1] not in QUEUES:
        raise ValueError(f"not a suite task name: {name!r}")
    return parts[1]


def _argsrepr(envelope: dict) -> str:
    """What Celery's own log lines show of a message: ids only (payloads hold personal
    data), in a form the log formatter reads the correlation id back from."""
    app = envelope.get("payload", {}).get("application_id")
    return (f"[envelope {envelope['id']} {envelope['type']} cid={envelope['correlation_id']}"
            + (f" app={app}" if isinstance(app, int) else "") + "]")


def route_task(name, args, kwargs, options, task=None, **kw):
    try:
        return {"queue": queue_of(name)}
    except ValueError:
        return None


def soft_time_limit(hard: int) -> int:
    """The soft limit that goes with a hard task time limit: 30 s before it (a quarter of
    it for limits under two minutes, at least 1 s), time for a task that ran out of time
    to record that it did (a validator's timeout finding) before its process is killed."""
    return max(1, hard - max(1, min(30, hard // 4)))


# Sending a task with these leaves its time limits to the worker that runs it.
NO_TIME_LIMITS = {"time_limit": None, "soft_time_limit": None}


def make_celery(settings: Settings, *, main: str = "nws") -> Celery:
    """The one Celery configuration of the suite (web processes, workers, embedded)."""
    app = Celery(main, broker=fsbroker.broker_url(settings.broker_url), set_as_current=False)
    transport_options: dict[str, Any] = {"visibility_timeout": settings.visibility_timeout}
    if settings.broker_key_prefix:
        transport_options["global_keyprefix"] = settings.broker_key_prefix
    if settings.broker_url.startswith("filesystem://"):
        folder = settings.data_dir / "broker"
        for sub in ("queue", "processed", "control"):
            if not settings.read_only:          # a read-only command creates nothing
                (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options.update(
            data_folder_in=str(folder / "queue"), data_folder_out=str(folder / "queue"),
            processed_folder=str(folder / "processed"), store_processed=False,
            control_folder=str(folder / "control"), polling_interval=0.05)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # The limits of the process's own settings: a worker enforces its own
        # (NWS_TASK_TIME_LIMIT in its environment); no message carries a sender's limits
        # (every send_task below passes time_limit=None).
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=soft_time_limit(settings.task_time_limit),
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_queues=[Queue(q) for q in QUEUES],
        task_default_queue="intake",
        task_routes=(route_task,),
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        enable_utc=True,
    )
    return app


# --- the envelope -----------------------------------------------------------------

class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    v = fields.Integer(required=True)
    id = fields.String(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True)
    sender = fields.String(required=True)
    sent_at = fields.String(required=True)
    correlation_id = fields.String(required=True)
    payload = fields.Dict(required=True)


class PermanentMessageError(Exception):
    """The message can never be processed (bad schema, unknown version): not retried."""


# --- outbox and inbox ---------------------------------------------------------------

class OutboxMixin:
    """Columns of a service's outbox table (``<service>_outbox``)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(200))
    envelope: Mapped[dict]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    published_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    acked_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxMixin:
    """Columns of a service's inbox table (``<service>_inbox``): messages it processed."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(40))
    processed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeadLetterMixin:
    """Columns of a service's dead-letter table (``<service>_dead_letters``): a message
    whose handler kept failing. After ``dead_letter_after`` failed attempts (or
    ``lost_delivery_after`` deliveries that ended with their worker process) it is
    ``dead``: its sender is acknowledged (no more republishing) and it waits for an
    operator (``nws dead-letters list|retry ID``)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)   # the message id
    type: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(40))
    task_name: Mapped[str] = mapped_column(String(200))
    envelope: Mapped[dict]
    # the application the message is about, when it says (what its owner's page shows)
    application_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(20), default="failing", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    first_failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Deliveries whose worker process ended with no outcome (hard time limit, crash),
    # counted apart from the handler's failures, up to ``lost_delivery_after``; and
    # when the delivery now running started (None between deliveries). A row whose
    # status is "running" only marks a delivery in progress (deleted when it is done;
    # kept as "done" when failures or lost deliveries came before the success).
    lost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[dt.datetime | None]


# --- handlers ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Staged:
    """A message handler in three steps, for work too slow to hold a transaction (the
    form plugins' validators: a slow plugin must not hold the database, SQLite's one
    writer in the embedded suite least of all):

    ``read(ctx, session, payload)``
        in a short transaction: what the work needs, as plain data (None: nothing to do);
    ``work(ctx, snapshot)``
        with no transaction open and no lock held: the result;
    ``write(ctx, session, payload, envelope, snapshot, result)``
        in the transaction that records the message in the inbox (so it still happens
        once per message id): first checks that what ``read`` saw has not changed since
        (a revision, a round) and, if it has, writes nothing (the change sent a newer
        message).
    """

    read: Callable[["ServiceContext", Session, dict], Any]
    work: Callable[["ServiceContext", Any], Any]
    write: Callable[["ServiceContext", Session, dict, dict, Any, Any], None]


# --- the side channel: acknowledgements and delivery marks beside the queues ---------

class SideChannel:
    """Where a receiver leaves its acknowledgements for their sender to drain in
    batches, and (``marks``) where a delivery's start mark is kept while its handler
    runs. Chosen by the broker (:func:`side_channel`)."""

    marks = False       # True: start marks live here, not in the dead-letter table

    def push_acks(self, sender: str, ids: list[str]) -> None:
        raise NotImplementedError

    def pop_acks(self, service: str, limit: int) -> list[str]:
        raise NotImplementedError


class RedisSideChannel(SideChannel):
    """Redis (the broker's server, the broker's key prefix): a list of acknowledged
    message ids per sender (``nws.acks.<sender>``) and a key per running delivery
    (``nws.running.<service>.<id>``: when it started, for ``mark_ttl`` seconds)."""

    marks = True

    def __init__(self, url: str, prefix: str, mark_ttl: int) -> None:
        self.url, self.prefix, self.mark_ttl = url, prefix, mark_ttl
        self._client = None

    @property
    def client(self):
        if self._client is None:    # made on first use: in the pool process, after fork
            import redis

            self._client = redis.Redis.from_url(self.url, socket_timeout=10,
                                                socket_connect_timeout=5)
        return self._client

    def _acks(self, service: str) -> str:
        return f"{self.prefix}nws.acks.{service}"

    def _mark(self, service: str, message_id: str) -> str:
        return f"{self.prefix}nws.running.{service}.{message_id}"

    def mark(self, service: str, message_id: str) -> float | None:
        """Mark the delivery as started; the start of the earlier mark, if one was left
        (one round trip: SET … GET)."""
        previous = self.client.set(self._mark(service, message_id), f"{time.time():.3f}",
                                   ex=self.mark_ttl, get=True)
        return float(previous) if previous is not None else None

    def finish(self, service: str, message_id: str, ack_to: str | None) -> None:
        """The delivery has an outcome: its mark goes and (``ack_to``) its sender is
        acknowledged, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self._mark(service, message_id))
        if ack_to:
            pipe.rpush(self._acks(ack_to), message_id)
        pipe.execute()

    def push_acks(self, sender: str, ids: list[str]) -> None:
        self.client.rpush(self._acks(sender), *ids)

    def pop_acks(self, service: str, limit: int) -> list[str]:
        got = self.client.lpop(self._acks(service), limit)
        return [g.decode() if isinstance(g, bytes) else g for g in got or ()]


class FolderSideChannel(SideChannel):
    """The embedded suite's filesystem broker: one empty file per acknowledged message
    (``<broker folder>/acks/<sender>/<id>``); whoever removes it has drained it."""

    def __init__(self, folder) -> None:
        self.folder = folder

    def push_acks(self, sender: str, ids: list[str]) -> None:
        target = self.folder / sender
        target.mkdir(parents=True, exist_ok=True)
        for message_id in ids:
            (target / message_id).touch()

    def pop_acks(self, service: str, limit: int) -> list[str]:
        try:
            names = os.listdir(self.folder / service)
        except FileNotFoundError:
            return []
        taken = []
        for name in names[:limit]:
            try:
                os.unlink(self.folder / service / name)
            except FileNotFoundError:       # another worker drained it
                continue
            taken.append(name)
        return taken


class MemorySideChannel(SideChannel):
    """kombu's in-process ``memory://`` broker: lists in this process."""

    def __init__(self) -> None:
        self.lists: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def push_acks(self, sender: str, ids: list[str]) -> None:
        with self.lock:
            self.lists[sender].extend(ids)

    def pop_acks(self, service: str, limit: int) -> list[str]:
        with self.lock:
            q = self.lists[service]
            return [q.popleft() for _ in range(min(limit, len(q)))]


class TaskSideChannel(SideChannel):
    """Any other broker: an acknowledgement task per message (``nws.<sender>.outbox.ack``),
    as before the side channel existed."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def push_acks(self, sender: str, ids: list[str]) -> None:
        for message_id in ids:
            self.celery.send_task(task_name(sender, "outbox.ack"),
                                  args=[{"message_id": message_id}],
                                  queue=sender, retry=False, **NO_TIME_LIMITS)

    def pop_acks(self, service: str, limit: int) -> list[str]:
        return []


def side_channel(celery: Celery, settings: Settings) -> SideChannel:
    """The side channel of ``celery``'s broker, one per Celery app (every service of a
    process shares it)."""
    existing = getattr(celery, "nws_side_channel", None)
    if existing is not None:
        return existing
    url = settings.broker_url
    if url.startswith(("redis://", "rediss://")):
        # a mark outlives any redelivery: the visibility timeout, the outbox's backoff
        channel: SideChannel = RedisSideChannel(
            url, settings.broker_key_prefix,
            mark_ttl=2 * max(settings.visibility_timeout, 3600))
    elif url.startswith("filesystem://"):
        channel = FolderSideChannel(settings.data_dir / "broker" / "acks")
    elif url.startswith("memory://"):
        channel = MemorySideChannel()
    else:
        channel = TaskSideChannel(celery)
    celery.nws_side_channel = channel
    return channel


# --- per-service context ---------------------------------------------------------------

class ServiceContext:
    """What a service's code needs at run time: its database, its outbox and a way to
    publish. Built by the composition root, reached from tasks and views."""

    def __init__(self, name: str, db: Database, outbox_model, inbox_model,
                 celery: Celery, settings: Settings, plugins=None,
                 dead_letter_model=None, audit_model=None) -> None:
        self.name = name
        self.DeadLetter = dead_letter_model
        self.Audit = audit_model
        if audit_model is not None:
            audit.bind(db.Session, name, audit_model)
        self.plugins = plugins
        self.db = db
        self.Outbox = outbox_model
        self.Inbox = inbox_model
        self.celery = celery
        self.settings = settings
        self.side = side_channel(celery, settings)

    # Sending ---------------------------------------------------------------------

    def emit(self, session: Session, to: str, message_type: str, payload: dict, *,
             correlation_id: str | None = None, version: int = 1) -> str:
        """Queue a message in the outbox, inside the caller's transaction."""
        from shared.contracts import dump_payload  # contracts import messaging types

        body = dump_payload(message_type, version, payload)
        msg_id = str(uuid.uuid4())
        envelope = {
            "v": ENVELOPE_VERSION, "id": msg_id, "type": message_type, "version": version,
            "sender": self.name, "sent_at": utcnow().isoformat(),
            "correlation_id": correlation_id or self.current_correlation_id() or msg_id,
            "payload": body,
        }
        session.add(self.Outbox(id=msg_id, task_name=task_name(to, message_type),
                                envelope=envelope, next_attempt_at=utcnow()))
        if message_type not in INFORMING:   # those wait for the next batch
            session.info.setdefault("nws_outbox", []).append(msg_id)
        return msg_id

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A transaction whose outbox messages are published once it has committed
        (those that only inform go with the next batch, see :meth:`publish_informing`)."""
        with self.db.transaction() as session:
            yield session
            ids = list(session.info.get("nws_outbox", ()))
        if ids:
            self.publish(ids)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads (shared.db.Database.reading): no write lock on
        SQLite, nothing to publish."""
        with self.db.reading() as session:
            yield session

    def publish(self, ids: Iterable[str]) -> None:
        """Publish outbox messages now (best effort: the sweeper catches what fails).
        Messages that only inform are left to the next batch."""
        ids = list(ids)
        with self.db.transaction() as session:
            rows = session.scalars(select(self.Outbox).where(
                self.Outbox.id.in_(ids), self.Outbox.acked_at.is_(None))).all()
            for row in rows:
                if row.envelope.get("type") not in INFORMING:
                    self._send(session, row)

    def _send(self, session: Session, row) -> None:
        self._send_rows([row], row.task_name, [row.envelope])

    def _send_rows(self, rows: list, name: str, envelopes: list[dict]) -> None:
        """Publish one broker message: ``envelopes[0]`` to ``name``, or several
        envelopes as one batch; ``rows`` are their outbox rows, updated as sent."""
        now = utcnow()
        try:
            if len(envelopes) == 1 and not name.endswith("." + BATCH):
                args, shown = [envelopes[0]], _argsrepr(envelopes[0])
            else:
                args = [{"envelopes": envelopes}]
                shown = f"[batch of {len(envelopes)}: {envelopes[0]['id']} …]"
            # argsrepr: Celery logs a task's arguments at DEBUG; payloads hold personal
            # data (names, phone numbers), so only ids are ever shown.
            self.celery.send_task(name, args=args, argsrepr=shown,
                                  kwargsrepr="{}", **NO_TIME_LIMITS,
                                  queue=queue_of(name), retry=True,
                                  retry_policy={"max_retries": 2, "interval_start": 0.2,
                                                "interval_step": 0.5, "interval_max": 1})
        except Exception as exc:  # broker down: keep it for the sweeper
            for row in rows:
                backoff = min(3600.0, self.settings.outbox_redeliver_after * (2 ** row.attempts))
                log.warning("publish of %s failed: %s", row.id, exc)
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                row.next_attempt_at = now + dt.timedelta(seconds=min(backoff, 30))
            return
        for row in rows:
            backoff = min(3600.0, self.settings.outbox_redeliver_after * (2 ** row.attempts))
            row.published_at = now
            row.attempts += 1
            row.next_attempt_at = now + dt.timedelta(seconds=backoff)
            row.last_error = None

    def _send_due(self, session: Session, rows: list, batch_size: int = 200) -> None:
        """Publish due outbox rows: those that only inform as one batch per receiver,
        the others one by one."""
        batches: dict[str, list] = {}
        for row in rows:
            if row.envelope.get("type") in INFORMING:
                batches.setdefault(queue_of(row.task_name), []).append(row)
            else:
                self._send(session, row)
        for receiver, group in batches.items():
            for i in range(0, len(group), batch_size):
                part = group[i:i + batch_size]
                self._send_rows(part, task_name(receiver, BATCH), [r.envelope for r in part])

    def sweep(self, limit: int = 200, *, informing_only: bool = False) -> int:
        """Publish outbox messages that are due: never published, or not acknowledged in
        time (``informing_only``: only those that inform, the batch publisher's round).
        The acknowledgements waiting are taken in first. Returns how many were sent."""
        try:
            self.drain_acks()
        except Exception as exc:     # the sweep still runs: an ack only spares a resend
            log.warning("draining the acknowledgements of %s failed: %s", self.name, exc)
        with self.db.transaction() as session:
            stmt = (select(self.Outbox)
                    .where(self.Outbox.acked_at.is_(None),
                           self.Outbox.next_attempt_at <= utcnow())
                    .order_by(self.Outbox.created_at).limit(limit))
            if informing_only:
                stmt = stmt.where(self.Outbox.task_name.in_(
                    [task_name(q, t) for q in QUEUES for t in INFORMING]))
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = session.scalars(stmt).all()
            self._send_due(session, rows)
            return len(rows)

    def publish_informing(self) -> int:
        """Publish the messages that only inform, in batches (a worker does this every
        ``inform_batch_interval`` seconds)."""
        return self.sweep(informing_only=True)

    def acknowledge(self, message_id: str) -> None:
        self.acknowledge_many([message_id])

    def acknowledge_many(self, ids: list[str]) -> None:
        with self.db.transaction() as session:
            session.execute(update(self.Outbox)
                            .where(self.Outbox.id.in_(ids), self.Outbox.acked_at.is_(None))
                            .values(acked_at=utcnow()))

    def drain_acks(self, limit: int = 1000) -> int:
        """Mark as acknowledged the outbox messages receivers reported done on the side
        channel, one UPDATE per ``limit`` ids. Ids taken but not written (the database
        went away) are put back. Returns how many were taken."""
        total = 0
        while True:
            ids = self.side.pop_acks(self.name, limit)
            if not ids:
                return total
            try:
                self.acknowledge_many(ids)
            except Exception:
                self.side.push_acks(self.name, ids)
                raise
            total += len(ids)
            if len(ids) < limit:
                return total

    # Receiving -------------------------------------------------------------------

    def current_correlation_id(self) -> str | None:
        return current_correlation.get()

    def consume(self, envelope: dict,
                handler: "Callable[[ServiceContext, Session, dict, dict], None] | Staged",
                *, redelivered: bool = False) -> str:
        """Run ``handler(ctx, session, payload, envelope)`` exactly once per message id
        (a :class:`Staged` handler: its read, its work with no transaction open, its
        write). ``redelivered``: the broker hands the message out again (its worker
        process was lost).

        Returns "done", "duplicate" or "dead". Schema errors are permanent.
        """
        from shared.contracts import load_payload

        try:
            env = _ENVELOPES.load(envelope)
            payload = load_payload(env["type"], env["version"], env["payload"])
        except (ValidationError, KeyError) as exc:
            raise PermanentMessageError(f"rejected message: {exc}") from exc
        token = current_correlation.set(env["correlation_id"])
        service_token = current_service.set(self.name)
        try:
            if self._marks_aside:
                outcome = self._run_marked(env, payload, handler, redelivered)
            else:
                outcome, write = self._begin(env, payload, handler, redelivered)
                if outcome is None:
                    with self.transaction() as session:
                        session.add(self.Inbox(id=env["id"], type=env["type"],
                                               sender=env["sender"]))
                        session.flush()  # a concurrent twin fails here, before any effect
                        write(self, session, payload, env)
                        self._end_attempt(session, env["id"])
                        outcome = "done"
        except IntegrityError:
            with self.db.transaction() as session:
                if session.get(self.Inbox, env["id"]) is None:
                    self._finish(env, ack=False)
                    raise
            outcome = "duplicate"
        except TRANSIENT_ERRORS:
            self._attempt_over(env["id"])
            raise           # Celery retries these with backoff
        except Exception as exc:
            if self._record_failure(env, exc):
                log.error("message %s (%s) failed %s times: dead letter", env["id"],
                          env["type"], self.settings.dead_letter_after)
                self._finish(env, ack=True)
                return "dead"
            self._finish(env, ack=False)
            raise
        finally:
            current_correlation.reset(token)
            current_service.reset(service_token)
        self._finish(env, ack=env["type"] != "outbox.ack")
        return outcome

    @property
    def _marks_aside(self) -> bool:
        """Whether delivery marks live on the side channel (Redis), not in the
        dead-letter table."""
        return self.side.marks and self.DeadLetter is not None

    def _run_marked(self, env: dict, payload: dict, handler, redelivered: bool) -> str:
        """A delivery whose start mark is on the side channel (one Redis round trip,
        ended with the acknowledgement in another): a plain handler runs in one
        transaction with the inbox row and the dead-letter check; a :class:`Staged` one
        reads first in a short transaction that writes nothing. The dead-letter table is
        written only when something went wrong: an earlier delivery that left its mark
        ended with its worker process (counted as lost, as in :meth:`_start_attempt`),
        or the handler failed (:meth:`_record_failure`)."""
        try:
            started = self.side.mark(self.name, env["id"])
        except Exception as exc:     # Redis away: the broker too; Celery retries
            raise ConnectionError(f"the delivery mark could not be written: {exc}") from exc
        if started is not None and (
                redelivered or time.time() - started
                >= soft_time_limit(self.settings.task_time_limit)):
            with self.db.transaction() as session:
                if session.get(self.Inbox, env["id"]) is not None:
                    return "duplicate"
                if self._count_lost(session, env):
                    return "dead"
        staged = isinstance(handler, Staged)
        write = handler
        if staged:
            with self.db.transaction() as session:
                if session.get(self.Inbox, env["id"]) is not None:
                    return "duplicate"
                letter = session.get(self.DeadLetter, env["id"])
                if letter is not None and letter.status == "dead":
                    return "dead"
                snapshot = handler.read(self, session, payload)
            if snapshot is None:
                write = lambda ctx, session, payload, env: None  # noqa: E731
            else:
                result = handler.work(self, snapshot)
                write = lambda ctx, session, payload, env: handler.write(  # noqa: E731
                    ctx, session, payload, env, snapshot, result)
        try:
            with self.transaction() as session:
                letter = self._claim(session, env)
                if letter == "dead":
                    raise _Dead
                write(self, session, payload, env)
                if letter is not None:
                    self._end_attempt(session, env["id"])
        except _Dead:
            return "dead"
        return "done"

    def _claim(self, session: Session, env: dict) -> str | None:
        """Write the message's inbox row and read the status of its dead-letter row
        (None: it has none), in the handler's transaction: a concurrent twin fails here
        (IntegrityError) before any effect, and a dead message's row goes with the
        rollback. On PostgreSQL one statement, one round trip (the inbox row inserted by
        a data-modifying WITH, which runs whether or not the query reads it); elsewhere a
        read and a flush."""
        row = {"id": env["id"], "type": env["type"], "sender": env["sender"]}
        if self.db.is_sqlite:
            letter = session.get(self.DeadLetter, env["id"])
            session.add(self.Inbox(**row))
            session.flush()
            return letter.status if letter is not None else None
        inserted = insert(self.Inbox).values(**row, processed_at=utcnow()).cte("nws_inbox_row")
        return session.scalar(select(self.DeadLetter.status)
                              .where(self.DeadLetter.id == env["id"]).add_cte(inserted))

    def _count_lost(self, session: Session, env: dict) -> bool:
        """An earlier delivery of ``env`` ended with its worker process: one lost
        delivery (see :meth:`_start_attempt`). True when the message is (now) dead."""
        row = self._letter(session, env)
        if row.status == "dead":
            return True
        row.lost = (row.lost or 0) + 1
        row.last_failed_at = utcnow()
        row.error = (f"the worker process ended during {row.lost} attempt(s) with no "
                     "outcome (hard time limit NWS_TASK_TIME_LIMIT, or the process died)")
        log.error("message %s (%s): an earlier delivery ended with its worker process "
                  "(%s of %s)", env["id"], env["type"], row.lost,
                  self.settings.lost_delivery_after)
        if row.lost >= self.settings.lost_delivery_after:
            row.status, row.started_at = "dead", None
            return True
        return False

    def _finish(self, env: dict, *, ack: bool) -> None:
        """The delivery has an outcome: its mark on the side channel goes and, when
        ``ack``, its sender is acknowledged (best effort: a lost acknowledgement only
        makes the sender publish again, which the inbox turns into a no-op; a mark left
        behind is counted as a lost delivery only if the message comes back
        unprocessed)."""
        try:
            if self._marks_aside:
                self.side.finish(self.name, env["id"], env["sender"] if ack else None)
            elif ack:
                self.side.push_acks(env["sender"], [env["id"]])
        except Exception as exc:
            log.warning("ack of %s to %s failed: %s", env["id"], env["sender"], exc)

    def _begin(self, env: dict, payload: dict, handler,
               redelivered: bool) -> tuple[str | None, Callable]:
        """The first short transaction of a delivery: a message already processed is a
        duplicate, a dead one stays dead; otherwise the attempt is marked as started (see
        :meth:`_start_attempt`) and a :class:`Staged` handler reads, then works with no
        transaction open. Returns (outcome, None) when there is nothing to do, else
        (None, what to run in the inbox's transaction)."""
        with self.db.transaction() as session:
            if session.get(self.Inbox, env["id"]) is not None:
                return "duplicate", None
            dead = self._start_attempt(session, env, redelivered)
            snapshot = (handler.read(self, session, payload)
                        if isinstance(handler, Staged) and not dead else None)
        if dead:     # acknowledged (an operator decides; the sender need not send it again)
            return "dead", None
        if not isinstance(handler, Staged):
            return None, handler
        if snapshot is None:
            return None, lambda ctx, session, payload, env: None
        result = handler.work(self, snapshot)
        return None, lambda ctx, session, payload, env: handler.write(
            ctx, session, payload, env, snapshot, result)

    def _letter(self, session: Session, env: dict):
        """The message's row in the dead-letter table, locked (made when missing)."""
        row = session.get(self.DeadLetter, env["id"], with_for_update=True)
        if row is None:
            subject = (env.get("payload") or {}).get("application_id")
            row = self.DeadLetter(id=env["id"], type=env["type"], sender=env["sender"],
                                  task_name=task_name(self.name, env["type"]),
                                  envelope=env, status="running", attempts=0, lost=0,
                                  error="", application_id=subject
                                  if isinstance(subject, int) else None)
            try:
                with session.begin_nested():    # a concurrent twin may have made it
                    session.add(row)
            except IntegrityError:
                row = session.get(self.DeadLetter, env["id"], with_for_update=True,
                                  populate_existing=True)
        return row

    def _start_attempt(self, session: Session, env: dict, redelivered: bool) -> bool:
        """Mark the delivery as started (``started_at``). A mark left by an earlier
        delivery means that attempt ended with no outcome at all: its worker process was
        killed (the hard time limit, NWS_TASK_TIME_LIMIT, or a crash) and the message came
        back (``redelivered`` by the broker: Celery's reject-on-worker-lost; or
        published again by the sender's outbox, when the mark is older than the soft time
        limit: younger, that delivery may still be running, and this is its twin, which
        the inbox settles). That is counted in ``lost``, apart from the handler's
        failures (``attempts``); after ``lost_delivery_after`` such deliveries the message
        is a dead letter. True when the message is (now) dead."""
        if self.DeadLetter is None:
            return False
        row = self._letter(session, env)
        if row.status == "dead":
            return True
        limit = soft_time_limit(self.settings.task_time_limit)
        if row.started_at is not None and (
                redelivered or (utcnow() - row.started_at).total_seconds() >= limit):
            row.lost = (row.lost or 0) + 1
            row.last_failed_at = utcnow()
            row.error = (f"the worker process ended during {row.lost} attempt(s) with no "
                         "outcome (hard time limit NWS_TASK_TIME_LIMIT, or the process died)")
            log.error("message %s (%s): an earlier delivery ended with its worker process "
                      "(%s of %s)", env["id"], env["type"], row.lost,
                      self.settings.lost_delivery_after)
            if row.lost >= self.settings.lost_delivery_after:
                row.status, row.started_at = "dead", None
                return True
        row.started_at = utcnow()
        return False

    def _end_attempt(self, session: Session, message_id: str) -> None:
        """The attempt has an outcome: its mark goes (with its row, when nothing else
        was recorded about the message)."""
        if self.DeadLetter is None:
            return
        row = session.get(self.DeadLetter, message_id, with_for_update=True)
        if row is None:
            return
        if row.status == "running" and not row.attempts and not row.lost:
            session.delete(row)
            return
        row.started_at = None
        if row.status in ("running", "failing"):
            row.status = "done"     # kept: what happened on the way stays readable

    def _attempt_over(self, message_id: str) -> None:
        """End the attempt's mark after a transient error (Celery retries the message:
        that is no lost delivery). Best effort: with the database away, the retry counts
        as one lost delivery, within its bound."""
        if self._marks_aside:
            try:
                self.side.finish(self.name, message_id, None)
            except Exception as exc:
                log.warning("could not end the attempt mark of %s: %s", message_id, exc)
            return
        try:
            with self.db.transaction() as session:
                self._end_attempt(session, message_id)
        except TRANSIENT_ERRORS as exc:
            log.warning("could not end the attempt mark of %s: %s", message_id, exc)

    def _record_failure(self, env: dict, exc: Exception) -> bool:
        """Count a failed attempt of ``env``; True when it is now a dead letter."""
        if self.DeadLetter is None:
            return False
        error = f"{type(exc).__name__}: {exc}"[:4000]
        with self.db.transaction() as session:
            row = self._letter(session, env)
            row.attempts = (row.attempts or 0) + 1
            row.error, row.last_failed_at, row.started_at = error, utcnow(), None
            row.status = "dead" if row.attempts >= self.settings.dead_letter_after else "failing"
            return row.status == "dead"

    def has_dead_letter(self, session: Session, application_id: int) -> bool:
        """Whether a message about ``application_id`` is a dead letter here (read in the
        caller's transaction)."""
        if self.DeadLetter is None:
            return False
        return session.scalar(select(self.DeadLetter.id).where(
            self.DeadLetter.application_id == application_id,
            self.DeadLetter.status == "dead").limit(1)) is not None

    def dead_letters(self) -> list:
        if self.DeadLetter is None:
            return []
        with self.db.transaction() as session:
            rows = session.scalars(select(self.DeadLetter).where(
                self.DeadLetter.status == "dead").order_by(self.DeadLetter.last_failed_at))
            return [{"id": r.id, "service": self.name, "type": r.type, "sender": r.sender,
                     "attempts": r.attempts, "lost": r.lost, "error": r.error,
                     "last_failed_at": r.last_failed_at} for r in rows]

    def retry_dead_letter(self, message_id: str) -> bool:
        """Deliver a dead letter again (after a fix): its count starts over."""
        if self.DeadLetter is None:
            return False
        with self.db.transaction() as session:
            row = session.get(self.DeadLetter, message_id, with_for_update=True)
            if row is None or row.status != "dead":
                return False
            row.status, row.attempts, row.lost, row.started_at = "retried", 0, 0, None
            envelope, name = row.envelope, row.task_name
        self.celery.send_task(name, args=[envelope], queue=self.name,
                              argsrepr=f"[envelope {message_id} {envelope.get('type')}]",
                              kwargsrepr="{}", **NO_TIME_LIMITS)
        return True

    def _ack(self, env: dict) -> None:
        """Tell the sender its message was processed (best effort)."""
        self._finish(env, ack=True)


class _Dead(Exception):
    """The message turned out to be a dead letter inside the handler's transaction."""


_ENVELOPES = EnvelopeSchema()


# --- declaring tasks ------------------------------------------------------------------

TRANSIENT_ERRORS = (OperationalError, DBAPIError, ConnectionError, TimeoutError)



# (service, message type) → the handler :func:`consumer` declared: what a batch runs
HANDLERS: dict[tuple[str, str], Any] = {}


def service_context(app: Celery, service: str) -> ServiceContext:
    """The ServiceContext the composition root attached to this Celery app."""
    try:
        return app.nws_services[service]  # type: ignore[attr-defined]
    except (AttributeError, KeyError):
        raise RuntimeError(f"service {service!r} is not set up in this process") from None


def consumer(service: str, message_type: str):
    """Declare the task that handles ``message_type`` in ``service``.

    The decorated function is ``handler(ctx, session, payload, envelope)`` (``ctx`` is the
    service's :class:`ServiceContext`), or a :class:`Staged` handler, and runs inside the
    service's transaction, exactly once per message id; messages it emits are published
    after that transaction commits. Transient database and broker errors are retried with
    backoff; schema errors are not.
    """

    def decorate(handler: Callable[[ServiceContext, Session, dict, dict], None]):
        HANDLERS[(service, message_type)] = handler

        @shared_task(name=task_name(service, message_type), bind=True, acks_late=True,
                     autoretry_for=TRANSIENT_ERRORS, retry_backoff=True,
                     retry_backoff_max=300, retry_jitter=True, max_retries=12)
        def task(self, envelope: dict) -> str:
            redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
            return service_context(self.app, service).consume(envelope, handler,
                                                              redelivered=redelivered)

        return task

    return decorate


def claim_then_send(service: str, message_type: str,
                    claim: Callable[["ServiceContext", Session, dict], dict | None],
                    send: Callable[["ServiceContext", dict], object]):
    """Declare the task of a message whose work must not hold a transaction (a webhook
    delivery, a mail, a PDF conversion): ``claim(ctx, session, payload)`` takes the job
    in the service's transaction, once per message id (through the inbox); ``send(ctx,
    job)`` then runs with no transaction open and records the outcome itself."""

    @shared_task(name=task_name(service, message_type), bind=True, acks_late=True,
                 autoretry_for=TRANSIENT_ERRORS, retry_backoff=True,
                 retry_backoff_max=300, retry_jitter=True, max_retries=12)
    def task(self, envelope: dict) -> str:
        ctx = service_context(self.app, service)
        claimed: list[dict] = []

        def take(ctx_, session, payload, env):
            job = claim(ctx_, session, payload)
            if job is not None:
                claimed.append(job)

        outcome = ctx.consume(envelope, take)
        for job in claimed:
            send(ctx, job)
        return outcome

    return task


def requeue_due(ctx: "ServiceContext", session: Session, model, statuses: tuple[str, ...],
                message_type: str, id_key: str, lease_seconds: float,
                limit: int = 100) -> int:
    """Ask again (``message_type`` to the service itself, ``{id_key: row.id}``) for the
    outbound sends of ``model`` (webhook deliveries, mails) in ``statuses`` whose retry
    time came or whose lease expired; each is leased for ``lease_seconds``. Rows another
    worker is requeueing are skipped (PostgreSQL)."""
    now = utcnow()
    stmt = (select(model).where(model.status.in_(statuses), model.next_attempt_at <= now)
            .order_by(model.next_attempt_at).limit(limit))
    if not ctx.db.is_sqlite:
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.scalars(stmt).all()
    for row in rows:
        row.status = "queued"
        row.next_attempt_at = now + dt.timedelta(seconds=lease_seconds)
        ctx.emit(session, ctx.name, message_type, {id_key: row.id})
    return len(rows)


def ack_task(service: str):
    """The tasks every service with a queue declares: ``nws.<service>.outbox.ack`` (the
    acknowledgement of a broker without a side channel, or from a sender of an earlier
    version: one id or several) and ``nws.<service>.batch`` (messages that only inform,
    published together, see :func:`run_batch`)."""

    @shared_task(name=task_name(service, "outbox.ack"), bind=True, acks_late=True,
                 autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
    def ack(self, body: dict) -> None:
        ids = body.get("message_ids") or [body["message_id"]]
        service_context(self.app, service).acknowledge_many([str(i) for i in ids])

    @shared_task(name=task_name(service, BATCH), bind=True, acks_late=True,
                 autoretry_for=TRANSIENT_ERRORS, retry_backoff=True,
                 retry_backoff_max=300, retry_jitter=True, max_retries=12)
    def batch(self, body: dict) -> dict:
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        return run_batch(service_context(self.app, service), body, redelivered=redelivered)

    return ack


def run_batch(ctx: ServiceContext, body: dict, *, redelivered: bool = False) -> dict:
    """Consume each envelope of a batch on its own (its handler, its inbox row, its
    acknowledgement), in order. A malformed or unknown envelope is skipped (logged);
    an envelope whose handler failed does not stop the others, and the batch then fails
    with its error so that Celery delivers it again (what was done is a duplicate then).
    Returns the outcomes counted."""
    outcomes: dict[str, int] = {}
    failure: Exception | None = None
    envelopes = body.get("envelopes")
    if not isinstance(envelopes, list):
        raise PermanentMessageError("rejected batch: no envelopes")
    for envelope in envelopes:
        kind = envelope.get("type") if isinstance(envelope, dict) else None
        handler = HANDLERS.get((ctx.name, kind))
        try:
            if handler is None:
                raise PermanentMessageError(f"rejected message in a batch: {kind!r} is not "
                                            f"handled by {ctx.name}")
            outcome = ctx.consume(envelope, handler, redelivered=redelivered)
        except PermanentMessageError as exc:
            log.error("%s", exc)
            outcome = "rejected"
        except Exception as exc:
            failure = failure or exc
            outcome = "failed"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        # one line per envelope, under its own correlation id (as a task of its own had
        # Celery's line), so a request is still followed through every service's log
        cid = envelope.get("correlation_id") if isinstance(envelope, dict) else None
        token = current_correlation.set(cid if isinstance(cid, str) else None)
        try:
            log.info("message %s (%s) of a batch: %s", envelope.get("id") if isinstance(
                envelope, dict) else None, kind, outcome)
        finally:
            current_correlation.reset(token)
    if failure is not None:
        raise failure
    return outcomes


class OutboxSweeper(bootsteps.StartStopStep):
    """A worker bootstep, for the services this worker serves: every ``sweep_interval``
    seconds publish their due outbox messages; every ``ack_drain_interval`` seconds
    take in their acknowledgements; every ``inform_batch_interval`` seconds publish
    their messages that only inform, in batches."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        self.trefs = []

    def start(self, worker):
        app = worker.app
        services = getattr(app, "nws_sweep_services", ())
        interval = app.nws_settings.sweep_interval  # type: ignore[attr-defined]

        def each_service(method: str, what: str):
            def run():
                for name in services:
                    try:
                        getattr(service_context(app, name), method)()
                    except Exception:
                        log.exception("%s of %s failed", what, name)
            return run

        sweep = each_service("sweep", "outbox sweep")
        drain = each_service("drain_acks", "draining the acknowledgements")
        inform = each_service("publish_informing", "publishing the informing messages")

        if services:
            settings = app.nws_settings  # type: ignore[attr-defined]
            self.trefs = [
                worker.timer.call_repeatedly(interval, sweep, priority=10),
                worker.timer.call_repeatedly(settings.ack_drain_interval, drain, priority=10),
                worker.timer.call_repeatedly(settings.inform_batch_interval, inform,
                                             priority=10)]

    def stop(self, worker):
        for tref in self.trefs:
            tref.cancel()
        self.trefs = []


class ServicePeriodic(bootsteps.StartStopStep):
    """A worker bootstep that runs ``run(ctx)`` every ``sweep_interval`` seconds in
    workers that serve ``service`` (a subclass sets both)."""

    requires = {"celery.worker.components:Timer"}
    service = ""

    def __init__(self, worker, **kwargs):
        self.tref = None

    @staticmethod
    def run(ctx: ServiceContext) -> object:     # pragma: no cover - set by subclasses
        raise NotImplementedError

    def start(self, worker):
        app = worker.app
        if self.service not in getattr(app, "nws_sweep_services", ()):
            return
        ctx = service_context(app, self.service)
        work = type(self).run

        def run():
            try:
                work(ctx)
            except Exception:
                log.exception("%s periodic work failed", self.service)

        self.tref = worker.timer.call_repeatedly(app.nws_settings.sweep_interval, run,
                                                 priority=10)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
