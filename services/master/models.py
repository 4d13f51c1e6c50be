"""Tables of the master service: versioned master rows, versions and registrations.

Rows are stored once and carry the range of versions they belong to
(``from_version`` ≤ N < ``to_version``), so a registration touches only the rows it
changes, and any version can be read whole or diffed against another.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, utcnow
from shared.messaging import InboxMixin, OutboxMixin

Base = make_base("master")


class MasterHead(Base):
    """The single row that serialises registrations: the newest version and checksum."""

    __tablename__ = "master_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, default=0)
    checksum: Mapped[str] = mapped_column(String(64), default="0" * 64)


class MasterVersion(Base):
    __tablename__ = "master_versions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    checksum: Mapped[str] = mapped_column(String(64))
    sources: Mapped[list]          # [{application_id, number, round, org_id}]
    summary: Mapped[dict]          # {table: {added, removed, changed}}


class MasterRow(Base):
    __tablename__ = "master_rows"
    __table_args__ = (
        Index("ix_master_rows_current", "table_name", "org_id", "to_version"),
        Index("ix_master_rows_from", "from_version"),
        Index("ix_master_rows_to", "to_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(120))
    org_id: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict]
    row_hash: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)


class Registration(Base):
    """One approved application round registered into the master (once)."""

    __tablename__ = "master_registrations"
    __table_args__ = (UniqueConstraint("application_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RestrictedContact(Base):
    """緊急連絡先: kept for the operator, never published, exported or versioned."""

    __tablename__ = "master_restricted_contacts"
    __table_args__ = (UniqueConstraint("org_id", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    priority: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Outbox(OutboxMixin, Base):
    __tablename__ = "master_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "master_inbox"
