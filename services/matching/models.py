"""Tables of the matching service: the delegation records of submitted applications."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, utcnow
from shared.audit import AuditLogMixin
from shared.messaging import DeadLetterMixin, InboxMixin, OutboxMixin

Base = make_base("matching")


class DelegationRecord(Base):
    """One row of 様03-08 as the applicant declared it.

    kind: query (情報照会事務の委任, filed by the delegatee), provision_delegation
    ((2) filed by the 委任元), provision_acceptance ((3) filed by the 委任先).
    status is derived from findings (see services.matching.rules.status_of); detail is
    the message of the worst finding.
    """

    __tablename__ = "matching_records"
    # Lookups by organisation and item (an item number alone is shared nationwide).
    __table_args__ = (Index("ix_matching_records_org_item", "org_id", "item"),
                      Index("ix_matching_records_counterpart_item", "counterpart", "item"))

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(Integer, index=True)
    round: Mapped[int] = mapped_column(Integer)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    item: Mapped[str] = mapped_column(String(40), index=True)
    counterpart: Mapped[str | None] = mapped_column(String(40), index=True)
    data: Mapped[dict]
    status: Mapped[str] = mapped_column(String(30), default="pending")
    detail: Mapped[str | None] = mapped_column(String(400))
    findings: Mapped[list | None]
    fingerprint: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DelegationEdge(Base):
    """One step ``from_org → to_org`` of a delegation of ``item``, as one record declares
    it (``declared_by`` filed the record). family: query (別表 affairs) or provision
    (特定個人情報); the two number spaces never meet."""

    __tablename__ = "matching_edges"
    __table_args__ = (Index("ix_matching_edges_family_item_from", "family", "item", "from_org"),
                      Index("ix_matching_edges_family_item_to", "family", "item", "to_org"))

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("matching_records.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int] = mapped_column(Integer, index=True)
    family: Mapped[str] = mapped_column(String(20))
    item: Mapped[str] = mapped_column(String(40))
    from_org: Mapped[str] = mapped_column(String(40))
    to_org: Mapped[str] = mapped_column(String(40))
    article: Mapped[str] = mapped_column(String(200), default="")
    rule_title: Mapped[str] = mapped_column(String(200), default="")
    declared_by: Mapped[str] = mapped_column(String(40))


class Confirmation(Base):
    """A 委任情報確認依頼: one 委任元 asked to confirm one 情報照会 delegation record.

    status: pending, confirmed or disputed (with a reason). An answer carries over to the
    next round of the same application while what was confirmed (``fingerprint``) is
    unchanged."""

    __tablename__ = "matching_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("matching_records.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int] = mapped_column(Integer, index=True)
    delegatee_org: Mapped[str] = mapped_column(String(40))
    delegator_org: Mapped[str] = mapped_column(String(40), index=True)
    item: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str | None] = mapped_column(String(1000))
    answered_by: Mapped[dict | None]
    answered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # what the list of requests searches and sorts: the delegatee's application number
    # and name (from the round's payload) and the affair (from the record)
    number: Mapped[str | None] = mapped_column(String(40))
    delegatee_name: Mapped[str | None] = mapped_column(String(200))
    affair: Mapped[str | None] = mapped_column(String(400))


class MatchedApplication(Base):
    """An application whose delegation records this service holds (possibly none)."""

    __tablename__ = "matching_applications"

    application_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    round: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="active",
                                        server_default="active")
    withdrawn_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Results reported to review so far: each report carries the next number (``seq``).
    reports: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A 変更申請's records replace those of the organisation's registered application
    # (status ``superseded`` while the change is pending); the change keeps their ids
    # here, and each application its last payload, so a withdrawn change gives the
    # registered records back.
    supersedes: Mapped[list | None]
    payload: Mapped[dict | None]


class Outbox(OutboxMixin, Base):
    __tablename__ = "matching_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "matching_inbox"


class DeadLetter(DeadLetterMixin, Base):
    __tablename__ = "matching_dead_letters"


class AuditLog(AuditLogMixin, Base):
    """Every state-changing action in matching, chained by hash (shared.audit)."""

    __tablename__ = "matching_audit_log"
