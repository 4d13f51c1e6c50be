"""Registering approved content as master versions, publication modes, and reading
versions.

A version is made either by one registration (publication mode ``immediate``, the
default) or by an operator's 配信 of every registration prepared (整備) since the last one
(mode ``batched``). Either way the work is set-based and proportional to what changes:
each organisation's current rows are read through an index, superseded rows are closed
(``to_version``) and new rows inserted in bulk, and the checksum is updated from the
changed rows' hashes alone.
"""
from __future__ import annotations

import dataclasses
import gc
import json
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterable, Iterator

from sqlalchemy import Text, cast, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from shared import audit, plugincalls
from shared.db import utcnow
from shared.jst import JST
from shared.messaging import ServiceContext
from shared.web import ApiError, not_found
from services.master.content import (emergency_contacts, matching_keys, row_hash, rows_from,
                                     self_check)
from services.master.models import (MasterHead, MasterRow, MasterVersion, MatchingUpdate,
                                    PendingRegistration, Registration, RestrictedContact,
                                    RestrictedSelfCheck)

CHUNK = 2000           # rows per bulk INSERT / ids per bulk UPDATE
PENDING_CHUNK = 200    # prepared registrations read at a time during a 配信


@contextmanager
def bulk_work() -> Iterator[None]:
    """Pause the cyclic garbage collector while hundreds of thousands of rows are built
    or decoded: the objects are acyclic and reference counting frees them, but their
    sheer number makes Python 3.11 run full collections over and over (a national
    version reads four times faster without them, see bench/README.md)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class NothingToPublish(Exception):
    """A 配信 was asked for with no prepared registration."""


def _head(session: Session, for_update: bool = True) -> MasterHead:
    stmt = select(MasterHead).where(MasterHead.id == 1)
    if for_update:
        stmt = stmt.with_for_update()
    head = session.scalar(stmt)
    if head is None:
        head = MasterHead(id=1, number=0, checksum="0" * 64, mode="immediate")
        session.add(head)
        session.flush()
    return head


def head(session: Session) -> MasterHead:
    """The head row, read without locking (number 0 when nothing was registered)."""
    return session.get(MasterHead, 1) or MasterHead(id=1, number=0, checksum="0" * 64,
                                                    mode="immediate")


def _source(payload: dict) -> dict:
    return {"application_id": payload["application_id"], "number": payload["number"],
            "round": payload["round"], "org_id": payload["org"]["id"]}


# --- registration and publication ---------------------------------------------------

def register(ctx: ServiceContext, session: Session, payload: dict) -> MasterVersion | None:
    """Take one approved application round. In immediate mode it becomes a new version
    at once; in batched mode it is prepared (整備) for the next 配信 and None is
    returned. A repeat of a round already taken does nothing."""
    head_row = _head(session)  # serialises registrations and publications
    key = (PendingRegistration.application_id == payload["application_id"],
           PendingRegistration.round == payload["round"])
    done = session.scalar(select(Registration.id).where(
        Registration.application_id == payload["application_id"],
        Registration.round == payload["round"]))
    if done is not None or session.scalar(select(PendingRegistration.id).where(*key)):
        return None
    if head_row.mode == "batched":
        session.add(PendingRegistration(
            application_id=payload["application_id"], round=payload["round"],
            number=payload["number"], org_id=payload["org"]["id"], payload=payload))
        audit.record(session, "master.prepared", f"application:{payload['application_id']}",
                     {"number": payload["number"], "round": payload["round"]},
                     subject_org=payload["org"]["id"])
        ctx.emit(session, "intake", "application.status_changed", {
            "application_id": payload["application_id"], "round": payload["round"],
            "status": "approved", "event": "master_prepared", "stage": None,
            "reviewer_org_id": None, "actor": None,
            "comment": "マスタデータ整備に登録されました。次回の配信でマスタに反映されます。",
            "at": utcnow().isoformat()})
        return None
    version = _make_version(ctx, session, head_row, [payload])
    audit.record(session, "master.version_created", f"version:{version.number}",
                 {"version": version.number, "checksum": version.checksum,
                  "application_id": payload["application_id"], "number": payload["number"],
                  "round": payload["round"]}, subject_org=payload["org"]["id"])
    return version


def publish_prepared(ctx: ServiceContext, session: Session) -> MasterVersion:
    """配信: every prepared registration as one new version (grouped by organisation,
    in the order received within one; sources listed in that order)."""
    head_row = _head(session)
    upto = session.scalar(select(PendingRegistration.id).order_by(
        PendingRegistration.id.desc()).limit(1))
    if upto is None:
        raise NothingToPublish()
    with bulk_work():
        version = _make_version(ctx, session, head_row, _pending_payloads(session, upto))
    session.execute(delete(PendingRegistration).where(PendingRegistration.id <= upto))
    audit.record(session, "master.published", f"version:{version.number}",
                 {"version": version.number, "checksum": version.checksum,
                  "applications": len(version.sources)})
    return version


def pending(session: Session) -> list:
    """The prepared registrations (their ids, never their content), oldest first."""
    P = PendingRegistration
    return session.execute(select(P.application_id, P.number, P.round, P.org_id,
                                  P.received_at).order_by(P.id)).all()


def _pending_payloads(session: Session, upto: int) -> Iterator[dict]:
    """Prepared payloads grouped by organisation (received order within one), read in
    chunks of organisations so a national batch never sits in memory whole."""
    orgs = session.scalars(select(PendingRegistration.org_id).distinct()
                           .where(PendingRegistration.id <= upto)
                           .order_by(PendingRegistration.org_id)).all()
    for i in range(0, len(orgs), PENDING_CHUNK):
        yield from session.scalars(
            select(PendingRegistration.payload)
            .where(PendingRegistration.org_id.in_(orgs[i:i + PENDING_CHUNK]),
                   PendingRegistration.id <= upto)
            .order_by(PendingRegistration.org_id, PendingRegistration.id))


def set_mode(session: Session, mode: str) -> MasterHead:
    """Switch the publication mode. Leaving batched mode with prepared registrations is
    refused (they would be published by nobody): publish them first."""
    head_row = _head(session)
    if mode == "immediate" and head_row.mode == "batched" and session.scalar(
            select(PendingRegistration.id).limit(1)) is not None:
        raise NotEmpty()
    if head_row.mode != mode:
        audit.record(session, "publication.mode_changed", "publication",
                     {"from": head_row.mode, "to": mode})
    head_row.mode = mode
    return head_row


class NotEmpty(Exception):
    """Prepared registrations still wait for a 配信."""


MODES = ("immediate", "batched")


def switch_mode(session: Session, mode: str) -> MasterHead:
    """What ``PUT /api/master/publication`` and the publication page do: 422 for an
    unknown mode, 409 while prepared registrations wait (:func:`set_mode`)."""
    if mode not in MODES:
        raise ApiError(422, "bad_parameter", "公開方式は「即時」または「整備・配信」を選んでください。")
    try:
        return set_mode(session, mode)
    except NotEmpty:
        raise ApiError(409, "pending_registrations",
                       "配信待ちの整備済み登録があります。先に配信してから公開方式を変更してください。"
                       ) from None


def publish(ctx: ServiceContext, session: Session) -> MasterVersion:
    """配信 as ``POST /api/master/publications`` and the page do it: 409 when nothing is
    prepared (:func:`publish_prepared`)."""
    try:
        return publish_prepared(ctx, session)
    except NothingToPublish:
        raise ApiError(409, "nothing_prepared", "配信する整備済みの登録がありません。") from None


def describe_pending(p) -> dict:
    """A prepared registration as operators see it (never its content)."""
    return {"application_id": p.application_id, "number": p.number, "round": p.round,
            "org_id": p.org_id, "received_at": p.received_at.isoformat()}


def publication(session: Session) -> dict:
    """The publication mode, the newest version and the prepared registrations."""
    head_row = head(session)
    return {"mode": head_row.mode, "version": head_row.number,
            "pending": [describe_pending(p) for p in pending(session)]}


@dataclasses.dataclass
class _Current:
    id: int | None           # None: a row new in this version
    hash: str
    data: dict


@dataclasses.dataclass
class _Sink:
    """What one version writes, flushed to the database in chunks."""

    session: Session
    number: int
    want_changes: bool
    registered_on: str = ""   # JST date (YYYY/MM/DD) of the version: a new 有効開始日
    inserts: list[dict] = dataclasses.field(default_factory=list)
    closes: list[int] = dataclasses.field(default_factory=list)
    restricted: dict[str, list[dict]] = dataclasses.field(default_factory=dict)
    self_checks: dict[str, tuple[int, dict]] = dataclasses.field(default_factory=dict)
    checksum_delta: int = 0
    summary: dict = dataclasses.field(default_factory=lambda: defaultdict(
        lambda: {"added": 0, "removed": 0, "changed": 0}))
    changes: dict = dataclasses.field(default_factory=lambda: defaultdict(
        lambda: {"added": [], "removed": [], "changed": []}))

    def note(self, kind: str, table: str, entry: dict) -> None:
        self.summary[table][kind] += 1
        if self.want_changes:
            self.changes[table][kind].append(entry)

    def flush(self, force: bool = False) -> None:
        if self.closes and (force or len(self.closes) >= CHUNK):
            for i in range(0, len(self.closes), CHUNK):
                self.session.execute(update(MasterRow).where(
                    MasterRow.id.in_(self.closes[i:i + CHUNK])).values(to_version=self.number),
                    execution_options={"synchronize_session": False})
            self.closes.clear()
        if self.inserts and (force or len(self.inserts) >= CHUNK):
            self.session.execute(insert(MasterRow), self.inserts)
            self.inserts.clear()
        if self.restricted and (force or len(self.restricted) >= CHUNK // 10):
            self.session.execute(delete(RestrictedContact).where(
                RestrictedContact.org_id.in_(list(self.restricted))))
            rows = [{"org_id": org_id, "priority": int(c["priority"]), "data": c,
                     "updated_at": utcnow()}
                    for org_id, contacts in self.restricted.items() for c in contacts]
            if rows:
                self.session.execute(insert(RestrictedContact), rows)
            self.restricted.clear()
        if self.self_checks and (force or len(self.self_checks) >= CHUNK // 10):
            self.session.execute(delete(RestrictedSelfCheck).where(
                RestrictedSelfCheck.org_id.in_(list(self.self_checks))))
            self.session.execute(insert(RestrictedSelfCheck), [
                {"org_id": org_id, "data": data, "application_id": app_id,
                 "updated_at": utcnow()}
                for org_id, (app_id, data) in self.self_checks.items()])
            self.self_checks.clear()


def _make_version(ctx: ServiceContext, session: Session, head_row: MasterHead,
                  payloads: Iterable[dict]) -> MasterVersion:
    number = head_row.number + 1
    hook = ctx.plugins.hook.nws_master_published if ctx.plugins is not None else None
    sink = _Sink(session, number, want_changes=bool(hook and hook.get_hookimpls()),
                 registered_on=f"{utcnow().astimezone(JST):%Y/%m/%d}")
    sources: list[dict] = []
    by_org: list[dict] = []
    org_names: dict[str, str] = {}      # for the applicants' notices
    for payload in payloads:
        org_names[payload["org"]["id"]] = payload["org"]["name"]
        if by_org and by_org[-1]["org"]["id"] != payload["org"]["id"]:
            _apply_org(session, sink, by_org)
            by_org = []
        by_org.append(payload)
        sources.append(_source(payload))
    if by_org:
        _apply_org(session, sink, by_org)
    sink.flush(force=True)
    _apply_matching_updates(session, sink)
    sink.flush(force=True)
    head_row.number = number
    head_row.checksum = f"{(int(head_row.checksum, 16) + sink.checksum_delta) % 2 ** 256:064x}"
    version = MasterVersion(number=number, created_at=utcnow(), checksum=head_row.checksum,
                            sources=sources,
                            summary={t: dict(c) for t, c in sorted(sink.summary.items())})
    session.add(version)
    session.execute(insert(Registration), [
        {"application_id": s["application_id"], "round": s["round"], "version": number,
         "registered_at": version.created_at} for s in sources])
    session.flush()
    if sink.want_changes:
        changes = {t: {k: sorted(v, key=lambda e: e["key"]) for k, v in c.items()}
                   for t, c in sorted(sink.changes.items())}
        # A plugin that raises rolls the version back (the task is retried, a dead letter
        # after NWS_DEAD_LETTER_AFTER attempts); its fault is logged with its name and
        # counted. Every implementation is told, the first fault stops it.
        for impl in plugincalls.implementations(ctx.plugins, "nws_master_published"):
            kwargs = {"version": describe_version(version), "changes": changes}
            plugincalls.call(impl.plugin_name, "nws_master_published", impl.function,
                             *[kwargs[a] for a in impl.argnames])
    for s in sources:
        ctx.emit(session, "intake", "application.status_changed", {
            "application_id": s["application_id"], "round": s["round"],
            "status": "registered", "event": "registered", "stage": None,
            "reviewer_org_id": None, "actor": None,
            "comment": f"マスタ版 {number} に登録されました。",
            "at": utcnow().isoformat(), "master_version": number})
        ctx.emit(session, "identity", "notification.requested", {
            "kind": "registered", "org_id": s["org_id"], "org_name": org_names.get(s["org_id"]),
            "application_id": s["application_id"], "number": s["number"],
            "master_version": number,
            "link": f"/applicant/applications/{s['application_id']}"})
    from services.master import distribution  # distribution reads versions from here

    distribution.schedule(ctx, session, number)
    return version


def record_matching(session: Session, payload: dict) -> None:
    """Matching re-evaluated an organisation's delegation records (a counterpart filed,
    changed or withdrew): keep the newest status per row for the next version."""
    if not payload.get("org_id"):
        return
    for (table, key), status in matching_keys(payload["org_id"], payload["records"]).items():
        held = session.get(MatchingUpdate, (table, key), with_for_update=True)
        if held is None:
            session.add(MatchingUpdate(table_name=table, key=key, org_id=payload["org_id"],
                                       status=status))
        else:
            held.status = status


def _apply_matching_updates(session: Session, sink: _Sink) -> None:
    """Bring the matching status of registered delegation rows up to date in this
    version (rows written by this version already carry what 総務省 saw)."""
    updates = session.scalars(select(MatchingUpdate)).all()
    if not updates:
        return
    by_key = {(u.table_name, u.key): u.status for u in updates}
    keys = sorted({k for _, k in by_key})
    rows = []
    for i in range(0, len(keys), CHUNK):
        rows += session.execute(
            select(MasterRow.id, MasterRow.table_name, MasterRow.key, MasterRow.data,
                   MasterRow.row_hash, MasterRow.from_version)
            .where(MasterRow.to_version.is_(None), MasterRow.key.in_(keys[i:i + CHUNK]))).all()
    for row_id, table, key, data, old_hash, from_version in rows:
        status = by_key.get((table, key))
        if status is None or from_version == sink.number or (
                (data or {}).get("matching_status") == status):
            continue
        new = {**data, "matching_status": status}
        h = row_hash(table, key, new)
        sink.closes.append(row_id)
        sink.checksum_delta += int(h, 16) - int(old_hash, 16)
        sink.note("changed", table, {"key": key, "before": data, "after": new})
        sink.inserts.append({"table_name": table, "key": key, "org_id": new.get("org_id"),
                             "data": new, "row_hash": h, "from_version": sink.number,
                             "to_version": None})
    for u in updates:   # exactly what was read: a report arriving meanwhile stays
        session.execute(delete(MatchingUpdate).where(
            MatchingUpdate.table_name == u.table_name, MatchingUpdate.key == u.key,
            MatchingUpdate.status == u.status))


def _apply_org(session: Session, sink: _Sink, payloads: list[dict]) -> None:
    """Apply one organisation's registrations (in order) against its current rows."""
    org_id = payloads[0]["org"]["id"]
    current: dict[tuple[str, str], _Current] = {
        (t, k): _Current(i, h, d) for i, t, k, h, d in session.execute(
            select(MasterRow.id, MasterRow.table_name, MasterRow.key, MasterRow.row_hash,
                   MasterRow.data)
            .where(MasterRow.org_id == org_id, MasterRow.to_version.is_(None)))}
    state = dict(current)
    restricted = None
    for payload in payloads:
        tables = rows_from(payload["org"], payload["forms"], payload.get("catalog_version"),
                           payload.get("matching"), payload.get("kind", "connection"))
        for table, change in tables.items():
            if change.whole:
                stale = {k for (t, k) in state if t == table} - set(change.rows)
            else:
                stale = {k for k in change.deleted if (table, k) in state}
            for key in stale:
                del state[(table, key)]
            for key, data in change.rows.items():
                if table == "connections":
                    held = state.get((table, key))
                    data = {**data, "valid_from": (held.data.get("valid_from") if held
                                                   else sink.registered_on)}
                h = row_hash(table, key, data)
                held = state.get((table, key))
                if held is None or held.hash != h:
                    state[(table, key)] = _Current(None, h, data)
        found = emergency_contacts(payload["forms"])
        if found is not None:
            restricted = found
        checked = self_check(payload["forms"])
        if checked is not None:
            sink.self_checks[org_id] = (payload["application_id"], checked)
    for (table, key), old in current.items():
        new = state.get((table, key))
        if new is not None and new.hash == old.hash:
            state[(table, key)] = old
            continue
        sink.closes.append(old.id)
        sink.checksum_delta -= int(old.hash, 16)
        if new is None:
            sink.note("removed", table, {"key": key, "data": old.data})
        else:
            sink.note("changed", table, {"key": key, "before": old.data, "after": new.data})
    for (table, key), new in state.items():
        if new.id is not None:
            continue
        if (table, key) not in current:
            sink.note("added", table, {"key": key, "data": new.data})
        sink.inserts.append({"table_name": table, "key": key, "org_id": org_id,
                             "data": new.data, "row_hash": new.hash,
                             "from_version": sink.number, "to_version": None})
        sink.checksum_delta += int(new.hash, 16)
    if restricted is not None:
        sink.restricted[org_id] = restricted
    sink.flush()


# --- reading ------------------------------------------------------------------------

def describe_version(version: MasterVersion) -> dict:
    return {"number": version.number, "created_at": version.created_at.isoformat(),
            "checksum": version.checksum, "sources": version.sources,
            "summary": version.summary}


def version(session: Session, number: int) -> MasterVersion:
    """Version ``number``; 404 when there is none."""
    found = session.get(MasterVersion, number)
    if found is None:
        raise not_found(f"マスタ版 {number} ")
    return found


def versions(session: Session, limit: int) -> list[dict]:
    """The newest ``limit`` versions, newest first, described."""
    return [describe_version(v) for v in session.scalars(
        select(MasterVersion).order_by(MasterVersion.number.desc()).limit(limit))]


def diff_versions(session: Session, number: int, base: int) -> None:
    """404 unless version ``number`` and ``base`` (0: the empty master) exist: what a
    diff from ``base`` to ``number`` needs."""
    version(session, number)
    if base != 0:
        version(session, base)


def rows_at(session: Session, number: int, tables=None):
    """Every row of version ``number``: from_version ≤ number < to_version."""
    stmt = select(MasterRow).where(MasterRow.from_version <= number, or_(
        MasterRow.to_version.is_(None), MasterRow.to_version > number))
    if tables:
        stmt = stmt.where(MasterRow.table_name.in_(tables))
    return session.scalars(stmt.order_by(MasterRow.table_name, MasterRow.key))


def iter_rows(session: Session, number: int) -> Iterator[tuple[str, str, dict]]:
    """(table, key, data) of version ``number`` in table and key order, streamed."""
    stmt = (select(MasterRow.table_name, MasterRow.key, MasterRow.data)
            .where(MasterRow.from_version <= number,
                   or_(MasterRow.to_version.is_(None), MasterRow.to_version > number))
            .order_by(MasterRow.table_name, MasterRow.key)
            .execution_options(yield_per=5000))
    yield from session.execute(stmt)


def content(session: Session, number: int) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    with bulk_work():
        for table, key, data in iter_rows(session, number):
            out[table].append({"key": key, "data": data})
    return dict(out)


def diff(session: Session, old: int, new: int) -> dict[str, dict[str, list]]:
    """Rows added, removed and changed between versions ``old`` and ``new``.

    Only rows whose validity starts or ends between the two versions are read (through
    the ``from_version`` and ``to_version`` indexes), so the cost follows the size of
    the change, not of the master."""
    with bulk_work():
        return _diff(session, old, new)


def _diff(session: Session, old: int, new: int) -> dict[str, dict[str, list]]:
    lo, hi = sorted((old, new))
    cols = (MasterRow.table_name, MasterRow.key, MasterRow.row_hash, MasterRow.data)
    before = {(t, k): (h, d) for t, k, h, d in session.execute(select(*cols).where(
        MasterRow.to_version > lo, MasterRow.to_version <= hi, MasterRow.from_version <= lo))}
    after = {(t, k): (h, d) for t, k, h, d in session.execute(select(*cols).where(
        MasterRow.from_version > lo, MasterRow.from_version <= hi,
        or_(MasterRow.to_version.is_(None), MasterRow.to_version > hi)))}
    if old > new:
        before, after = after, before
    out: dict[str, dict[str, list]] = defaultdict(lambda: {"added": [], "removed": [],
                                                           "changed": []})
    for key in sorted(before.keys() | after.keys()):
        table, row_key = key
        b, a = before.get(key), after.get(key)
        if b is not None and a is not None:
            if b[0] != a[0]:
                out[table]["changed"].append({"key": row_key, "before": b[1], "after": a[1]})
        elif a is not None:
            out[table]["added"].append({"key": row_key, "data": a[1]})
        else:
            out[table]["removed"].append({"key": row_key, "data": b[1]})
    return dict(out)


# --- the same, as JSON text ----------------------------------------------------------
#
# The API answers, exports and subscriber documents embed each row's data as the JSON
# text stored in the database, never decoded: a national version (500,000 rows) then
# takes a few hundred megabytes as one string instead of gigabytes as Python objects.

def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def content_json(session: Session, number: int) -> str:
    """``{"TABLE": [{"key", "data"}, …], …}`` of version ``number`` as JSON text (the
    same document :func:`content` returns, tables and keys in the same order)."""
    stmt = (select(MasterRow.table_name, MasterRow.key, cast(MasterRow.data, Text))
            .where(MasterRow.from_version <= number,
                   or_(MasterRow.to_version.is_(None), MasterRow.to_version > number))
            .order_by(MasterRow.table_name, MasterRow.key)
            .execution_options(yield_per=5000))
    parts: list[str] = []
    current = None
    with bulk_work():
        for table, key, raw in session.execute(stmt):
            if table != current:
                parts.append(("]," if current is not None else "") + _q(table) + ":[")
                current = table
            else:
                parts.append(",")
            parts.append('{"key":' + _q(key) + ',"data":' + raw + "}")
        if current is not None:
            parts.append("]")
        return "{" + "".join(parts) + "}"


def diff_json(session: Session, old: int, new: int) -> str:
    """:func:`diff` as JSON text. Only the rows on the ``old`` side are held in a dict;
    the other side is streamed and each row written out as it comes, so a diff from an
    empty version costs little more than the text itself."""
    lo, hi = sorted((old, new))
    cols = (MasterRow.table_name, MasterRow.key, MasterRow.row_hash, cast(MasterRow.data, Text))
    closed = select(*cols).where(MasterRow.to_version > lo, MasterRow.to_version <= hi,
                                 MasterRow.from_version <= lo)
    opened = select(*cols).where(MasterRow.from_version > lo, MasterRow.from_version <= hi,
                                 or_(MasterRow.to_version.is_(None), MasterRow.to_version > hi))
    if old > new:
        closed, opened = opened, closed
    out: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(
        lambda: {"added": [], "removed": [], "changed": []})
    with bulk_work():
        before = {(t, k): (h, d) for t, k, h, d in session.execute(closed)}
        for table, key, h, raw in session.execute(opened.execution_options(yield_per=5000)):
            b = before.pop((table, key), None)
            if b is None:
                out[table]["added"].append((key, f'{{"key":{_q(key)},"data":{raw}}}'))
            elif b[0] != h:
                out[table]["changed"].append(
                    (key, f'{{"key":{_q(key)},"before":{b[1]},"after":{raw}}}'))
        for (table, key), (_h, raw) in before.items():
            out[table]["removed"].append((key, f'{{"key":{_q(key)},"data":{raw}}}'))
        del before
        parts = []
        for table in sorted(out):
            kinds = []
            for kind, rows in out[table].items():
                rows.sort()
                kinds.append(f'"{kind}":[' + ",".join(text for _k, text in rows) + "]")
                rows.clear()
            parts.append(_q(table) + ":{" + ",".join(kinds) + "}")
        return "{" + ",".join(parts) + "}"
