"""The tamper-evident audit log: every state-changing action, who did it, from where.

Each service keeps its own log in its own table ``<service>_audit_log``
(:class:`AuditLogMixin`), append-only, each entry chained to the one before it by a
hash, so that an edited, deleted or reordered entry shows when the chain is walked
(:func:`verify`, ``nws audit verify``).

Recording
---------
Code that changes state calls :func:`record` inside its transaction::

    audit.record(session, "decision.approved", f"application:{app_id}",
                 {"stage": "primary"}, actor=principal, subject_org=case.org_id)

The entry is only queued in ``session.info``. Just before the transaction commits (a
``before_commit`` hook on the service's session factory, :func:`bind`), the session
flushes its own changes, takes the service's chain lock — ``pg_advisory_xact_lock`` on
PostgreSQL; SQLite admits one writer at a time already (``BEGIN IMMEDIATE``) — reads
the head of the chain and appends the queued entries after it. The lock is held only
for the end of the transaction, and every writer (web processes and workers alike)
appends after the entry the previous holder committed: the chain stays linear. A
transaction (or savepoint) that rolls back takes its queued entries with it: the log
holds what happened, nothing else. A unique sequence number is the last guard: two
writers that somehow read the same head cannot both commit.

Who and from where: ``actor`` (an account's :class:`~shared.auth.Principal`, an actor
dict as messages carry it, or :class:`Actor`) defaults to the one set with
:func:`acting_as` (the command line), else the caller of the current HTTP request,
else the system (a worker's task). ``address`` defaults to the current request's client
address — ``request.remote_addr``, which ``nws web``/``nws serve`` take from
X-Forwarded-For only behind the trusted gateway (``NWS_TRUSTED_PROXY``).

The chain
---------
Entry ``n`` stores ``prev_hash`` (entry ``n-1``'s hash; 64 zeros for the first) and
``hash = sha256(prev_hash + canonical(entry))``, hex, where ``canonical`` is the UTF-8
JSON (keys sorted, no spaces, no ASCII escaping) of ``{"v": 1, "service", "seq", "at"
(UTC, microseconds, "…Z"), "action", "target", "actor": {"login", "role", "org"},
"subject_org", "address", "detail"}``. Anyone can recompute it from the rows alone.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import zlib
from typing import Any, Iterator, Mapping

from sqlalchemy import Integer, String, event, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from shared.db import utcnow
from shared.jst import JST

log = logging.getLogger(__name__)

HASH_VERSION = 1
GENESIS = "0" * 64
# pg_advisory_xact_lock(AUDIT_LOCK, crc32(table)): one lock per service's log ("nwsa").
AUDIT_LOCK = 0x6E777361

_MODEL = "nws_audit_model"
_SERVICE = "nws_audit_service"
_PENDING = "nws_audit_pending"

# Column sizes: values are cut to them *before* hashing, so the stored row is what was
# hashed.
LIMITS = {"action": 60, "target": 200, "login": 100, "role": 30, "org": 40, "address": 64}


# --- who ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acted: an account's login, role and organisation, or the system, or a
    command-line user (``role`` ``cli``), or a subscriber (``subscriber``)."""

    login: str
    role: str = ""
    org: str = ""


SYSTEM = Actor("system", "system", "")


def actor_of(value: Any) -> Actor:
    """An :class:`Actor` from a Principal, an actor dict (``login``, ``org_id`` or
    ``org``, ``role``), an Actor, or None (the system)."""
    if value is None:
        return SYSTEM
    if isinstance(value, Actor):
        return value
    if isinstance(value, Mapping):
        return Actor(str(value.get("login") or "unknown"), str(value.get("role") or ""),
                     str(value.get("org_id") or value.get("org") or ""))
    # shared.auth.Principal (not imported here: auth imports flask request state)
    return Actor(str(value.login), str(getattr(value, "role", "") or ""),
                 str(getattr(value, "org_id", "") or ""))


_acting: contextvars.ContextVar[tuple[Actor, str | None] | None] = contextvars.ContextVar(
    "nws_audit_acting", default=None)


@contextlib.contextmanager
def acting_as(actor: Any, address: str | None = None) -> Iterator[None]:
    """Entries recorded in this block without an explicit actor name ``actor`` (and
    ``address``): the command line says who runs it this way."""
    token = _acting.set((actor_of(actor), address))
    try:
        yield
    finally:
        _acting.reset(token)


def cli_actor() -> tuple[Actor, str]:
    """The person running an ``nws`` command: ``cli:<OS user>``, from ``cli@<host>``."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        user = "unknown"
    return Actor(f"cli:{user}", "cli", ""), f"cli@{socket.gethostname()}"


def _request_state() -> tuple[Any, str | None]:
    """(the caller, its address) of the current HTTP request, or (None, None)."""
    try:
        from flask import g, has_request_context, request
    except ImportError:  # pragma: no cover - flask is a dependency
        return None, None
    if not has_request_context():
        return None, None
    return g.get("principal") or g.get("page_principal"), request.remote_addr


# --- the table ------------------------------------------------------------------------------

class AuditLogMixin:
    """Columns of a service's audit log (``<service>_audit_log``). ``seq`` is the entry's
    place in the chain (1, 2, 3, …)."""

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(200), index=True)
    actor_login: Mapped[str] = mapped_column(String(100), index=True)
    actor_role: Mapped[str] = mapped_column(String(30))
    actor_org: Mapped[str] = mapped_column(String(40), index=True)
    # The organisation the target belongs to (the applicant of a decided application,
    # the owner of an account), when there is one.
    subject_org: Mapped[str | None] = mapped_column(String(40), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def service_of(model) -> str:
    return model.__tablename__.removesuffix("_audit_log")


# --- the hash ---------------------------------------------------------------------------------

def _timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(service: str, entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers (see the module's docstring)."""
    body = {"v": HASH_VERSION, "service": service, "seq": entry["seq"],
            "at": _timestamp(entry["at"]), "action": entry["action"],
            "target": entry["target"],
            "actor": {"login": entry["actor_login"], "role": entry["actor_role"],
                      "org": entry["actor_org"]},
            "subject_org": entry["subject_org"], "address": entry["address"],
            "detail": entry["detail"]}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_hash(prev_hash: str, service: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(service, entry)).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _no_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    return value


def _json_detail(detail: Mapping[str, Any] | None) -> dict:
    """``detail`` as it reads back from a JSON column (so the hash is over what is
    stored): plain JSON, dates as ISO strings, no NUL characters (PostgreSQL refuses
    them)."""
    text_ = json.dumps(dict(detail or {}), ensure_ascii=False, allow_nan=False,
                       default=_plain)
    return _no_nul(json.loads(text_))


def _cut(value: str | None, key: str) -> str | None:
    if value is None:
        return None
    return str(value).replace("\x00", "")[:LIMITS[key]]


# --- recording --------------------------------------------------------------------------------

def bind(factory: sessionmaker, service: str, model) -> None:
    """Give every session of ``factory`` (a service's) its audit log: :func:`record`
    queues entries there and the commit appends them to the chain."""
    factory.configure(info={_MODEL: model, _SERVICE: service})
    # Marked on the factory itself: SQLAlchemy's event.contains() can answer True for a
    # new factory that took the id() of a collected one, and the hooks would be missing.
    if not getattr(factory, "_nws_audit_bound", False):
        event.listen(factory, "before_commit", _before_commit)
        event.listen(factory, "after_commit", _after_commit)
        event.listen(factory, "after_soft_rollback", _after_soft_rollback)
        factory._nws_audit_bound = True


def record(session: Session, action: str, target: str, detail: Mapping[str, Any] | None = None,
           *, actor: Any = None, address: str | None = None,
           subject_org: str | None = None) -> None:
    """Queue an entry of this service's audit log; it is written when ``session``'s
    transaction commits, and dropped if it (or the savepoint it was queued in) rolls
    back. ``target`` names what was acted on, ``"<kind>:<id>"`` (``application:42``,
    ``account:demo-pref``); ``detail`` is a small JSON object (never a password, a
    secret or a token)."""
    if _MODEL not in session.info:
        raise RuntimeError("this session has no audit log (shared.audit.bind)")
    acting = _acting.get()
    requester, request_address = _request_state()
    if actor is None:
        actor = acting[0] if acting else requester
    if address is None:
        address = acting[1] if acting else request_address
    who = actor_of(actor)
    pending = session.info.setdefault(_PENDING, [])
    pending.append((session.get_nested_transaction() or session.get_transaction(), {
        "action": _cut(action, "action"), "target": _cut(target, "target"),
        "actor_login": _cut(who.login, "login"), "actor_role": _cut(who.role, "role"),
        "actor_org": _cut(who.org, "org"), "subject_org": _cut(subject_org, "org"),
        "address": _cut(address, "address"), "detail": _json_detail(detail)}))


def lock_chain(session: Session, model) -> None:
    """Take the chain lock of ``model``'s log until the transaction ends (PostgreSQL; a
    no-op on SQLite, whose write transactions are serial)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(model.__tablename__.encode()) & 0x7FFFFFFF
        session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"),
                        {"a": AUDIT_LOCK, "b": key})


def head(session: Session, model) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, GENESIS) for an empty log."""
    row = session.execute(select(model.seq, model.hash).order_by(model.seq.desc())
                          .limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def _before_commit(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if not pending or session.in_nested_transaction():
        return   # nothing queued, or a savepoint is released: the outer commit writes
    model, service = session.info[_MODEL], session.info[_SERVICE]
    # The transaction's own changes first: their row locks are taken before the chain
    # lock, so a writer holding the chain lock never waits for a row.
    session.flush()
    lock_chain(session, model)
    seq, prev = head(session, model)
    at = utcnow()
    for _txn, entry in pending:
        seq += 1
        row = {**entry, "seq": seq, "at": at, "prev_hash": prev}
        row["hash"] = entry_hash(prev, service, row)
        session.add(model(**row))
        prev = row["hash"]
    pending.clear()


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return   # a savepoint was released: its entries wait for the outer commit
    left = session.info.pop(_PENDING, None)
    if left:  # only if a commit ran with a savepoint still open
        log.error("%d audit entries were not written (commit with an open savepoint)",
                  len(left))


def _after_soft_rollback(session: Session, previous) -> None:
    """Drop what was queued in the transaction or savepoint that rolled back (and in
    savepoints inside it)."""
    pending = session.info.get(_PENDING)
    if not pending:
        return

    def inside(txn) -> bool:
        while txn is not None:
            if txn is previous:
                return True
            txn = txn.parent
        return False

    pending[:] = [(t, e) for t, e in pending if not inside(t)]


# --- verifying --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Verdict:
    service: str
    ok: bool
    entries: int                     # entries read
    head_seq: int
    head_hash: str
    broken_seq: int | None = None    # the first entry that does not verify
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return (f"{self.service}: OK, {self.entries} entries, head "
                    f"{self.service}:{self.head_seq}:{self.head_hash}")
        return f"{self.service}: BROKEN at entry {self.broken_seq}: {self.reason}"


def verify(session: Session, model, *, expect: tuple[int, str] | None = None,
           since: tuple[int, str] | None = None, batch: int = 1000) -> Verdict:
    """Walk ``model``'s chain from the first entry; stop at the first that does not
    verify: a missing sequence number (deleted, or reordered), a ``prev_hash`` that is
    not the previous entry's hash (deleted, reordered or forged), or content whose hash
    is not the stored one (altered).

    A chain whose newest entries were cut off is still a chain: ``expect`` (a head
    ``(seq, hash)`` noted earlier, e.g. from a previous run) must still be in it.
    ``since`` (a head noted earlier) starts the walk at that entry instead of the first:
    what was appended since (and, after an investigated break, the chain after it)."""
    service = service_of(model)
    prev, expected, count = GENESIS, 1, 0
    last = 0
    if since is not None:
        start = session.get(model, since[0])
        if start is None or start.hash != since[1]:
            return Verdict(service, False, 0, since[0] - 1, "", since[0],
                           "the noted head to start from is not in the log as noted")
        prev, expected, last = start.prev_hash, since[0], since[0] - 1
    while True:
        rows = session.scalars(select(model).where(model.seq > last).order_by(model.seq)
                               .limit(batch)).all()
        if not rows:
            break
        for row in rows:
            count += 1
            if row.seq != expected:   # rows come in seq order: some are missing
                what = (f"entry {expected} is missing (deleted)" if row.seq == expected + 1
                        else f"entries {expected}–{row.seq - 1} are missing (deleted)")
                return Verdict(service, False, count, expected - 1, prev, expected, what)
            if row.prev_hash != prev:
                return Verdict(service, False, count, expected - 1, prev, row.seq,
                               "its prev_hash is not the previous entry's hash "
                               "(an entry before it was deleted, replaced or reordered)")
            fields = {c: getattr(row, c) for c in (
                "seq", "at", "action", "target", "actor_login", "actor_role", "actor_org",
                "subject_org", "address", "detail")}
            if entry_hash(prev, service, fields) != row.hash:
                return Verdict(service, False, count, expected - 1, prev, row.seq,
                               "its content does not match its hash (altered)")
            if expect is not None and row.seq == expect[0] and row.hash != expect[1]:
                return Verdict(service, False, count, expected - 1, prev, row.seq,
                               f"its hash is not the one noted ({expect[1][:16]}…): the log "
                               "was rewritten from here on")
            prev, expected = row.hash, expected + 1
        last = rows[-1].seq
        session.expunge_all()
    if expect is not None and expect[0] > expected - 1 and (since is None
                                                             or expect[0] >= since[0]):
        return Verdict(service, False, count, expected - 1, prev, expected,
                       f"the log ends at entry {expected - 1}, before the noted head "
                       f"{expect[0]}: its newest entries were deleted")
    return Verdict(service, True, count, expected - 1, prev)


# --- reading ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Filters:
    action: str | None = None        # exact, or a prefix when it ends with "*"
    actor: str | None = None         # login
    org: str | None = None           # the actor's or the subject's organisation
    target: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive
    before: int | None = None        # seq: entries older than this one (the next page)
    limit: int = 50


MAX_LIMIT = 200


class FilterError(ValueError):
    """A bad filter; ``problems`` are (field, Japanese message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{k}: {m}" for k, m in problems))
        self.problems = problems


def _moment(raw: str, field: str, *, end: bool) -> dt.datetime:
    """A date (a JST day: its start, or for ``end`` the start of the next day) or a
    date-time with its offset (without one: JST)."""
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            start = dt.datetime.combine(day, dt.time(), JST)
            return start + dt.timedelta(days=1) if end else start
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError([(field, "日付は YYYY-MM-DD（日本時間）または ISO 8601 の日時で指定してください。")]) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=JST)


def parse_filters(args: Mapping[str, str]) -> Filters:
    """Filters from request arguments: action, actor, org, target, from, to (dates are
    JST days, ``to`` inclusive), before, limit (≤ 200)."""
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for key in ("action", "actor", "org", "target"):
        value = (args.get(key) or "").strip()
        if len(value) > 200:
            problems.append((key, "200 文字以内で指定してください。"))
        elif value:
            values[key] = value
    for key, name, end in (("from", "since", False), ("to", "until", True)):
        value = (args.get(key) or "").strip()
        if value:
            try:
                values[name] = _moment(value, key, end=end)
            except FilterError as exc:
                problems += exc.problems
    for key, low, high in (("before", 1, 2 ** 62), ("limit", 1, MAX_LIMIT)):
        value = (args.get(key) or "").strip()
        if value:
            if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
                problems.append((key, f"{key} は {low} 以上 {high} 以下の整数で指定してください。"))
            else:
                values[key] = int(value)
    if problems:
        raise FilterError(problems)
    return Filters(**values)


def query(session: Session, model, filters: Filters) -> tuple[list[dict], int | None]:
    """Entries matching ``filters``, newest first, and the ``before`` of the next page
    (None on the last)."""
    stmt = select(model).order_by(model.seq.desc())
    if filters.action:
        stmt = stmt.where(model.action.startswith(filters.action[:-1], autoescape=True)
                          if filters.action.endswith("*") else model.action == filters.action)
    if filters.actor:
        stmt = stmt.where(model.actor_login == filters.actor)
    if filters.org:
        stmt = stmt.where((model.actor_org == filters.org) | (model.subject_org == filters.org))
    if filters.target:
        stmt = stmt.where(model.target == filters.target)
    if filters.since:
        stmt = stmt.where(model.at >= filters.since)
    if filters.until:
        stmt = stmt.where(model.at < filters.until)
    if filters.before:
        stmt = stmt.where(model.seq < filters.before)
    rows = session.scalars(stmt.limit(filters.limit + 1)).all()
    more = len(rows) > filters.limit
    rows = rows[:filters.limit]
    return [describe(r) for r in rows], (rows[-1].seq if more and rows else None)


def describe(row) -> dict:
    return {"seq": row.seq, "at": row.at.isoformat(), "action": row.action,
            "target": row.target,
            "actor": {"login": row.actor_login, "role": row.actor_role, "org": row.actor_org},
            "subject_org": row.subject_org, "address": row.address, "detail": row.detail,
            "prev_hash": row.prev_hash, "hash": row.hash}

