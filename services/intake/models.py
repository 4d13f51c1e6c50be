"""Tables of the intake service: the organisation registry, applications, their forms
and history."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, event,
                        text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import make_base, utcnow
from shared.audit import AuditLogMixin
from shared.messaging import DeadLetterMixin, InboxMixin, OutboxMixin

Base = make_base("intake")


class Organisation(Base):
    """機関マスタ: an organisation that applies or reviews."""

    __tablename__ = "intake_organisations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # 都道府県, 政令指定都市, 特別区, 市, 町, 村, 一部事務組合, 広域連合,
    # 後期高齢者医療広域連合, 国の機関
    kind: Mapped[str] = mapped_column(String(40))
    # executive (首長部局), board_of_education (教育委員会), union, national
    branch: Mapped[str] = mapped_column(String(30))
    lg_code: Mapped[str | None] = mapped_column(String(6), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(40))
    can_apply: Mapped[bool] = mapped_column(default=True)
    # Operator-set attributes (registry.ATTRIBUTES keys).
    attributes: Mapped[dict] = mapped_column(default=dict)
    # Attributes read from the reference data on each load (e.g. health_center from the
    # list of 保健所設置市); an operator's value in ``attributes`` takes precedence.
    reference_attributes: Mapped[dict] = mapped_column(default=dict, server_default="{}")
    source: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def as_ref(self) -> dict:
        """The organisation as it travels in messages (contracts.OrgRef)."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "branch": self.branch,
                "prefecture_code": self.prefecture_code, "parent_id": self.parent_id}


class Application(Base):
    __tablename__ = "intake_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(20))          # connection | change
    status: Mapped[str] = mapped_column(String(30), index=True, default="draft")
    round: Mapped[int] = mapped_column(Integer, default=0)  # submissions so far
    stage: Mapped[str | None] = mapped_column(String(20))
    reviewer_org_id: Mapped[str | None] = mapped_column(String(40))
    # The organisations review routed the current round to, by stage ({stage: org id}),
    # as its status reports said: who besides the owner may read the attachments.
    routes: Mapped[dict | None]
    catalog_version: Mapped[str | None] = mapped_column(String(40))
    findings: Mapped[list] = mapped_column(default=list)
    master_version: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[dt.datetime | None]
    # set while a withdrawal sent to review awaits its answer (review owns the case)
    withdrawal_requested_at: Mapped[dt.datetime | None]

    forms: Mapped[list["FormEntry"]] = relationship(
        back_populates="application", order_by="FormEntry.code", lazy="selectin")
    history: Mapped[list["HistoryEntry"]] = relationship(
        back_populates="application", order_by="(HistoryEntry.at, HistoryEntry.id)",
        lazy="selectin")


class FormEntry(Base):
    """One form of an application, as the applicant last sent it."""

    __tablename__ = "intake_forms"
    __table_args__ = (UniqueConstraint("application_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"), index=True)
    code: Mapped[str] = mapped_column(String(10))
    data: Mapped[dict]
    source: Mapped[str] = mapped_column(String(10), default="json")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="validating")  # validating|valid|invalid
    findings: Mapped[list] = mapped_column(default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    application: Mapped[Application] = relationship(back_populates="forms")


class HistoryEntry(Base):
    """Who did what, when: every step of every round, never edited."""

    __tablename__ = "intake_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(30))
    stage: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[dict | None]
    org_id: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)

    application: Mapped[Application] = relationship(back_populates="history")


class Outbox(OutboxMixin, Base):
    __tablename__ = "intake_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "intake_inbox"


# --- Organisation registry extras, legal catalog, selection (issue 3) ---------------


class OrganisationMember(Base):
    """A member of an operator-registered 一部事務組合・広域連合."""

    __tablename__ = "intake_org_members"
    __table_args__ = (UniqueConstraint("union_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    union_id: Mapped[str] = mapped_column(ForeignKey("intake_organisations.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(40), index=True)


class OrganisationAudit(Base):
    """Who changed what in the registry, when (never edited)."""

    __tablename__ = "intake_org_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(40))      # registered | updated
    actor: Mapped[dict]
    before: Mapped[dict | None]
    after: Mapped[dict]


class CatalogVersion(Base):
    """One loaded version of the legal catalog (別表 + conditions + provider side).
    Same content gives the same version (``checksum``); the newest activated is current."""

    __tablename__ = "intake_catalog_versions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    checksum: Mapped[str] = mapped_column(String(64), unique=True)
    sources: Mapped[list]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class CatalogAffair(Base):
    """A row of the 番号法 別表 with its reviewed condition on organisations."""

    __tablename__ = "intake_catalog_affairs"
    __table_args__ = (UniqueConstraint("version_id", "item_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("intake_catalog_versions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    item_no: Mapped[str] = mapped_column(String(20))
    authority: Mapped[str] = mapped_column(Text)
    affair: Mapped[str] = mapped_column(Text)
    condition: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    # the individual procedures (手続) of the item, where the operator knows them
    procedures: Mapped[list | None]


class CatalogInfo(Base):
    """Provider side: a 特定個人情報 an organisation provides, for which 別表 items."""

    __tablename__ = "intake_catalog_info"
    __table_args__ = (UniqueConstraint("version_id", "info_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("intake_catalog_versions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    info_no: Mapped[str] = mapped_column(String(40))
    info_name: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(Text)
    item_nos: Mapped[list]
    note: Mapped[str] = mapped_column(Text, default="")


class Selection(Base):
    """The applicant's 申請前情報選択 of one application (DESIGN §7 "Selection")."""

    __tablename__ = "intake_selections"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"),
                                                unique=True)
    catalog_version: Mapped[str] = mapped_column(String(40))
    query_affairs: Mapped[list]
    provided_info: Mapped[list]
    # 独自利用事務 (条例連携) as notified to 個人情報保護委員会: [{case_no, affair}]
    independent_affairs: Mapped[list | None]
    updated_by: Mapped[dict]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@event.listens_for(Application, "before_insert")
def _stamp_catalog_version(_mapper, connection, target: Application) -> None:
    """Every application records the catalog version current when it was made."""
    if target.catalog_version is None:
        target.catalog_version = connection.execute(text(
            "SELECT id FROM intake_catalog_versions ORDER BY activated_at DESC, seq DESC "
            "LIMIT 1")).scalar()


# --- アカウント発行申請 (issue 5) -------------------------------------------------------

class AccountRequest(Base):
    """An account request filed without logging in. The request itself is an
    Application of kind "account" (same numbering, review and history); this row holds
    what only the requester may see: the hash of the receipt token and, once issued,
    the account's login and activation link."""

    __tablename__ = "intake_account_requests"

    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"),
                                                primary_key=True)
    receipt_token_hash: Mapped[str] = mapped_column(String(64))
    login: Mapped[str | None] = mapped_column(String(100))
    activation_token: Mapped[str | None] = mapped_column(String(100))
    activation_expires_at: Mapped[dt.datetime | None]
    issued_at: Mapped[dt.datetime | None]
    # what the operators' list searches and sorts (also in the request's form data)
    requested_login: Mapped[str | None] = mapped_column(String(100))
    requester_name: Mapped[str | None] = mapped_column(String(100))
    # every account issued: [{"login", "role", "activation_token", "expires_at"}]
    issued_accounts: Mapped[list | None]


# --- Workbook uploads and attachments (issue 4) ------------------------------------------

class Upload(Base):
    """An .xlsx the applicant uploaded: checked at the door (shared.upload_safety), read
    and validated by the ``upload.received`` task. The bytes are kept until the task has
    read them, then dropped (the forms it held are stored as form data)."""

    __tablename__ = "intake_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    # the .zip it came in (its name as posted), None for a workbook posted by itself
    archive: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="received")  # received|done|failed
    forms: Mapped[list] = mapped_column(default=list)        # codes found in the workbook
    findings: Mapped[list] = mapped_column(default=list)     # about the file itself
    uploaded_by: Mapped[dict]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]     # when a worker began reading it
    processed_at: Mapped[dt.datetime | None]


class Attachment(Base):
    """A document attached to an application (ordinance, rule, 規約, PIA report): PDF only.
    ``ref`` is what the forms name it by (添付資料ID, e.g. "A001")."""

    __tablename__ = "intake_attachments"
    __table_args__ = (UniqueConstraint("application_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"), index=True)
    ref: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[dict]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PrintPdf(Base):
    """The PDF of an application's print view, made by an intake task (services/intake/
    printing.py), one per ``revision``: the sha256 of the document it was made from, so
    any change to what the print view shows makes a new one."""

    __tablename__ = "intake_print_pdfs"
    __table_args__ = (UniqueConstraint("application_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"), index=True)
    revision: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|done|failed
    converter: Mapped[str | None] = mapped_column(String(20))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


# --- What each organisation has registered (change applications, issue 12) -------------

class RegisteredContent(Base):
    """What an organisation has registered: its forms as the master holds them (every
    registered application folded in, shared.rowops) and the selection of the last one.
    A 変更申請 starts from it and is checked against it; updated when the master reports
    a registration."""

    __tablename__ = "intake_registered"

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    forms: Mapped[dict]
    selection: Mapped[dict | None]
    application_id: Mapped[int] = mapped_column(Integer)
    master_version: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DeadLetter(DeadLetterMixin, Base):
    __tablename__ = "intake_dead_letters"


class AuditLog(AuditLogMixin, Base):
    """Every state-changing action in intake, chained by hash (shared.audit)."""

    __tablename__ = "intake_audit_log"


# --- Review decisions for the workbooks' reviewers' block (issue 13) ----------------------

class ReviewDecisionCopy(Base):
    """A reviewer's decision of one stage of one round, as review reported it
    (``application.status_changed`` with its ``decision``): what the reviewers' block
    (審査者記入欄) of the application's workbooks shows."""

    __tablename__ = "intake_review_decisions"
    __table_args__ = (UniqueConstraint("application_id", "round", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    reviewer_org_id: Mapped[str] = mapped_column(String(40))
    reviewer_org_name: Mapped[str] = mapped_column(String(200), default="")
    reviewer_department: Mapped[str] = mapped_column(String(100), default="")
    reviewer_name: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime]


# --- Deadlines for applicants (issue 13) -------------------------------------------------

class SchedulePhaseCopy(Base):
    """A phase of the operator's schedule as review last published it
    (``schedule.published``): dates are calendar days in Japan."""

    __tablename__ = "intake_schedule"

    phase: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    published_at: Mapped[dt.datetime]


class LateAllowance(Base):
    """An operator lets an organisation, or one application, act after the end of a
    phase (期限後の受付許可). Exactly one of ``org_id`` and ``application_id``."""

    __tablename__ = "intake_late_allowances"

    id: Mapped[int] = mapped_column(primary_key=True)
    phase: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[str | None] = mapped_column(String(40), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("intake_applications.id"),
                                                       index=True)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[dict]
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeadlineNotice(Base):
    """A deadline notice sent about an application never submitted (``before:<days>``
    or ``passed``, shared.deadlines): at most one per application, phase and notice."""

    __tablename__ = "intake_deadline_notices"
    __table_args__ = (UniqueConstraint("application_id", "phase", "notice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"))
    phase: Mapped[str] = mapped_column(String(40))
    notice: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
