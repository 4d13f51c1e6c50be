"""Tables of the review service: review cases (one per application round), decisions
and the matching results received for them."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import make_base, utcnow
from shared.messaging import InboxMixin, OutboxMixin

Base = make_base("review")


class ReviewCase(Base):
    """One round of one application under review, with everything reviewers see."""

    __tablename__ = "review_cases"
    __table_args__ = (UniqueConstraint("application_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(Integer, index=True)
    round: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    org: Mapped[dict]
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6), index=True)
    # forwarding | primary_review | secondary_review | returned | approved | withdrawn
    status: Mapped[str] = mapped_column(String(30), index=True)
    stage: Mapped[str | None] = mapped_column(String(20))
    reviewer_org_id: Mapped[str | None] = mapped_column(String(40), index=True)
    routes: Mapped[dict] = mapped_column(default=dict)  # stage -> {org_id, reason}
    catalog_version: Mapped[str | None] = mapped_column(String(40))
    forms: Mapped[dict]
    findings: Mapped[list] = mapped_column(default=list)
    submitted_by: Mapped[dict]
    submitted_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stage_started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    decisions: Mapped[list["Decision"]] = relationship(
        back_populates="case", order_by="Decision.id", lazy="selectin")


class Decision(Base):
    """承認 or 否認 at one stage. Never edited: one row per case and stage."""

    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("case_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    reviewer_org_id: Mapped[str] = mapped_column(String(40))
    reviewer_login: Mapped[str] = mapped_column(String(100))
    reviewer_name: Mapped[str] = mapped_column(String(100))
    reviewer_department: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[ReviewCase] = relationship(back_populates="decisions")


class MatchingSnapshot(Base):
    """The latest matching results reported for an application."""

    __tablename__ = "review_matching"

    application_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round: Mapped[int] = mapped_column(Integer)
    records: Mapped[list]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Outbox(OutboxMixin, Base):
    __tablename__ = "review_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "review_inbox"
