"""Tables of the review service: review cases (one per application round), decisions,
the matching results received for them, the review-side history, the schedule of
phases with its reminders, and the webhooks of reviewer systems."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import make_base, utcnow
from shared.audit import AuditLogMixin
from shared.messaging import DeadLetterMixin, InboxMixin, OutboxMixin

Base = make_base("review")


class ReviewCase(Base):
    """One round of one application under review, with everything reviewers see."""

    __tablename__ = "review_cases"
    __table_args__ = (
        UniqueConstraint("application_id", "round"),
        # the queue's pages (services.review.queue): a reviewer's current cases in
        # order, and everyone's cases in order
        Index("ix_review_cases_reviewer_stage_since", "reviewer_org_id", "stage",
              "stage_started_at"),
        Index("ix_review_cases_since", "stage_started_at", "id"),
        # the queue's other sort orders
        Index("ix_review_cases_number", "number"),
        Index("ix_review_cases_org_name", "org_name"),
        Index("ix_review_cases_submitted", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(Integer, index=True)
    round: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    org: Mapped[dict]
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6), index=True)
    # what the queue searches and filters in SQL: the organisation's name, and the form
    # codes of ``forms`` as "|02-01|03-08|" (set with them, ``search_columns``)
    org_name: Mapped[str] = mapped_column(String(200), default="")
    form_codes: Mapped[str] = mapped_column(String(400), default="|")
    # forwarding | primary_review | secondary_review | returned | approved | withdrawn,
    # or unroutable (振分けできません: no router could name the reviewer of ``stage``;
    # an operator re-routes it, services.review.cases.reroute)
    status: Mapped[str] = mapped_column(String(30), index=True)
    stage: Mapped[str | None] = mapped_column(String(20))
    reviewer_org_id: Mapped[str | None] = mapped_column(String(40), index=True)
    routes: Mapped[dict] = mapped_column(default=dict)  # stage -> {org_id, reason}
    # Why the case is unroutable: {stage, plugin (None: no router decided), problem, at,
    # correlation_id}; None when it is not.
    routing_problem: Mapped[dict | None]
    catalog_version: Mapped[str | None] = mapped_column(String(40))
    forms: Mapped[dict]
    findings: Mapped[list] = mapped_column(default=list)
    # The application's attachments as intake listed them at submission (attachments
    # cannot change while the application is under review); the files stay in intake.
    attachments: Mapped[list | None]
    submitted_by: Mapped[dict]
    submitted_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stage_started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    decisions: Mapped[list["Decision"]] = relationship(
        back_populates="case", order_by="Decision.id", lazy="selectin")

    def search_columns(self) -> None:
        """Fill ``org_name`` and ``form_codes`` from ``org`` and ``forms``."""
        self.org_name = str((self.org or {}).get("name") or "")[:200]
        self.form_codes = ("|" + "|".join(sorted(self.forms or {})) + "|")[:400]


class Decision(Base):
    """承認 or 否認 at one stage. Never edited: one row per case and stage."""

    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("case_id", "stage"),
                      # the queue's "decided by my organisation" scope
                      Index("ix_review_decisions_reviewer_case", "reviewer_org_id", "case_id"))

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
    # 総務省's approval despite unresolved 突合: the records acknowledged (None: none were)
    acknowledged_matching: Mapped[list | None]

    case: Mapped[ReviewCase] = relationship(back_populates="decisions")


class MatchingSnapshot(Base):
    """The latest matching results reported for an application."""

    __tablename__ = "review_matching"

    application_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    records: Mapped[list]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReviewEvent(Base):
    """What happened to an application in review, every round: routed, decided,
    returned, withdrawn, overdue... Never edited (intake keeps the applicant's side)."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(Integer, index=True)
    round: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(30))
    stage: Mapped[str | None] = mapped_column(String(20))
    org_id: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[dict | None]
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KnownOrganisation(Base):
    """An organisation id of intake's registry, as intake last announced it
    (``organisations.directory``): a router naming any other organisation is at fault.
    ``name`` is the registry's name (None from a directory sent without names): what
    the pages show beside the code."""

    __tablename__ = "review_known_orgs"

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    generated_at: Mapped[dt.datetime]


class SchedulePhase(Base):
    """One phase of the operator's schedule (e.g. 一次審査 until 2027-03-31)."""

    __tablename__ = "review_schedule"

    phase: Mapped[str] = mapped_column(String(40), primary_key=True)
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Reminder(Base):
    """An overdue reminder sent for a case at a stage: at most one per case and stage."""

    __tablename__ = "review_reminders"
    __table_args__ = (UniqueConstraint("case_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    due_on: Mapped[dt.date] = mapped_column(Date)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeadlineNotice(Base):
    """A deadline notice sent to the applicant of a returned case (``before:<days>`` or
    ``passed``): at most one per case, round, phase and notice."""

    __tablename__ = "review_deadline_notices"
    __table_args__ = (UniqueConstraint("case_id", "round", "phase", "notice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(30))
    notice: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    """A reviewer system's endpoint: the events of its organisation's cases it wants."""

    __tablename__ = "review_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    secrets: Mapped[list["WebhookSecret"]] = relationship(
        back_populates="endpoint", order_by="WebhookSecret.id", lazy="selectin")


class WebhookSecret(Base):
    """A signing secret of an endpoint; several are active during a rotation."""

    __tablename__ = "review_webhook_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("review_webhooks.id"), index=True)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="secrets")


class WebhookDelivery(Base):
    """One event for one endpoint. Its id is the ``webhook-id`` (the same on every
    retry and redelivery, so receivers can deduplicate)."""

    __tablename__ = "review_webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("review_webhooks.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict]
    # pending | sending | retrying | delivered | failed
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]

    log: Mapped[list["WebhookAttempt"]] = relationship(
        order_by="WebhookAttempt.id", lazy="selectin")


class WebhookAttempt(Base):
    """One HTTP POST of a delivery and its outcome."""

    __tablename__ = "review_webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("review_webhook_deliveries.id"),
                                             index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class Outbox(OutboxMixin, Base):
    __tablename__ = "review_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "review_inbox"


class DeadLetter(DeadLetterMixin, Base):
    __tablename__ = "review_dead_letters"


class AuditLog(AuditLogMixin, Base):
    """Every state-changing action in review, chained by hash (shared.audit)."""

    __tablename__ = "review_audit_log"
