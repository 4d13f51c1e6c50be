"""Tables of the master service: versioned master rows, versions and registrations.

Rows are stored once and carry the range of versions they belong to
(``from_version`` ≤ N < ``to_version``), so a registration touches only the rows it
changes, and any version can be read whole or diffed against another.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, utcnow
from shared.audit import AuditLogMixin
from shared.messaging import DeadLetterMixin, InboxMixin, OutboxMixin

Base = make_base("master")


PUBLICATION_MODES = ("immediate", "batched")


class MasterHead(Base):
    """The single row that serialises registrations: the newest version, its checksum
    and the publication mode (``immediate``: each registration is a version;
    ``batched``: registrations wait as 整備 until an operator publishes them, 配信)."""

    __tablename__ = "master_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, default=0)
    checksum: Mapped[str] = mapped_column(String(64), default="0" * 64)
    mode: Mapped[str] = mapped_column(String(16), default="immediate",
                                      server_default="immediate")


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
        Index("ix_master_rows_org_current", "org_id", "to_version"),
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


class RestrictedSelfCheck(Base):
    """様02-06 安全管理措置確認結果 of an organisation, as last approved: read by 総務省 and
    operators only; never published, exported or versioned."""

    __tablename__ = "master_restricted_self_checks"

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[dict]
    application_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MatchingUpdate(Base):
    """The newest matching status matching reported for a delegation row of an
    organisation; applied to the registered row (if any, and if it differs) when the next
    version is made, then removed."""

    __tablename__ = "master_matching_updates"

    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PendingRegistration(Base):
    """An approved application round waiting, in batched mode, for the next 配信.

    ``payload`` is the approved content as received (including 緊急連絡先, which are
    applied to the restricted table at publication): it is never shown by the API."""

    __tablename__ = "master_pending"
    __table_args__ = (UniqueConstraint("application_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    payload: Mapped[dict]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


SUBSCRIPTION_MODES = ("snapshot", "diff")


class Subscriber(Base):
    """A system that receives the master (interface systems, 中間サーバー, ...)."""

    __tablename__ = "master_subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    mode: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    acked_version: Mapped[int | None] = mapped_column(Integer)
    acked_at: Mapped[dt.datetime | None]


DELIVERY_STATES = ("pending", "delivered", "failed", "superseded", "cancelled")


class Delivery(Base):
    """One master version owed to one subscriber (one master-queue task)."""

    __tablename__ = "master_deliveries"
    __table_args__ = (UniqueConstraint("subscriber_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("master_subscribers.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAttempt(Base):
    """The delivery log: every POST made to a subscriber and its outcome."""

    __tablename__ = "master_delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("master_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    message_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))             # snapshot | diff
    base_version: Mapped[int | None] = mapped_column(Integer)  # diff: from this version
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class Outbox(OutboxMixin, Base):
    __tablename__ = "master_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "master_inbox"


class DeadLetter(DeadLetterMixin, Base):
    __tablename__ = "master_dead_letters"


class AuditLog(AuditLogMixin, Base):
    """Every state-changing action in master, chained by hash (shared.audit)."""

    __tablename__ = "master_audit_log"
