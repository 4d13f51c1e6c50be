"""Registering approved content as a new master version, and reading versions."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.messaging import ServiceContext
from services.master.content import combine, emergency_contacts, row_hash, rows_from
from services.master.models import (MasterHead, MasterRow, MasterVersion, Registration,
                                    RestrictedContact)


def _head(session: Session, for_update: bool = True) -> MasterHead:
    stmt = select(MasterHead).where(MasterHead.id == 1)
    if for_update:
        stmt = stmt.with_for_update()
    head = session.scalar(stmt)
    if head is None:
        head = MasterHead(id=1, number=0, checksum="0" * 64)
        session.add(head)
        session.flush()
    return head


def register(ctx: ServiceContext, session: Session, payload: dict) -> MasterVersion | None:
    """Register one approved application round; a repeat does nothing."""
    head = _head(session)  # serialises registrations
    done = session.scalar(select(Registration).where(
        Registration.application_id == payload["application_id"],
        Registration.round == payload["round"]))
    if done is not None:
        return None
    org = payload["org"]
    number = head.number + 1
    new_rows = rows_from(org, payload["forms"])
    changes: dict[str, dict[str, list]] = defaultdict(lambda: {"added": [], "removed": [],
                                                               "changed": []})
    added_hashes: list[str] = []
    removed_hashes: list[str] = []
    for table, rows in new_rows.items():
        current = {r.key: r for r in session.scalars(select(MasterRow).where(
            MasterRow.table_name == table, MasterRow.org_id == org["id"],
            MasterRow.to_version.is_(None)))}
        for key, data in rows.items():
            h = row_hash(table, key, data)
            old = current.pop(key, None)
            if old is not None and old.row_hash == h:
                continue
            if old is not None:
                old.to_version = number
                removed_hashes.append(old.row_hash)
                changes[table]["changed"].append({"key": key, "before": old.data, "after": data})
            else:
                changes[table]["added"].append({"key": key, "data": data})
            session.add(MasterRow(table_name=table, key=key, org_id=org["id"], data=data,
                                  row_hash=h, from_version=number, to_version=None))
            added_hashes.append(h)
        for key, old in current.items():
            old.to_version = number
            removed_hashes.append(old.row_hash)
            changes[table]["removed"].append({"key": key, "data": old.data})
    restricted = emergency_contacts(payload["forms"])
    if restricted is not None:
        session.execute(delete(RestrictedContact).where(RestrictedContact.org_id == org["id"]))
        session.add_all(RestrictedContact(org_id=org["id"], priority=int(c["priority"]), data=c)
                        for c in restricted)
    head.number = number
    head.checksum = combine(head.checksum, added_hashes, removed_hashes)
    source = {"application_id": payload["application_id"], "number": payload["number"],
              "round": payload["round"], "org_id": org["id"]}
    version = MasterVersion(number=number, created_at=utcnow(), checksum=head.checksum,
                            sources=[source],
                            summary={t: {k: len(v) for k, v in c.items()}
                                     for t, c in changes.items()})
    session.add(version)
    session.add(Registration(application_id=payload["application_id"], round=payload["round"],
                             version=number))
    session.flush()
    ctx.plugins.hook.nws_master_published(version=describe_version(version),
                                          changes=dict(changes))
    ctx.emit(session, "intake", "application.status_changed", {
        "application_id": payload["application_id"], "round": payload["round"],
        "status": "registered", "event": "registered", "stage": None,
        "reviewer_org_id": None, "actor": None, "comment": f"マスタ版 {number} に登録されました。",
        "at": utcnow().isoformat(), "master_version": number})
    return version


def describe_version(version: MasterVersion) -> dict:
    return {"number": version.number, "created_at": version.created_at.isoformat(),
            "checksum": version.checksum, "sources": version.sources,
            "summary": version.summary}


def rows_at(session: Session, number: int, tables=None):
    """Every row of version ``number``: from_version ≤ number < to_version."""
    stmt = select(MasterRow).where(MasterRow.from_version <= number, or_(
        MasterRow.to_version.is_(None), MasterRow.to_version > number))
    if tables:
        stmt = stmt.where(MasterRow.table_name.in_(tables))
    return session.scalars(stmt.order_by(MasterRow.table_name, MasterRow.key))


def content(session: Session, number: int) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for row in rows_at(session, number):
        out[row.table_name].append({"key": row.key, "data": row.data})
    return dict(out)


def diff(session: Session, old: int, new: int) -> dict[str, dict[str, list]]:
    """Rows added, removed and changed between versions ``old`` and ``new``."""
    lo, hi = sorted((old, new))
    before = {(r.table_name, r.key): r for r in session.scalars(select(MasterRow).where(
        MasterRow.from_version <= lo, MasterRow.to_version > lo, MasterRow.to_version <= hi))}
    after = {(r.table_name, r.key): r for r in session.scalars(select(MasterRow).where(
        MasterRow.from_version > lo, MasterRow.from_version <= hi,
        or_(MasterRow.to_version.is_(None), MasterRow.to_version > hi)))}
    if old > new:
        before, after = after, before
    out: dict[str, dict[str, list]] = defaultdict(lambda: {"added": [], "removed": [],
                                                           "changed": []})
    for key in sorted(set(before) | set(after)):
        table, row_key = key
        b, a = before.get(key), after.get(key)
        if b is not None and a is not None:
            if b.row_hash != a.row_hash:
                out[table]["changed"].append({"key": row_key, "before": b.data, "after": a.data})
        elif a is not None:
            out[table]["added"].append({"key": row_key, "data": a.data})
        else:
            out[table]["removed"].append({"key": row_key, "data": b.data})
    return dict(out)
